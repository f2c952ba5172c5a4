"""Pure functions that build the Keras network and its initial state. No scikit-learn here.

A network's *architecture* (:class:`NetworkSpec`) is what a compiled training program depends
on. Everything else a fit can change (the penalties, the dropout rates, the learning rate) is
a value the program reads at run time: the dropout layers keep their rate in a variable, so one
compiled program serves every rate.

Initial weights are drawn in NumPy (:func:`initial_state`), not by Keras' initializers: they are
the same on every backend, and on JAX no small program is compiled for each new layer shape
(which, in a search over many widths, held about 9 MB per new width).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np

from .._specs import NetworkSpec, NetworkState, OptimizerState, child_seed
from ._front import TableFront
from ._penalty import kernel_penalty
from ._random import drawn, uniform

# The losses skreg trains with, on the output layer's linear predictor (:func:`linear_outputs`).
# From the logits, the cross-entropy needs no clipping and is the same on every backend. Keras'
# loss on probabilities clips them to [1e-7, 1 - 1e-7] on JAX, where a row whose class falls
# below 1e-7 sends no gradient (issue 11: learning_rate=1e6 on iris sat at loss 7.3, chance
# accuracy, for good), while on TensorFlow it quietly used the logits.
LOSSES: dict[str, Callable[[Any, Any], Any]] = {
    "categorical_crossentropy": lambda y, logits: keras.losses.categorical_crossentropy(
        y, logits, from_logits=True
    ),
    "mean_squared_error": keras.losses.mean_squared_error,
    # With the log link, from the linear predictor eta = log(mu): mu - y * eta per target.
    "poisson": lambda y, eta: keras.ops.mean(keras.ops.exp(eta) - y * eta, axis=-1),
}


# The starting slope of activation="prelu" for negative inputs (He et al. 2015).
PRELU_SLOPE = 0.25


def build_network(
    spec: NetworkSpec,
    dropout: Sequence[float] | None = None,
    penalty: tuple[float, float] = (0.0, 0.0),
) -> keras.Model:
    """Build the multilayer perceptron described by ``spec``.

    Each hidden block is ``Dense -> [BatchNormalization] -> activation -> Dropout``; the
    output is ``Dense`` (named ``output``), then the output activation if there is one. Every
    hidden block has a dropout layer, whose rate (``dropout``, 0 by default) is a variable, so
    the same architecture serves every rate. The weights are placeholders until
    :func:`set_state` gives them values.

    ``penalty`` (``l1``, ``l2``) attaches a :class:`~skreg._engine._penalty.Penalty` to the
    dense kernels. skreg trains with the penalty as a run-time input of its compiled programs;
    the regularizer only makes an exported model describe (and, trained further in Keras,
    keep) its penalty.
    """
    rates = tuple(dropout) if dropout is not None else (0.0,) * len(spec.hidden_layer_sizes)
    dense = {
        "kernel_initializer": _HostFill(0.0),
        "bias_initializer": _HostFill(0.0),
        "kernel_regularizer": kernel_penalty(*penalty),
    }
    inputs = keras.Input(shape=(spec.n_features,), name="features")
    x = inputs if spec.front is None else TableFront(spec.front, name="front")(inputs)
    for i, (units, rate) in enumerate(zip(spec.hidden_layer_sizes, rates)):
        x = keras.layers.Dense(units, **dense, name=f"hidden_{i}")(x)
        if spec.batch_normalization:
            x = keras.layers.BatchNormalization(**_HOST_BATCH_NORM, name=f"batch_norm_{i}")(x)
        if spec.activation == "prelu":  # a learned slope for negative inputs, per unit
            x = keras.layers.PReLU(alpha_initializer=_HostFill(0.0), name=f"activation_{i}")(x)
        else:
            x = keras.layers.Activation(spec.activation, name=f"activation_{i}")(x)
        x = Dropout(rate, name=f"dropout_{i}")(x)
    outputs = keras.layers.Dense(spec.n_outputs, **dense, name="output")(x)
    if spec.output_activation is not None:
        outputs = keras.layers.Activation(spec.output_activation, name="output_activation")(
            outputs
        )
    return keras.Model(inputs, outputs, name="regularized_mlp")


def linear_outputs(network: keras.Model) -> keras.Model:
    """``network`` up to its output layer's linear predictor (the logits), sharing its
    variables in the same order, so the same state runs both."""
    return keras.Model(network.input, network.get_layer("output").output)


def initial_state(
    network: keras.Model,
    dropout: Sequence[float],
    seeds: np.random.SeedSequence,
    training: tuple[np.ndarray, np.ndarray] | None = None,
) -> NetworkState:
    """Fresh weights for ``network``: Glorot-uniform kernels, zero biases, unit BN scales.

    PReLU slopes start at :data:`PRELU_SLOPE`. Each kernel and each dropout layer gets its
    own seed from ``seeds``, so the state is a
    deterministic function of the architecture, the rates and the seed sequence. A table
    front (:mod:`._front`) draws its own values from a third stream, and zeroes the
    embedding vectors of the codes that no ``training`` row holds.
    """
    rates = iter(dropout)
    values: dict[int, np.ndarray] = {}
    kernel_seeds, dropout_seeds = seeds.spawn(2)
    for layer in network.layers:
        if isinstance(layer, TableFront):
            rng = np.random.default_rng(seeds.spawn(1)[0])
            values.update(layer.initial_values(rng, training))
        if isinstance(layer, keras.layers.Dense):
            fan_in, fan_out = layer.kernel.shape
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            rng = np.random.default_rng(kernel_seeds.spawn(1)[0])
            values[id(layer.kernel)] = rng.uniform(-limit, limit, (fan_in, fan_out))
            values[id(layer.bias)] = np.zeros(fan_out)
        elif isinstance(layer, keras.layers.BatchNormalization):
            for name, fill in (
                ("gamma", 1),
                ("beta", 0),
                ("moving_mean", 0),
                ("moving_variance", 1),
            ):
                variable = getattr(layer, name)
                values[id(variable)] = np.full(variable.shape, fill)
        elif isinstance(layer, keras.layers.PReLU):
            values[id(layer.alpha)] = np.full(layer.alpha.shape, PRELU_SLOPE)
        elif isinstance(layer, Dropout):
            values[id(layer.rate_variable)] = np.asarray(next(rates))
            values[id(layer.seed_generator.state)] = np.array([child_seed(dropout_seeds), 0])
    return NetworkState(
        trainable=_in_order(network.trainable_variables, values),
        non_trainable=_in_order(network.non_trainable_variables, values),
    )


def with_dropout(
    network: keras.Model, state: NetworkState, dropout: Sequence[float]
) -> NetworkState:
    """``state`` with the dropout rates set to ``dropout`` (weights unchanged)."""
    rates = iter(dropout)
    replaced = {
        id(layer.rate_variable): np.asarray(next(rates))
        for layer in network.layers
        if isinstance(layer, Dropout)
    }
    non_trainable = tuple(
        _as_dtype(replaced[id(v)], v) if id(v) in replaced else value
        for v, value in zip(network.non_trainable_variables, state.non_trainable)
    )
    return NetworkState(state.trainable, non_trainable)


def set_state(network: keras.Model, state: NetworkState) -> None:
    """Assign ``state`` to the variables of ``network``."""
    for variables, values in (
        (network.trainable_variables, state.trainable),
        (network.non_trainable_variables, state.non_trainable),
    ):
        for variable, value in zip(variables, values, strict=True):
            variable.assign(_as_dtype(value, variable))


def export_model(
    spec: NetworkSpec,
    state: NetworkState,
    penalty: tuple[float, float],
    loss: str,
    optimizer: OptimizerState,
) -> keras.Model:
    """A compiled Keras model holding ``state``, for use outside skreg.

    The dense kernels carry the :class:`~skreg._engine._penalty.Penalty` of ``penalty``, the
    dropout layers their rates (which the state holds) and the optimizer its trained state
    (learning rate included), so ``model.losses`` shows the penalty and further Keras
    training continues where skreg stopped.
    """
    model = build_network(spec, penalty=penalty)
    set_state(model, state)
    for layer in model.layers:
        if isinstance(layer, Dropout):  # the config shows the rate its float32 variable holds
            rate = keras.ops.convert_to_numpy(keras.ops.copy(layer.rate_variable))
            layer.rate = float(str(np.float32(rate)))  # 0.1, not 0.10000000149011612
    # The trained optimizer: its run-time settings as numbers, its slots as trained.
    trained = make_optimizer(optimizer.name, 1e-3)
    trained.build(model.trainable_variables)
    names = [v.name for v in trained.variables]
    settings = {
        n: float(np.asarray(v)) for n, v in zip(names, optimizer.values) if n in RUN_TIME_SETTINGS
    }
    learning_rate = float(np.asarray(optimizer.values[names.index("learning_rate")]))
    model.compile(optimizer=make_optimizer(optimizer.name, learning_rate, settings), loss=loss)
    model.optimizer.build(model.trainable_variables)
    values = [v for n, v in zip(names, optimizer.values) if n not in RUN_TIME_SETTINGS]
    for variable, value in zip(model.optimizer.variables, values, strict=True):
        variable.assign(_as_dtype(value, variable))
    own_memory(model)
    return model


def own_memory(model: keras.Model) -> None:
    """On JAX, put each variable of ``model`` and of its optimizer in memory of its own.

    Keras' JAX predict and fit donate the variables to their compiled steps. A value set from
    a NumPy array (as :func:`keras.models.load_model` and :func:`set_state` do) can share
    that array's memory, and JAX before 0.6 then let the memory go during the first steps:
    later batches read garbage (seen on 0.4.31 and 0.5.3, not on 0.6). A copy made by JAX
    owns its memory.
    """
    if keras.backend.backend() != "jax":
        return
    import jax.numpy as jnp

    optimizer = getattr(model, "optimizer", None)
    for variable in [*model.variables, *getattr(optimizer, "variables", ())]:
        variable.assign(jnp.copy(variable.value))


# The optimizer's settings a fit gives at run time, by Keras' attribute names: variables of the
# optimizer in training programs (so a grid over them compiles nothing new), numbers in an
# exported model (whose configuration must serialize).
RUN_TIME_SETTINGS = ("beta_1", "beta_2", "epsilon", "rho", "weight_decay")
# Weight decay applies to the dense kernels only (as RealMLP: not to biases, normalization,
# scales, embeddings or PReLU's slopes): the variables whose names hold these are left out.
_NO_WEIGHT_DECAY = ["bias", "gamma", "beta", "scale", "frequency", "phase", "projection",
                    "offset", "embedding", "alpha"]  # fmt: skip


def make_optimizer(
    name: str, learning_rate: float, settings: dict[str, float] | None = None
) -> keras.optimizers.Optimizer:
    """Instantiate a Keras optimizer by name with the given learning rate.

    Without ``settings``, its :data:`RUN_TIME_SETTINGS` that it has become variables (weight
    decay always, 0 when the optimizer has none); with them, they are numbers set from
    ``settings``, as an exported model needs.

    Its slot variables (moments, accumulators) are filled on the host: Keras fills them on the
    device, which on JAX compiles one small program per new variable shape (measured: Adam's
    slots for digits' (100,) network took 0.14 s to build, 0.002 s filled on the host).
    """
    # Keras numbers a process's optimizers ("adam", "adam_1", ...) and the name reaches the
    # traced program's operation names; one fixed name keeps the program, and the key of its
    # entry in TensorFlow's compilation cache, the same whatever was built before it. (Built
    # from its name and settings, not from a template's get_config, which reads the
    # learning-rate variable through a NumPy call that NumPy 2 deprecates.)
    config = {"learning_rate": learning_rate, "name": name.lower(), **(settings or {})}
    optimizer = keras.optimizers.get({"class_name": name, "config": config})
    if settings is None:
        for setting in RUN_TIME_SETTINGS:
            value = getattr(optimizer, setting, None)
            if setting == "weight_decay":
                value = value or 0.0
            if isinstance(value, float | int) and not isinstance(value, bool):
                setattr(optimizer, setting, optimizer.add_variable(
                    shape=(), initializer=_HostFill(float(value)), name=setting
                ))  # fmt: skip
    optimizer.exclude_from_weight_decay(var_names=_NO_WEIGHT_DECAY)
    add_slot = optimizer.add_variable_from_reference

    def add_host_filled_slot(reference_variable, name=None, initializer="zeros"):
        if isinstance(initializer, str) and initializer == "zeros":
            initializer = _HostFill(0.0)
        elif isinstance(initializer, keras.initializers.Constant):
            initializer = _HostFill(initializer.value)
        return add_slot(reference_variable, name, initializer)

    optimizer.add_variable_from_reference = add_host_filled_slot
    return optimizer


def kernels(network: keras.Model, trainable: Sequence[Any]) -> list[Any]:
    """The entries of ``trainable`` (values in the network's order) that are dense kernels."""
    ids = {id(layer.kernel) for layer in network.layers if isinstance(layer, keras.layers.Dense)}
    return [value for v, value in zip(network.trainable_variables, trainable) if id(v) in ids]


def _in_order(variables: list[Any], values: dict[int, np.ndarray]) -> tuple[np.ndarray, ...]:
    return tuple(_as_dtype(values[id(v)], v) for v in variables)


def _as_dtype(value: np.ndarray, variable: Any) -> np.ndarray:
    return np.asarray(value, dtype=keras.backend.standardize_dtype(variable.dtype))


@keras.saving.register_keras_serializable(package="skreg")
class _HostFill(keras.initializers.Initializer):
    """A constant fill made in NumPy: no device program is compiled for the shape."""

    def __init__(self, value: float) -> None:
        self.value = value

    def __call__(self, shape: Any, dtype: Any = None) -> np.ndarray:
        return np.full(shape, self.value, dtype=keras.backend.standardize_dtype(dtype))

    def get_config(self) -> dict[str, Any]:
        return {"value": self.value}


_HOST_BATCH_NORM = {
    "beta_initializer": _HostFill(0.0),
    "gamma_initializer": _HostFill(1.0),
    "moving_mean_initializer": _HostFill(0.0),
    "moving_variance_initializer": _HostFill(1.0),
}


@keras.saving.register_keras_serializable(package="skreg")
class Dropout(keras.layers.Dropout):
    """Keras' inverted dropout, with the rate in a variable and the mask drawn by skreg.

    Same semantics as :class:`keras.layers.Dropout`: in training, each value is zeroed with
    probability ``rate`` and the survivors are scaled by ``1 / (1 - rate)``; at inference it is
    the identity. The rate lives in a non-trainable variable, so a compiled training program
    takes it as a run-time input, and the mask is drawn by :func:`skreg._random.uniform`
    (Keras' own draw is slow under XLA on CPU).
    """

    def __init__(self, rate: float = 0.0, seed: int | None = None, **kwargs: Any) -> None:
        # Keras' Dropout makes a generator only for a positive rate, and one with no seed
        # draws it from Python's global random module. Every rate needs the same variables
        # here, so Keras sets the layer up at rate 0 and the layer makes its own generator,
        # with an explicit placeholder seed (every fit sets its state).
        super().__init__(0.0, seed=seed, **kwargs)
        self.rate = rate  # checked with the estimator's parameters
        self.seed_generator = keras.random.SeedGenerator(0 if seed is None else seed)

    def build(self, input_shape: Any) -> None:
        self.rate_variable = self.add_weight(
            shape=(), initializer=_HostFill(self.rate), trainable=False, name="rate"
        )
        super().build(input_shape)

    def call(self, inputs: Any, training: bool = False) -> Any:
        if not training:
            return inputs
        ops = keras.ops
        rate = ops.cast(self.rate_variable, inputs.dtype)
        seed = drawn(self.seed_generator)

        def drop() -> Any:
            keep = uniform(ops.shape(inputs), seed) >= rate
            return ops.where(keep, inputs / (1.0 - rate), ops.zeros_like(inputs))

        # The same compiled program serves every rate; a rate of 0 skips the draw.
        return ops.cond(rate > 0, drop, lambda: inputs)
