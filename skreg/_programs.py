"""Compiled training programs, one per network, and the bounded cache that holds them.

Measured before this design (2-core machine, issue 9): each new training-set row count and
each new dropout rate or noise level compiled the training epoch again (1-4 s each), and the
engine pool it replaced freed nothing it evicted on TensorFlow (100 fits cycling 12
architectures: +866 MiB, linear). So:

- A :class:`Program` is compiled for a network (:class:`ProgramKey`: layer widths, activation,
  batch normalization, augmentation kinds, optimizer, loss). Everything else is a run-time
  input: the penalties, dropout rates and augmentation strengths (variables of the network and
  augmenter), the learning rate (a variable of the optimizer) and the data, padded to a few
  shapes (:mod:`skreg._training`). One program serves every fold and every grid point.
- A fit is one call, :func:`fit`, with a frozen :class:`TrainingRequest`: it finds the program,
  loads the fit's own state into it, seeds it, trains and hands back the new state as NumPy
  arrays. Programs keep no fit's state between calls.
- The loss of a batch is written once (:func:`objective`); each backend only runs it: JAX
  stateless under ``jax.jit`` with ``lax`` loops, TensorFlow with the program's variables
  under ``tf.function`` and XLA.
- :data:`PROGRAMS` keeps at most ``skreg.get_config()["program_cache_size"]`` programs and
  frees what it drops. On TensorFlow, Keras' optimizer registers a gradient function in a
  global registry at every trace, which keeps the traced graph and its loop bodies alive; a
  TensorFlow program records these entries and removes them when dropped (measured: 0.4 MB retained per dropped program without XLA, against 2.7 MB before).
  XLA's compiled code is the exception: TensorFlow's compilation cache never evicts
  (tensorflow/tensorflow#64170), about 4.5 MB per compiled program; see
  :data:`_TF_XLA_PROGRAMS`.
"""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import keras
import numpy as np

from ._config import get_config
from ._network import (
    LOSSES,
    NetworkSpec,
    NetworkState,
    build_network,
    kernels,
    make_optimizer,
)
from ._training import (
    Batches,
    TrainingResult,
    TrainingSchedule,
    Validate,
    bucket_rows,
    epoch_batches,
    step_rows,
    train,
)
from .augmentation import AugmentationPlan, build_augmenter
from .regularizers import weight_penalty

# Predict inputs are cut into chunks of at most this many rows, and each chunk is padded to a
# power of two of at least _PREDICT_MIN_ROWS rows: the forward pass is compiled once per
# padded shape (at most 8 of them per network), and a row's prediction does not depend on
# the other rows it is predicted with.
_PREDICT_CHUNK = 8192
_PREDICT_MIN_ROWS = 64


@dataclass(frozen=True)
class ProgramKey:
    """What a compiled program depends on; everything else is a run-time input."""

    network: NetworkSpec
    optimizer: str
    loss: str
    augmentation: tuple = ()
    backend: str = field(default_factory=lambda: keras.backend.backend())


@dataclass(frozen=True)
class OptimizerState:
    """An optimizer's variables as NumPy arrays, in the order of ``optimizer.variables``."""

    name: str
    values: tuple[np.ndarray, ...]


@dataclass(frozen=True)
class TrainingRequest:
    """Everything one fit needs. ``fit(request)`` does the rest."""

    key: ProgramKey
    network: NetworkState
    optimizer: OptimizerState | None  # None: a fresh optimizer
    learning_rate: float
    penalty: tuple[float, float]
    X: np.ndarray
    Y: np.ndarray
    train_rows: np.ndarray
    train_weights: np.ndarray
    schedule: TrainingSchedule
    seeds: np.random.SeedSequence
    augmentation: AugmentationPlan = AugmentationPlan()
    validation_rows: np.ndarray | None = None
    validation_weights: np.ndarray | None = None
    # Given a function predicting with the weights being trained, the validation hook.
    make_validate: Callable[[Callable[[np.ndarray], np.ndarray]], Validate] | None = None


