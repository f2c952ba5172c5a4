"""A compiled training program: one per network, shared by every fit of it.

Measured before this design (2-core machine, issue 9): each new training-set row count and
each new dropout rate or noise level compiled the training epoch again (1-4 s each). So a
:class:`Program` is compiled for a network (:class:`~skreg._specs.ProgramKey`: layer widths,
activation, batch normalization, augmentation kinds, optimizer, loss), and everything else is
a run-time input: the penalties, dropout rates and augmentation strengths (variables of the
network and augmenter), the learning rate (a variable of the optimizer) and the data, padded
to a few shapes (:mod:`skreg._training`). One program serves every fold and grid point.

What a fit computes is written once, here: the loss of a batch (:func:`objective`), the
learning-rate schedule (:func:`scheduled_rate`), and the epochs of a call with early stopping
inside them (:meth:`Program._trace_epochs`, in the manner of skorch's ``run_single_epoch``
-> ``train_step`` -> ``get_loss``). A backend (:mod:`._jax`, :mod:`._tensorflow`) only says
how a step applies its gradients, how it keeps the best weights, where a fit's state lives
while it runs (JAX: values threaded through the compiled functions; TensorFlow: the
program's variables), and how a function is compiled and called.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import keras
import numpy as np

from .._specs import (
    Continue,
    EarlyStopping,
    NetworkState,
    OptimizerState,
    ProgramKey,
    ScheduleClock,
    TrainingRequest,
)
from ._augmenters import build_augmenter
from ._front import levels as front_levels
from ._network import (
    LOSSES,
    RUN_TIME_SETTINGS,
    Dropout,
    build_network,
    initial_state,
    kernels,
    linear_outputs,
    make_optimizer,
    with_dropout,
)
from ._penalty import Penalty

# Predict inputs are cut into chunks of exactly this many rows (the last one padded), so the
# forward pass is compiled once per network and a row's prediction is bitwise the same
# whatever other rows it is predicted with. With chunks padded to powers of two (64 to 8192
# rows, one compiled shape each), XLA picked different matrix kernels per shape and a row's
# probability moved by up to 9e-8 between shapes, on both backends. Measured on digits
# (2 cores, /tmp scripts): 512-row chunks predict one row in 1.6-2.2 ms (1.3-1.9 ms before) and
# 100,000 rows in 0.22 s (JAX) to 0.33 s (TensorFlow) against 0.10-0.12 s, and a new input
# size no longer compiles again (50-150 ms each).
PREDICT_CHUNK = 512
# "adaptive" divides the learning rate by 5 at each plateau of the training loss, as
# scikit-learn's MLPs do.
ADAPTIVE_FACTOR = 0.2


def objective(
    program: Program, trainable, non_trainable, x, y, w, penalty, training=True, smoothing=0.0,
    levels=None,
):  # fmt: skip
    """A batch's loss: the weighted mean data loss plus ``l1 * sum|W| + l2 * sum W**2``.

    The data loss is computed from the output layer's linear predictor (for the classifier,
    the logits), see :data:`skreg._engine._network.LOSSES`. The classifier's targets are
    smoothed by ``smoothing``: ``(1 - smoothing) * y + smoothing / n_classes``, as Keras'
    ``label_smoothing``.

    ``levels``: a training step's ``(table, codes)`` of distinct numeric values, for the
    periodic embeddings (:func:`._front.level_codes`); a table with no values, or None,
    embeds every row.

    The one definition of what skreg minimizes, on every backend. Returns the loss and the
    network's updated non-trainable state (batch statistics, random-generator states).
    """
    ops = keras.ops
    table, codes = (None, None) if levels is None or levels[0].shape[-1] == 0 else levels
    with front_levels(table, codes):
        y_pred, non_trainable = program.linear.stateless_call(
            trainable, non_trainable, x, training=training
        )
    if program.key.loss == "categorical_crossentropy":
        y = y * (1.0 - smoothing) + smoothing / y.shape[-1]
    data_loss = ops.sum(program.loss(y, y_pred) * w) / ops.maximum(ops.sum(w), 1e-12)
    weights = kernels(program.network, trainable)
    return data_loss + Penalty(penalty[0], penalty[1]).total(weights), non_trainable


def scheduled_rate(clock: ScheduleClock, inputs: tuple) -> Any:
    """The learning rate of the epoch about to run, from the schedule's run-time inputs
    (:meth:`~skreg._specs.LearningRateSchedule.inputs`)."""
    ops = keras.ops
    kind, learning_rate, power_t, _, _, horizon, _ = inputs
    invscaling = ops.power(clock.samples + 1.0, -power_t)
    epoch = ops.minimum(ops.cast(clock.epoch, "float32"), horizon - 1.0)
    cosine = 0.5 * (1.0 + ops.cos(np.float32(np.pi) * epoch / horizon))
    cycles = ops.log2(1.0 + 15.0 * (epoch + 0.5) / horizon)
    coslog4 = 0.5 * (1.0 - ops.cos(np.float32(2 * np.pi) * cycles))
    multiplier = ops.where(kind == 4, coslog4, 1.0)
    multiplier = ops.where(kind == 3, cosine, multiplier)
    multiplier = ops.where(kind == 2, clock.factor, multiplier)
    multiplier = ops.where(kind == 1, invscaling, multiplier)
    return learning_rate * multiplier


def advance_clock(clock: ScheduleClock, loss: Any, inputs: tuple) -> ScheduleClock:
    """The clock after an epoch whose training loss was ``loss``."""
    ops = keras.ops
    kind, _, _, patience, tol, _, n_train = inputs
    # As scikit-learn's MLPs: an epoch counts as no improvement unless it beats the best
    # loss so far by tol; any lower loss becomes the best.
    bad = ops.where(loss < clock.best - tol, ops.zeros_like(clock.bad), clock.bad + 1)
    reduce = ops.logical_and(kind == 2, bad >= patience)
    return ScheduleClock(
        samples=clock.samples + n_train,
        epoch=clock.epoch + 1,
        factor=ops.where(reduce, clock.factor * ADAPTIVE_FACTOR, clock.factor),
        best=ops.minimum(clock.best, loss),
        bad=ops.where(reduce, ops.zeros_like(bad), bad),
    )


def regularization_multiplier(clock: ScheduleClock, inputs: tuple, flat_cosine: Any) -> Any:
    """The factor on the dropout rates and the weight decay for the epoch about to run:
    1, or with ``flat_cosine`` RealMLP's flat-then-cosine schedule, 1 over the first half of
    the budget and then half a cosine down to 0: ``(1 + cos(pi (2 t - 1))) / 2`` at
    ``t = epoch / horizon >= 1/2``, epochs counted from 0."""
    ops = keras.ops
    horizon = inputs[5]
    t = ops.minimum(ops.cast(clock.epoch, "float32"), horizon - 1.0) / horizon
    cosine = 0.5 * (1.0 + ops.cos(np.float32(np.pi) * (2.0 * t - 1.0)))
    return ops.where(ops.logical_and(flat_cosine, t >= 0.5), cosine, 1.0)


class Data(NamedTuple):
    """A fit's device inputs that do not change between calls: the padded data, the
    validation layout, the penalty and the early-stopping settings."""

    X: Any
    Y: Any
    validation: tuple[Any, Any, Any]  # order, weights, n_batches
    penalty: Any
    smoothing: Any  # the classifier's label smoothing
    patience: Any  # int32; the early-stopping patience, huge when not stopping
    tol: Any
    on_training_loss: Any  # bool; the rule scores the epoch's training loss, not validation's
    schedule: tuple  # the learning-rate schedule, LearningRateSchedule.inputs()
    # The regularization schedule: (flat_cosine, the dropout rates, the weight decay), the
    # rates and decay the schedule multiplies at every epoch.
    regularization: tuple
    # The training rows' distinct numeric values and every row's place among them
    # (:func:`._front.level_codes`), or arrays with no values: every row embedded.
    levels: Any
    codes: Any


class Best(NamedTuple):
    """Early stopping's record inside a call: the best score, the epochs without improvement,
    and the best weights (JAX: their values; TensorFlow: empty, its variables hold them)."""

    score: Any
    bad: Any
    weights: Any


class Program:
    """Compiled training and prediction for one network, shared by every fit of it.

    The program owns a template network, optimizer and augmenter whose variables say what
    a fit's state looks like; fits bring their own values. A program in use by a fit is
    leased from the cache (``users``), and one the cache dropped (``dropped``) is released
    when its last user returns it (:mod:`._cache`).
    """

    # Whether several fits can run as the lanes of one call (:mod:`._joint`): where a fit's
    # state is values threaded through the compiled functions (JAX), not where the program's
    # variables hold it (TensorFlow).
    joint = False

    def __init__(self, key: ProgramKey, stats: Any) -> None:
        self.key = key
        self.stats = stats
        self.users = 0
        self.dropped = False
        self.network = build_network(key.network)
        self.linear = linear_outputs(self.network)
        self.optimizer = make_optimizer(key.optimizer, 1e-3)
        self.optimizer.build(self.network.trainable_variables)
        front = key.network.front
        self.augmenter = build_augmenter(
            key.augmentation, len(front.levels) if front else 0, key.network.n_features
        )
        self.loss = LOSSES[key.loss]
        self.fresh_optimizer = tuple(numpy(v) for v in self.optimizer.variables)
        self.learning_rate_index = next(
            i for i, v in enumerate(self.optimizer.variables) if v.name == "learning_rate"
        )
        self.augmenter_variables = (
            self.augmenter.non_trainable_variables if self.augmenter is not None else []
        )
        # Where the scheduled values live: each hidden block's dropout rate among the
        # network's non-trainable variables, the weight decay among the optimizer's.
        non_trainable = self.network.non_trainable_variables
        self.dropout_positions = [
            next(i for i, v in enumerate(non_trainable) if v is layer.rate_variable)
            for layer in self.network.layers
            if isinstance(layer, Dropout)
        ]
        self.weight_decay_index = next(
            (i for i, v in enumerate(self.optimizer.variables) if v.name == "weight_decay"), None
        )

    def start_values(self, request: TrainingRequest, seeds: np.random.SeedSequence) -> tuple:
        """A fit's state as it starts, as NumPy arrays grouped as (trainable, non-trainable,
        optimizer, augmenter): fresh weights, or the fitted ones it continues, at the request's
        dropout rates, learning rate and augmentation strengths (``seeds``: the augmenter's)."""
        start = request.start
        if isinstance(start, Continue):
            network = with_dropout(self.network, start.network, request.dropout)
            optimizer = start.optimizer
        else:
            # The rows that train (a zero weight trains nothing).
            rows = request.train_rows[np.asarray(request.train_weights) > 0]
            network = initial_state(self.network, request.dropout, start.seeds, (request.X, rows))
            optimizer = None
        augmenter = ()
        if self.augmenter is not None:
            plan = request.augmentation
            augmenter = self.augmenter.initial_state(plan.strengths, seeds, plan.sources)
        return (
            cast_all(network.trainable, self.network.trainable_variables),
            cast_all(network.non_trainable, self.network.non_trainable_variables),
            self.optimizer_state(optimizer, request.learning_rate, request.optimizer_settings),
            list(augmenter),
        )

    def optimizer_state(
        self, state: OptimizerState | None, learning_rate: float, settings: tuple = ()
    ) -> list:
        """Optimizer values for a fit: ``state`` (or a fresh optimizer's) at ``learning_rate``
        and with the run-time ``settings`` (``(name, value)`` pairs) it has."""
        values = list(self.fresh_optimizer if state is None else state.values)
        values[self.learning_rate_index] = np.asarray(learning_rate, dtype=np.float32)
        names = [v.name for v in self.optimizer.variables]
        for name, value in settings:
            if name in RUN_TIME_SETTINGS and name in names:
                values[names.index(name)] = np.asarray(value, dtype=np.float32)
        return cast_all(values, self.optimizer.variables)

    def predict(self, trainable: Sequence, non_trainable: Sequence, X: np.ndarray) -> np.ndarray:
        """Network outputs for ``X`` in inference mode (no dropout), as float64."""
        trainable = cast_all(trainable, self.network.trainable_variables)
        non_trainable = cast_all(non_trainable, self.network.non_trainable_variables)
        chunks = []
        for start in range(0, len(X), PREDICT_CHUNK):
            chunk = X[start : start + PREDICT_CHUNK]
            n_rows = len(chunk)
            padded = np.zeros((PREDICT_CHUNK, X.shape[1]), dtype=np.float32)
            padded[:n_rows] = chunk
            outputs = self._forward(trainable, non_trainable, padded)
            chunks.append(keras.ops.convert_to_numpy(outputs)[:n_rows])
        return np.concatenate(chunks).astype(np.float64, copy=False)

    def evaluate(
        self, state: NetworkState, X, Y, w, penalty: tuple[float, float], smoothing: float = 0.0
    ) -> float:
        """:func:`objective` of ``state`` on ``X, Y`` weighted by ``w``, in inference mode,
        run eagerly (a check on the host, not worth a compiled function)."""
        value, _ = objective(
            self, cast_all(state.trainable, self.network.trainable_variables),
            cast_all(state.non_trainable, self.network.non_trainable_variables),
            np.asarray(X, np.float32), np.asarray(Y, np.float32), np.asarray(w, np.float32),
            np.asarray(penalty, np.float32), training=False, smoothing=np.float32(smoothing),
        )  # fmt: skip
        return float(keras.ops.convert_to_numpy(value))

    def claim(self) -> bool:
        """Take the program's state for one fit, if it has any; False where waiting for it
        could deadlock (see the TensorFlow program)."""
        return True

    def unclaim(self) -> None:
        """Give back what :meth:`claim` took."""

    def release(self) -> None:
        """Free what the backend keeps after the program is dropped."""

    # Where a fit's state lives while it runs: by backend.

    def enter(self, values: tuple) -> Any:
        """Take a fit's starting values (see :meth:`start_values`); return the state to
        thread through the compiled calls."""
        raise NotImplementedError

    def initial_best(self, state: Any) -> Best:
        """Early stopping's record before the first epoch."""
        raise NotImplementedError

    def read(self, state: Any) -> tuple[list, list, list]:
        """The weights, non-trainable state and optimizer state."""
        raise NotImplementedError

    def write_weights(self, state: Any, weights: tuple) -> Any:
        """``state`` with its (trainable, non-trainable) values replaced by ``weights``."""
        raise NotImplementedError

    def restore_best(self, state: Any, best: Best) -> Any:
        """``state`` with the weights early stopping kept inside the compiled calls."""
        raise NotImplementedError

    def call(self, name: str, *args: Any) -> Any:
        """Call the compiled function ``name`` ("epochs" or "forward")."""
        raise NotImplementedError

    # The training function, shared by the backends. ``state`` is what the backend threads
    # through the loops (JAX: every value; TensorFlow: nothing, its variables hold it).

    def _trace_epochs(self, state, best, clock, data: Data, epochs, n_batches, n_epochs, host):
        """Run up to ``n_epochs`` epochs of ``epochs = (order, weights)`` (each
        ``(epochs_per_call, slots, step)``), stopping early on the validation loss.

        ``best`` is a :class:`Best`, ``clock`` the learning-rate schedule's
        :class:`~skreg._specs.ScheduleClock`. Returns the state, ``best``, the clock and the
        records: per epoch the training loss, the validation loss, whether it set a new best
        and the learning rate, then the number of epochs run (a non-finite loss ends the call).
        """
        ops = keras.ops
        self.stats.count("epoch_compiles")
        order, weights = epochs
        capacity = order.shape[0]
        stopping = EarlyStopping(patience=0, tol=data.tol)
        clock, best = ScheduleClock(*clock), Best(*best)

        def epoch(e, carry):
            state, best, clock, records, _ = carry
            rate = scheduled_rate(clock, data.schedule)
            state = self._set_learning_rate(state, rate)
            flat_cosine, dropout, weight_decay = data.regularization
            factor = regularization_multiplier(clock, data.schedule, flat_cosine)
            state = self._set_regularization(state, dropout * factor, weight_decay * factor)
            state, loss = self._train_epoch(state, data, order[e], weights[e], n_batches,
                                            tuple(a[e] for a in host))  # fmt: skip
            clock = ScheduleClock(*advance_clock(clock, loss, data.schedule))
            val_loss = self._validation_loss(state, data)
            monitored = ops.where(data.on_training_loss, loss, val_loss)
            improved, score, bad = stopping.update(best.score, best.bad, -monitored, ops)
            best = Best(score, bad, self._keep_best(improved, state, best.weights))
            records = tuple(
                ops.scatter_update(r, [[e]], ops.reshape(ops.cast(v, r.dtype), (1,)))
                for r, v in zip(records, (loss, val_loss, improved, rate))
            )
            stop = ops.logical_or(bad >= data.patience, ops.logical_not(ops.isfinite(loss)))
            return state, best, clock, records, stop

        records = (
            ops.zeros((capacity,), "float32"),  # read up to the epochs run
            ops.zeros((capacity,), "float32"),
            ops.zeros((capacity,), "bool"),
            ops.zeros((capacity,), "float32"),
        )
        carry = (state, best, clock, records, ops.convert_to_tensor(False))

        def running(e, carry):
            return ops.logical_and(e < n_epochs, ops.logical_not(carry[4]))

        ran, (state, best, clock, records, _) = ops.while_loop(
            lambda e, carry: running(e, carry),
            lambda e, carry: (e + 1, epoch(e, carry)),
            (ops.convert_to_tensor(0), carry),
        )
        return state, best, clock, (*records, ran)

    def _validation_loss(self, state, data: Data):
        ops = keras.ops
        order, weights, n_batches = data.validation
        trainable, non_trainable = self._weights(state)

        def chunk(i, total):
            loss, _ = objective(
                self, trainable, non_trainable, ops.take(data.X, order[i], axis=0),
                ops.take(data.Y, order[i], axis=0), weights[i], data.penalty, training=False,
                smoothing=data.smoothing,
            )  # fmt: skip
            return total + loss * ops.sum(weights[i])

        total = ops.fori_loop(0, n_batches, chunk, ops.convert_to_tensor(0.0))
        return total / ops.maximum(ops.sum(weights), 1e-12)

    def _train_epoch(self, state, data: Data, order, weights, n_batches, host):
        ops = keras.ops

        def step(i, carry):
            state, total = carry
            x = ops.take(data.X, order[i], axis=0)
            y = ops.take(data.Y, order[i], axis=0)
            codes = ops.take(data.codes, order[i], axis=0)
            state, loss = self._train_step(state, x, y, weights[i], data,
                                           tuple(a[i] for a in host), codes)  # fmt: skip
            return state, total + loss * ops.sum(weights[i])

        state, total = ops.fori_loop(0, n_batches, step, (state, ops.convert_to_tensor(0.0)))
        return state, total / ops.sum(weights)

    def _trace_forward(self, trainable: Any, non_trainable: Any, X: Any) -> Any:
        self.stats.count("forward_compiles")
        y_pred, _ = self.network.stateless_call(trainable, non_trainable, X, training=False)
        return y_pred

    # Inside the compiled functions: by backend.

    def _train_step(self, state, x, y, w, data, host, codes):
        """Augment the batch, take the gradient of :func:`objective` (with ``data``'s penalty,
        label smoothing and table of distinct values, the batch's ``codes`` in it) and apply
        it."""
        raise NotImplementedError

    def _keep_best(self, improved, state, best_weights):
        """The best weights after an epoch that ``improved`` (or not)."""
        raise NotImplementedError

    def _set_learning_rate(self, state, rate):
        raise NotImplementedError

    def _set_regularization(self, state, dropout, weight_decay):
        """``state`` with the hidden blocks' dropout rates ``dropout`` and, if the optimizer
        has one, the weight decay ``weight_decay``."""
        raise NotImplementedError

    def _weights(self, state) -> tuple[list, list]:
        raise NotImplementedError

    def _forward(self, trainable: Any, non_trainable: Any, X: np.ndarray) -> Any:
        raise NotImplementedError


def numpy(value: Any) -> np.ndarray:
    """A backend tensor or Keras variable as a NumPy array (a copy)."""
    if isinstance(value, keras.Variable):  # NumPy 2 deprecates the variables' __array__
        value = keras.ops.copy(value)
    return np.array(keras.ops.convert_to_numpy(value))


def cast(value: Any, variable: Any) -> Any:
    """``value`` in the dtype of ``variable`` if it is a NumPy value; tensors pass as they are."""
    dtype = keras.backend.standardize_dtype(variable.dtype)
    if isinstance(value, np.ndarray | np.generic | int | float):
        return np.asarray(value, dtype=dtype)
    return value


def cast_all(values: Sequence, variables: Sequence) -> list:
    return [cast(v, var) for v, var in zip(values, variables, strict=True)]