@dataclass(frozen=True)
class TrainingOutcome:
    network: NetworkState
    optimizer: OptimizerState
    result: TrainingResult


def fit(request: TrainingRequest) -> TrainingOutcome:
    """Train as ``request`` says on the cached program of its network."""
    program = PROGRAMS.get(request.key)
    with program.session(request) as session:
        shuffle_seeds, _ = request.seeds.spawn(2)
        validate = None
        if request.make_validate is not None:
            validate = request.make_validate(session.predict)
        result = train(session, request.schedule, np.random.default_rng(shuffle_seeds), validate)
        network, optimizer = session.state()
    return TrainingOutcome(network=network, optimizer=optimizer, result=result)


def predict(key: ProgramKey, state: NetworkState, X: np.ndarray) -> np.ndarray:
    """Network outputs for ``X`` in inference mode (no dropout), as float64."""
    return PROGRAMS.get(key).predict(state.trainable, state.non_trainable, X)


def objective(program: Program, trainable, non_trainable, x, y, w, penalty, training=True):
    """A batch's loss: the weighted mean data loss plus ``l1 * sum|W| + l2 * sum W**2``.

    The one definition of what skreg minimizes, on every backend. Returns the loss and the
    network's updated non-trainable state (batch statistics, random-generator states).
    """
    ops = keras.ops
    y_pred, non_trainable = program.network.stateless_call(
        trainable, non_trainable, x, training=training
    )
    data_loss = ops.sum(program.loss(y, y_pred) * w) / ops.maximum(ops.sum(w), 1e-12)
    penalty_value = weight_penalty(kernels(program.network, trainable), penalty[0], penalty[1])
    return data_loss + penalty_value, non_trainable


class CacheInfo(NamedTuple):
    """Statistics of the program cache (see :func:`skreg.program_cache_info`)."""

    hits: int
    misses: int
    evictions: int
    epoch_compiles: int
    forward_compiles: int
    size: int
    max_size: int


class Program:
    """Compiled training and prediction for one network, shared by every fit of it.

    The program owns a template network, optimizer and augmenter whose variables say what
    state looks like; fits bring their own values (:meth:`session`).
    """

    def __init__(self, key: ProgramKey, stats: _Stats) -> None:
        self.key = key
        self.stats = stats
        self.network = build_network(key.network)
        self.optimizer = make_optimizer(key.optimizer, 1e-3)
        self.optimizer.build(self.network.trainable_variables)
        self.augmenter = build_augmenter(key.augmentation, key.network.n_features)
        self.loss = LOSSES[key.loss]
        self.fresh_optimizer = tuple(_numpy(v) for v in self.optimizer.variables)
        self._learning_rate_index = next(
            i for i, v in enumerate(self.optimizer.variables) if v.name == "learning_rate"
        )
        self._augmenter_variables = (
            self.augmenter.non_trainable_variables if self.augmenter is not None else []
        )

    def optimizer_state(self, state: OptimizerState | None, learning_rate: float) -> tuple:
        """Optimizer values for a fit: ``state`` (or a fresh optimizer's) at ``learning_rate``."""
        values = list(self.fresh_optimizer if state is None else state.values)
        values[self._learning_rate_index] = np.asarray(learning_rate, dtype=np.float32)
        return tuple(_cast(v, var) for v, var in zip(values, self.optimizer.variables))

    def session(self, request: TrainingRequest) -> _Session:
        raise NotImplementedError

    def predict(self, trainable: Any, non_trainable: Any, X: np.ndarray) -> np.ndarray:
        trainable = [_cast(v, var) for v, var in zip(trainable, self.network.trainable_variables)]
        non_trainable = [
            _cast(v, var) for v, var in zip(non_trainable, self.network.non_trainable_variables)
        ]
        chunks = []
        for start in range(0, len(X), _PREDICT_CHUNK):
            chunk = X[start : start + _PREDICT_CHUNK]
            n_rows = len(chunk)
            padded = np.zeros((_padded_predict_rows(n_rows), X.shape[1]), dtype=np.float32)
            padded[:n_rows] = chunk
            outputs = self._forward(trainable, non_trainable, padded)
            chunks.append(keras.ops.convert_to_numpy(outputs)[:n_rows])
        return np.concatenate(chunks).astype(np.float64, copy=False)

    def release(self) -> None:
        """Free what the backend keeps after the program is dropped."""

    def _trace_forward(self, trainable: Any, non_trainable: Any, X: Any) -> Any:
        self.stats.count("forward_compiles")
        y_pred, _ = self.network.stateless_call(trainable, non_trainable, X, training=False)
        return y_pred

    def _forward(self, trainable: Any, non_trainable: Any, X: np.ndarray) -> Any:
        raise NotImplementedError


class _Session:
    """One fit on a program: the uploaded data and the fit's state while it trains."""

    def __init__(self, program: Program, request: TrainingRequest) -> None:
        self.program = program
        self.request = request
        n_train = len(request.train_rows)
        batch_size = min(request.schedule.batch_size, n_train)
        self.batch_size = batch_size
        self.step = step_rows(request.schedule.batch_size, n_train)
        rows = bucket_rows(len(request.X))
        self.slots = -(-rows // self.step)
        self.X = _padded(request.X, rows)
        self.Y = _padded(request.Y, rows)
        self.penalty = np.asarray(request.penalty, dtype=np.float32)
        self.validation = self._validation_batches()
        _, augmentation_seeds = request.seeds.spawn(2)
        self.augmenter_state = (
            program.augmenter.initial_state(request.augmentation.strengths, augmentation_seeds)
            if program.augmenter is not None
            else ()
        )

    def batches(self, rng: np.random.Generator) -> Batches:
        request = self.request
        return epoch_batches(
            request.train_weights,
            self.batch_size,
            rng,
            request.schedule.shuffle,
            rows=request.train_rows,
            step=self.step,
            slots=self.slots,
        )

    def _validation_batches(self) -> Batches:
        request = self.request
        if request.validation_rows is None or len(request.validation_rows) == 0:
            empty = np.zeros((self.slots, self.step), np.int32)
            return Batches(empty, empty.astype(np.float32), np.zeros(0, np.int32))
        return epoch_batches(
            request.validation_weights,
            self.step,
            None,
            False,
            rows=request.validation_rows,
            step=self.step,
            slots=self.slots,
        )

    def epoch_inputs(self, rng: np.random.Generator) -> tuple[Batches, tuple[np.ndarray, ...]]:
        batches = self.batches(rng)
        return batches, self.request.augmentation.draw(rng, batches)

    def validation_loss(self, value: Any) -> float | None:
        return float(value) if self.validation.n_batches else None

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Outputs of the weights being trained (for validation scorers)."""
        trainable, non_trainable, _ = self.current()
        return self.program.predict(trainable, non_trainable, X)

    def state(self) -> tuple[NetworkState, OptimizerState]:
        """The trained state, as NumPy arrays."""
        trainable, non_trainable, optimizer = (
            tuple(_numpy(v) for v in group) for group in self.current()
        )
        return NetworkState(trainable, non_trainable), OptimizerState(
            self.program.key.optimizer, optimizer
        )

    def current(self) -> tuple[list, list, list]:
        """The weights, non-trainable state and optimizer state, as backend tensors."""
        raise NotImplementedError


class _JaxProgram(Program):
    """Stateless: a fit's state flows through ``jax.jit``-compiled functions."""

    def __init__(self, key: ProgramKey, stats: _Stats) -> None:
        import jax

        super().__init__(key, stats)
        self._jax = jax
        self._epoch = jax.jit(self._trace_epoch)
        self._forward = jax.jit(self._trace_forward)

    def session(self, request: TrainingRequest) -> _JaxSession:
        return _JaxSession(self, request)

    def _trace_epoch(self, state, X, Y, penalty, batches, validation, host):
        jax = self._jax
        self.stats.count("epoch_compiles")
        order, weights, n_batches = batches

        def step(i, carry):
            trainable, non_trainable, optimizer, augmenter, total = carry
            x, y = X[order[i]], Y[order[i]]
            if self.augmenter is not None:
                (x, y), augmenter = self.augmenter.stateless_call(
                    [], augmenter, x, y, *(a[i] for a in host)
                )
            (loss, non_trainable), grads = jax.value_and_grad(
                lambda t, n: objective(self, t, n, x, y, weights[i], penalty), has_aux=True
            )(trainable, non_trainable)
            trainable, optimizer = self.optimizer.stateless_apply(optimizer, grads, trainable)
            return trainable, non_trainable, optimizer, augmenter, total + loss * weights[i].sum()

        *state, total = jax.lax.fori_loop(0, n_batches, step, (*state, 0.0))
        val_loss = self._validation_loss(state[0], state[1], X, Y, penalty, validation)
        return tuple(state), total / weights.sum(), val_loss

    def _validation_loss(self, trainable, non_trainable, X, Y, penalty, validation):
        order, weights, n_batches = validation

        def chunk(i, total):
            loss, _ = objective(
                self, trainable, non_trainable, X[order[i]], Y[order[i]], weights[i], penalty,
                training=False,
            )  # fmt: skip
            return total + loss * weights[i].sum()

        total = self._jax.lax.fori_loop(0, n_batches, chunk, 0.0)
        return total / keras.ops.maximum(weights.sum(), 1e-12)


class _JaxSession(_Session):
    def __init__(self, program: _JaxProgram, request: TrainingRequest) -> None:
        super().__init__(program, request)
        network = program.network
        self.values = (
            _as_values(request.network.trainable, network.trainable_variables),
            _as_values(request.network.non_trainable, network.non_trainable_variables),
            list(program.optimizer_state(request.optimizer, request.learning_rate)),
            list(self.augmenter_state),
        )
        validation = self.validation
        jax = program._jax
        self.X, self.Y = jax.device_put(self.X), jax.device_put(self.Y)
        self.validation_arrays = (
            jax.device_put(validation.order),
            jax.device_put(validation.weights),
            validation.n_batches,
        )

    def __enter__(self) -> _JaxSession:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def run_epoch(self, rng: np.random.Generator) -> tuple[float, float | None]:
        batches, host = self.epoch_inputs(rng)
        arrays = (batches.order, batches.weights, batches.n_batches)
        self.values, loss, val_loss = self.program._epoch(
            self.values, self.X, self.Y, self.penalty, arrays, self.validation_arrays, host
        )
        return float(loss), self.validation_loss(val_loss)

    def snapshot(self) -> Any:
        return self.values[:2]

    def restore(self, snapshot: Any) -> None:
        self.values = (*snapshot, *self.values[2:])

    def current(self) -> tuple[list, list, list]:
        return self.values[:3]


class _TensorFlowProgram(Program):
    """Stateful: the program's variables hold a fit's state while it trains (one fit at a
    time, under a lock), inside ``tf.function``-compiled functions."""

    def __init__(self, key: ProgramKey, stats: _Stats) -> None:
        import tensorflow as tf

        super().__init__(key, stats)
        self._tf = tf
        self.lock = threading.Lock()
        # TensorFlow's affine image transform has no XLA kernel.
        self.xla = (self.augmenter is None or self.augmenter.xla_compatible) and _tf_xla_allowed()
        self._epoch_function = tf.function(
            self._run_epoch, jit_compile=self.xla, autograph=False
        )
        self._concrete: dict[tuple, Any] = {}
        self._registered: set[str] = set()
        self._variables = (
            self.network.trainable_variables,
            self.network.non_trainable_variables,
            self.optimizer.variables,
            self._augmenter_variables,
        )

    def session(self, request: TrainingRequest) -> _TensorFlowSession:
        return _TensorFlowSession(self, request)

    def release(self) -> None:
        _tf_unregister(self._registered)
        self._concrete.clear()

    def concrete(self, name: str, function: Any, args: tuple) -> Any:
        """The traced function for these argument shapes, recording what tracing registered."""
        signature = (name, *(tuple(np.shape(a)) for a in args))
        traced = self._concrete.get(signature)
        if traced is None:
            specs = [self._tf.TensorSpec(np.shape(a), _tf_dtype(a)) for a in args]
            with _TF_TRACE_LOCK, _tf_registrations(self._registered):
                traced = function.get_concrete_function(*specs)
            self._concrete[signature] = traced
        return traced

    def _forward(self, trainable, non_trainable, X):
        args = (*trainable, *non_trainable, X)
        n_t, n_n = len(trainable), len(non_trainable)
        traced = self.concrete("forward", self._forward_flat(n_t, n_n), args)
        return traced(*args)

    def _forward_flat(self, n_trainable: int, n_non_trainable: int) -> Any:
        function = getattr(self, "_forward_flat_function", None)
        if function is None:

            def flat(*args):
                trainable = list(args[:n_trainable])
                non_trainable = list(args[n_trainable : n_trainable + n_non_trainable])
                return self._trace_forward(trainable, non_trainable, args[-1])

            function = self._tf.function(flat, autograph=False)
            self._forward_flat_function = function
        return function

    def _run_epoch(self, X, Y, penalty, order, weights, n_batches, val_order, val_weights,
                   n_val, *host):  # fmt: skip
        return self._trace_epoch(
            X, Y, penalty, (order, weights, n_batches), (val_order, val_weights, n_val), host
        )

    def _trace_epoch(self, X, Y, penalty, batches, validation, host):
        tf = self._tf
        self.stats.count("epoch_compiles")
        order, weights, n_batches = batches
        trainable_variables = self.network.trainable_variables
        non_trainable_variables = self.network.non_trainable_variables

        def step(i, total):
            x, y = tf.gather(X, order[i]), tf.gather(Y, order[i])
            if self.augmenter is not None:
                x, y = self.augmenter(x, y, *(a[i] for a in host))
            with tf.GradientTape() as tape:
                trainable = [v.value for v in trainable_variables]
                loss, non_trainable = objective(
                    self, trainable, [v.value for v in non_trainable_variables], x, y,
                    weights[i], penalty,
                )  # fmt: skip
            grads = tape.gradient(loss, trainable_variables)
            for variable, value in zip(non_trainable_variables, non_trainable):
                variable.assign(value)
            self.optimizer.apply_gradients(zip(grads, trainable_variables))
            return i + 1, total + loss * tf.reduce_sum(weights[i])

        _, total = tf.while_loop(lambda i, _: i < n_batches, step, (tf.constant(0), 0.0))
        val_order, val_weights, n_val = validation
        trainable = [v.value for v in trainable_variables]
        non_trainable = [v.value for v in non_trainable_variables]

        def chunk(i, total):
            loss, _ = objective(
                self, trainable, non_trainable, tf.gather(X, val_order[i]),
                tf.gather(Y, val_order[i]), val_weights[i], penalty, training=False,
            )  # fmt: skip
            return i + 1, total + loss * tf.reduce_sum(val_weights[i])

        _, val_total = tf.while_loop(lambda i, _: i < n_val, chunk, (tf.constant(0), 0.0))
        val_loss = val_total / tf.maximum(tf.reduce_sum(val_weights), 1e-12)
        return total / tf.reduce_sum(weights), val_loss


class _TensorFlowSession(_Session):
    def __init__(self, program: _TensorFlowProgram, request: TrainingRequest) -> None:
        super().__init__(program, request)
        self.values = (
            request.network.trainable,
            request.network.non_trainable,
            program.optimizer_state(request.optimizer, request.learning_rate),
            self.augmenter_state,
        )
        tf = program._tf
        self.X, self.Y = tf.constant(self.X), tf.constant(self.Y)
        validation = self.validation
        self.validation_arrays = (
            tf.constant(validation.order),
            tf.constant(validation.weights),
            tf.constant(validation.n_batches, tf.int32),
        )

    def __enter__(self) -> _TensorFlowSession:
        self.program.lock.acquire()
        try:
            for variables, values in zip(self.program._variables, self.values):
                for variable, value in zip(variables, values, strict=True):
                    variable.assign(_cast(value, variable))
        except BaseException:
            self.program.lock.release()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.program.lock.release()

    def run_epoch(self, rng: np.random.Generator) -> tuple[float, float | None]:
        batches, host = self.epoch_inputs(rng)
        args = (
            self.X, self.Y, self.penalty, batches.order, batches.weights,
            np.int32(batches.n_batches), *self.validation_arrays, *host,
        )  # fmt: skip
        traced = self.program.concrete("epoch", self.program._epoch_function, args)
        loss, val_loss = traced(*args)
        return float(loss), self.validation_loss(val_loss)

    def snapshot(self) -> Any:
        trainable, non_trainable, _ = self.current()
        return trainable + non_trainable

    def restore(self, snapshot: Any) -> None:
        network = self.program.network
        variables = network.trainable_variables + network.non_trainable_variables
        for variable, value in zip(variables, snapshot, strict=True):
            variable.assign(value)

    def current(self) -> tuple[list, list, list]:
        # Reads: tensors that keep their values when the variables change.
        return tuple(
            [keras.ops.convert_to_tensor(v) for v in variables]
            for variables in self.program._variables[:3]
        )


class _Stats:
    def __init__(self) -> None:
        self.counts = dict.fromkeys(
            ("hits", "misses", "evictions", "epoch_compiles", "forward_compiles"), 0
        )
        self._lock = threading.Lock()

    def count(self, name: str) -> None:
        with self._lock:
            self.counts[name] += 1


class ProgramCache:
    """The process's compiled programs by key, least recently used dropped first."""

    def __init__(self) -> None:
        self._programs: OrderedDict[ProgramKey, Program] = OrderedDict()
        self._lock = threading.RLock()
        self._stats = _Stats()

    def get(self, key: ProgramKey) -> Program:
        with self._lock:
            program = self._programs.get(key)
            if program is not None:
                self._programs.move_to_end(key)
                self._stats.count("hits")
                return program
            self._stats.count("misses")
            program = self._programs[key] = _make_program(key, self._stats)
            self.trim()
            return program

    def trim(self) -> None:
        """Drop the least recently used programs beyond the configured size."""
        with self._lock:
            while len(self._programs) > get_config()["program_cache_size"]:
                _, program = self._programs.popitem(last=False)
                self._stats.count("evictions")
                program.release()

    def clear(self) -> None:
        """Drop every program (statistics are kept)."""
        with self._lock:
            while self._programs:
                self._programs.popitem(last=False)[1].release()

    def info(self) -> CacheInfo:
        with self._lock:
            return CacheInfo(
                **self._stats.counts,
                size=len(self._programs),
                max_size=get_config()["program_cache_size"],
            )


PROGRAMS = ProgramCache()


def program_cache_info() -> CacheInfo:
    """Statistics of skreg's cache of compiled training programs.

    A program is compiled once per network (layer widths, activation, batch normalization,
    augmentation kinds, optimizer and loss) and serves every fit of it; it compiles its
    training epoch once per padded data shape and its forward pass once per padded
    prediction size. Compare the counts before and after a search to see what it compiled.

    Returns
    -------
    info : CacheInfo
        A named tuple: ``hits`` and ``misses`` (lookups that found or built a program),
        ``evictions``, ``epoch_compiles`` and ``forward_compiles`` (traces of the training
        epoch and of the forward pass), ``size`` (programs held now) and ``max_size``
        (``skreg.get_config()["program_cache_size"]``).

    Examples
    --------
    >>> import skreg
    >>> info = skreg.program_cache_info()
    >>> info.size <= info.max_size
    True
    """
    return PROGRAMS.info()


def clear_program_cache() -> None:
    """Drop every compiled program and free its memory; the next fit compiles again.

    Fitted estimators keep working: they hold their weights, not the programs.

    Examples
    --------
    >>> import skreg
    >>> skreg.clear_program_cache()
    >>> skreg.program_cache_info().size
    0
    """
    PROGRAMS.clear()


def _make_program(key: ProgramKey, stats: _Stats) -> Program:
    programs = {"tensorflow": _TensorFlowProgram, "jax": _JaxProgram}
    if key.backend not in programs:
        raise RuntimeError(
            "skreg supports the 'tensorflow' and 'jax' Keras backends; the active one is "
            f"{key.backend!r}."
        )
    return programs[key.backend](key, stats)


def _padded(array: np.ndarray, rows: int) -> np.ndarray:
    out = np.zeros((rows, *array.shape[1:]), dtype=np.float32)
    out[: len(array)] = array
    return out


def _padded_predict_rows(n_rows: int) -> int:
    return max(_PREDICT_MIN_ROWS, 1 << max(n_rows - 1, 0).bit_length())


def _numpy(value: Any) -> np.ndarray:
    return np.array(keras.ops.convert_to_numpy(value))


def _cast(value: Any, variable: Any) -> Any:
    dtype = keras.backend.standardize_dtype(variable.dtype)
    if isinstance(value, np.ndarray | np.generic | int | float):
        return np.asarray(value, dtype=dtype)
    return value


def _as_values(values: tuple, variables: list) -> list:
    return [_cast(v, var) for v, var in zip(values, variables, strict=True)]


def _tf_dtype(value: Any) -> Any:
    import tensorflow as tf

    return value.dtype if isinstance(value, tf.Tensor) else tf.as_dtype(np.asarray(value).dtype)


# TensorFlow: what tracing registers globally, and how a dropped program takes it back.
_TF_TRACE_LOCK = threading.Lock()


_TF_XLA_PROGRAMS = [0]  # XLA-compiled TensorFlow programs made by this process


def _tf_xla_allowed() -> bool:
    """Whether a new TensorFlow program may compile with XLA, counting it if so.

    TensorFlow never frees XLA code (about 10 MB per program measured here), so a process
    compiles at most ``program_cache_size`` programs with XLA; later ones (a search cycling
    through more networks than the cache holds) run in TensorFlow's graph executor, which
    compiles in a third of the time, runs an epoch 1.5-1.9x slower and is freed when dropped.
    skreg's random numbers are the same under both, so the results agree up to float rounding.
    """
    limit = get_config()["program_cache_size"]
    with _TF_TRACE_LOCK:
        if _TF_XLA_PROGRAMS[0] < limit:
            _TF_XLA_PROGRAMS[0] += 1
            return True
    if _TF_XLA_PROGRAMS[0] == limit:
        _TF_XLA_PROGRAMS[0] += 1  # warn once
        warnings.warn(
            f"skreg has compiled {limit} networks with XLA in this process, as many as "
            "skreg.get_config()['program_cache_size']. TensorFlow never frees XLA-compiled "
            "code (tensorflow/tensorflow#64170), so further networks run without XLA: about "
            "1.5x slower per epoch, freed when dropped, with the same results up to float "
            "rounding. Raise program_cache_size, or use the JAX backend, to keep XLA.",
            stacklevel=4,
        )
    return False


class _tf_registrations:
    """Record the gradient functions registered while tracing in the block.

    Keras' TensorFlow optimizer registers a custom gradient in TensorFlow's global gradient
    registry at every trace; the entry keeps the whole traced graph, and with it every
    function nested in it, alive after the program is dropped. Tracing holds
    ``_TF_TRACE_LOCK``, so what appears belongs to this program's trace.
    """

    def __init__(self, into: set[str]) -> None:
        self.into = into

    def __enter__(self) -> None:
        self.before = set(_tf_gradient_registry())

    def __exit__(self, *exc: Any) -> None:
        self.into.update(set(_tf_gradient_registry()) - self.before)


def _tf_gradient_registry() -> dict:
    # Private TensorFlow API, used only here.
    from tensorflow.python.framework import ops

    return ops._gradient_registry._registry


def _tf_unregister(gradients: set[str]) -> None:
    registry = _tf_gradient_registry()
    for name in gradients:
        registry.pop(name, None)
    gradients.clear()
