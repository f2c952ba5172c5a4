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
  TensorFlow program records these entries and removes them when dropped (measured: 0.4 MB
  retained per dropped program without XLA, against 2.7 MB before).
  XLA's compiled code is the exception: TensorFlow's compilation cache never evicts
  (tensorflow/tensorflow#64170), about 4.5 MB per compiled program; see
  :data:`_TF_XLA_KEYS`.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import keras
import numpy as np

from . import _backend
from ._augmenters import build_augmenter
from ._config import CacheInfo, get_config, register_hook
from ._network import (
    LOSSES,
    NetworkState,
    build_network,
    kernels,
    linear_outputs,
    make_optimizer,
)
from ._network import export_model as export_model  # for the estimators, one door
from ._network import initial_state as initial_state
from ._network import with_dropout as with_dropout
from ._state import OptimizerState, ProgramKey
from ._tf_functions import StableFunction, broken_xla_entries, entry_path
from ._training import (
    Batches,
    EarlyStopping,
    EpochHooks,
    EpochRecord,
    ScheduleClock,
    TrainingResult,
    TrainingSchedule,
    Validation,
    advance_clock,
    bucket_rows,
    epoch_batches,
    scheduled_rate,
    step_rows,
    train,
)
from .augmentation import AugmentationPlan
from .regularizers import weight_penalty

# Predict inputs are cut into chunks of exactly this many rows (the last one padded), so the
# forward pass is compiled once per network and a row's prediction is bitwise the same
# whatever other rows it is predicted with. With chunks padded to powers of two (64 to 8192
# rows, one compiled shape each), XLA picked different matrix kernels per shape and a row's
# probability moved by up to 9e-8 between shapes, on both backends. Measured on digits
# (2 cores, /tmp scripts): 512-row chunks predict one row in 1.6-2.2 ms (1.3-1.9 ms before) and
# 100,000 rows in 0.22 s (JAX) to 0.33 s (TensorFlow) against 0.10-0.12 s, and a new input
# size no longer compiles again (50-150 ms each).
_PREDICT_CHUNK = 512


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
    make_validation: Callable[[Callable[[np.ndarray], np.ndarray]], Validation] | None = None
    # Likewise, the per-epoch hooks (scikit-learn's callbacks).
    make_hooks: Callable[[Callable[[np.ndarray], np.ndarray]], EpochHooks] | None = None
    # Where the learning-rate schedule starts (None: at its beginning).
    clock: ScheduleClock | None = None
    # The training loss of the first epoch of the run this fit continues, for the divergence
    # check (None: this fit starts the run).
    reference_loss: float | None = None


@dataclass(frozen=True)
class TrainingOutcome:
    network: NetworkState
    optimizer: OptimizerState
    result: TrainingResult
    clock: ScheduleClock


def fit(request: TrainingRequest) -> TrainingOutcome:
    """Train as ``request`` says on the cached program of its network."""
    with (
        PROGRAMS.lease(request.key, exclusive=True) as program,
        program.session(request) as session,
    ):
        shuffle_seeds, _ = request.seeds.spawn(2)
        validation = None
        if request.make_validation is not None:
            validation = request.make_validation(session.predict)
        hooks = None if request.make_hooks is None else request.make_hooks(session.predict)
        rng = np.random.default_rng(shuffle_seeds)
        result = train(session, request.schedule, rng, validation, hooks, request.reference_loss)
        network, optimizer = session.state()
        clock = session.clock.numpy()
    return TrainingOutcome(network=network, optimizer=optimizer, result=result, clock=clock)


def predict(key: ProgramKey, state: NetworkState, X: np.ndarray) -> np.ndarray:
    """Network outputs for ``X`` in inference mode (no dropout), as float64."""
    with PROGRAMS.lease(key) as program:
        return program.predict(state.trainable, state.non_trainable, X)


def loss(key: ProgramKey, state: NetworkState, X, Y, w, penalty: tuple[float, float]) -> float:
    """:func:`objective` of ``state`` on the rows ``X, Y`` weighted by ``w``, in inference
    mode (no dropout), run eagerly: for a check on the host, such as divergence after a
    call's last step."""
    with PROGRAMS.lease(key) as program:
        trainable = _as_values(state.trainable, program.network.trainable_variables)
        non_trainable = _as_values(state.non_trainable, program.network.non_trainable_variables)
        value, _ = objective(
            program, trainable, non_trainable, np.asarray(X, np.float32),
            np.asarray(Y, np.float32), np.asarray(w, np.float32),
            np.asarray(penalty, np.float32), training=False,
        )  # fmt: skip
    return float(keras.ops.convert_to_numpy(value))


def objective(program: Program, trainable, non_trainable, x, y, w, penalty, training=True):
    """A batch's loss: the weighted mean data loss plus ``l1 * sum|W| + l2 * sum W**2``.

    The data loss is computed from the output layer's linear predictor (for the classifier,
    the logits), see :data:`skreg._network.LOSSES`.

    The one definition of what skreg minimizes, on every backend. Returns the loss and the
    network's updated non-trainable state (batch statistics, random-generator states).
    """
    ops = keras.ops
    y_pred, non_trainable = program.linear.stateless_call(
        trainable, non_trainable, x, training=training
    )
    data_loss = ops.sum(program.loss(y, y_pred) * w) / ops.maximum(ops.sum(w), 1e-12)
    penalty_value = weight_penalty(kernels(program.network, trainable), penalty[0], penalty[1])
    return data_loss + penalty_value, non_trainable


class _Data(NamedTuple):
    """A fit's device inputs that do not change between calls: the padded data, the
    validation layout, the penalty and the early-stopping settings."""

    X: Any
    Y: Any
    validation: tuple[Any, Any, Any]  # order, weights, n_batches
    penalty: Any
    patience: Any  # int32; the early-stopping patience, huge when not stopping
    tol: Any
    schedule: tuple  # the learning-rate schedule, LearningRateSchedule.inputs()


class Program:
    """Compiled training and prediction for one network, shared by every fit of it.

    The program owns a template network, optimizer and augmenter whose variables say what
    state looks like; fits bring their own values (:meth:`session`). Its training function
    runs up to ``epochs_per_call`` epochs per call (:meth:`_trace_epochs`); the backends only
    differ in how a step applies its gradients and where the state lives while it runs.
    """

    def __init__(self, key: ProgramKey, stats: _Stats) -> None:
        self.key = key
        self.stats = stats
        self.users = 0  # leases held (see ProgramCache.lease)
        self.dropped = False  # out of the cache: released when its last user returns it
        self.network = build_network(key.network)
        self.linear = linear_outputs(self.network)
        self.optimizer = make_optimizer(key.optimizer, 1e-3)
        self.optimizer.build(self.network.trainable_variables)
        self.augmenter = build_augmenter(key.augmentation)
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

    def claim(self) -> bool:
        """Take the program's state for one fit, if it has any; False where waiting for it
        could deadlock."""
        return True

    def unclaim(self) -> None:
        """Give back what :meth:`claim` took."""

    def predict(self, trainable: Any, non_trainable: Any, X: np.ndarray) -> np.ndarray:
        trainable = [_cast(v, var) for v, var in zip(trainable, self.network.trainable_variables)]
        non_trainable = [
            _cast(v, var) for v, var in zip(non_trainable, self.network.non_trainable_variables)
        ]
        chunks = []
        for start in range(0, len(X), _PREDICT_CHUNK):
            chunk = X[start : start + _PREDICT_CHUNK]
            n_rows = len(chunk)
            padded = np.zeros((_PREDICT_CHUNK, X.shape[1]), dtype=np.float32)
            padded[:n_rows] = chunk
            outputs = self._forward(trainable, non_trainable, padded)
            chunks.append(keras.ops.convert_to_numpy(outputs)[:n_rows])
        return np.concatenate(chunks).astype(np.float64, copy=False)

    def release(self) -> None:
        """Free what the backend keeps after the program is dropped."""

    # The training function, shared by the backends. ``state`` is what the backend threads
    # through the loops (JAX: every value; TensorFlow: nothing, its variables hold it).

    def _trace_epochs(self, state, best, clock, data: _Data, epochs, n_batches, n_epochs, host):
        """Run up to ``n_epochs`` epochs of ``epochs = (order, weights)`` (each
        ``(epochs_per_call, slots, step)``), stopping early on the validation loss.

        ``best`` is ``(score, bad epochs, weights)``, ``clock`` the learning-rate schedule's
        :class:`ScheduleClock`. Returns the state, ``best``, the clock and the records: per
        epoch the training loss, the validation loss, whether it set a new best and the
        learning rate, then the number of epochs run (a non-finite loss ends the call).
        """
        ops = keras.ops
        self.stats.count("epoch_compiles")
        order, weights = epochs
        capacity = order.shape[0]
        stopping = EarlyStopping(patience=0, tol=data.tol)

        def epoch(e, carry):
            state, best, clock, records, _ = carry
            rate = scheduled_rate(clock, data.schedule)
            state = self._set_learning_rate(state, rate)
            state, loss = self._train_epoch(state, data, order[e], weights[e], n_batches,
                                            tuple(a[e] for a in host))  # fmt: skip
            clock = ScheduleClock(*advance_clock(clock, loss, data.schedule))
            val_loss = self._validation_loss(state, data)
            score, bad, best_weights = best
            improved, score, bad = stopping.update(score, bad, -val_loss)
            best = (score, bad, self._keep_best(improved, state, best_weights))
            records = tuple(
                ops.scatter_update(r, [[e]], ops.reshape(ops.cast(v, r.dtype), (1,)))
                for r, v in zip(records, (loss, val_loss, improved, rate))
            )
            stop = ops.logical_or(bad >= data.patience, ops.logical_not(ops.isfinite(loss)))
            return state, best, clock, records, stop

        records = (
            ops.full((capacity,), np.nan, "float32"),
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

    def _validation_loss(self, state, data: _Data):
        ops = keras.ops
        order, weights, n_batches = data.validation
        trainable, non_trainable = self._weights(state)

        def chunk(i, total):
            loss, _ = objective(
                self, trainable, non_trainable, ops.take(data.X, order[i], axis=0),
                ops.take(data.Y, order[i], axis=0), weights[i], data.penalty, training=False,
            )  # fmt: skip
            return total + loss * ops.sum(weights[i])

        total = ops.fori_loop(0, n_batches, chunk, ops.convert_to_tensor(0.0))
        return total / ops.maximum(ops.sum(weights), 1e-12)

    def _train_epoch(self, state, data: _Data, order, weights, n_batches, host):
        ops = keras.ops

        def step(i, carry):
            state, total = carry
            x = ops.take(data.X, order[i], axis=0)
            y = ops.take(data.Y, order[i], axis=0)
            state, loss = self._train_step(state, x, y, weights[i], data.penalty,
                                           tuple(a[i] for a in host))  # fmt: skip
            return state, total + loss * ops.sum(weights[i])

        state, total = ops.fori_loop(0, n_batches, step, (state, ops.convert_to_tensor(0.0)))
        return state, total / ops.sum(weights)

    def _train_step(self, state, x, y, w, penalty, host):
        raise NotImplementedError

    def _set_learning_rate(self, state, rate):
        raise NotImplementedError

    def _weights(self, state) -> tuple[list, list]:
        raise NotImplementedError

    def _keep_best(self, improved, state, best_weights):
        raise NotImplementedError

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
        schedule = request.schedule
        n_train = len(request.train_rows)
        self.batch_size = min(schedule.batch_size, n_train)
        self.step = step_rows(schedule.batch_size, n_train)
        rows = bucket_rows(len(request.X))
        self.slots = -(-rows // self.step)
        # Each call uploads its epochs' batch indices: about 1 MB per call at most.
        self.epochs_per_call = max(1, min(32, 2**17 // (self.slots * self.step)))
        stopping = schedule.early_stopping
        self.data = dict(
            X=_padded(request.X, rows),
            Y=_padded(request.Y, rows),
            validation=self._validation_layout(),
            penalty=np.asarray(request.penalty, dtype=np.float32),
            patience=np.int32(stopping.patience if stopping else np.iinfo(np.int32).max),
            tol=np.float32(stopping.tol if stopping else 0.0),
            schedule=schedule.learning_rate.inputs(),
        )
        self.clock = ScheduleClock.start() if request.clock is None else request.clock
        _, augmentation_seeds = request.seeds.spawn(2)
        self.augmenter_state = (
            program.augmenter.initial_state(request.augmentation.strengths, augmentation_seeds)
            if program.augmenter is not None
            else ()
        )
        self.n_validation = 0 if request.validation_rows is None else len(request.validation_rows)
        self._drawn: list[tuple] = []  # epochs drawn and not yet run

    def _validation_layout(self) -> tuple[np.ndarray, np.ndarray, np.int32]:
        request = self.request
        if request.validation_rows is None or len(request.validation_rows) == 0:
            order = np.zeros((self.slots, self.step), np.int32)
            return order, order.astype(np.float32), np.int32(0)
        batches = epoch_batches(
            request.validation_weights, self.step, None, False,
            rows=request.validation_rows, step=self.step, slots=self.slots,
        )  # fmt: skip
        return batches.order, batches.weights, np.int32(batches.n_batches)

    def epoch_inputs(self, rng: np.random.Generator, epochs: int) -> tuple:
        """The next ``epochs`` epochs' batches and host draws, padded to a full call.

        Epochs are drawn ``epochs_per_call`` at a time and handed out in order, so the random
        stream, and with it the trained network, does not depend on how many epochs each
        call runs (one at a time with callbacks or a scorer, many otherwise).
        """
        while len(self._drawn) < epochs:
            self._drawn.extend(self._draw_epochs(rng))
        taken, self._drawn = self._drawn[:epochs], self._drawn[epochs:]
        fill = [taken[-1]] * (self.epochs_per_call - epochs)  # never run
        orders, weights, draws = zip(*(taken + fill))
        host = tuple(np.stack(arrays) for arrays in zip(*draws))
        return (np.stack(orders), np.stack(weights)), self._n_batches, np.int32(epochs), host

    def _draw_epochs(self, rng: np.random.Generator) -> list[tuple]:
        """``epochs_per_call`` epochs' (order, weights, host draws), drawn in one go."""
        request = self.request
        batches = epoch_batches(
            request.train_weights, self.batch_size, rng, request.schedule.shuffle,
            rows=request.train_rows, step=self.step, slots=self.slots,
            epochs=self.epochs_per_call,
        )  # fmt: skip
        self._n_batches = np.int32(batches.n_batches)
        return [
            (order, weights,
             request.augmentation.draw(rng, Batches(order, weights, batches.real_rows)))
            for order, weights in zip(batches.order, batches.weights)
        ]  # fmt: skip

    def records(self, losses, val_losses, improved, rates, ran, stopping) -> list[EpochRecord]:
        losses = np.asarray(keras.ops.convert_to_numpy(losses), dtype=np.float64)
        val_losses = keras.ops.convert_to_numpy(val_losses)
        improved = keras.ops.convert_to_numpy(improved)
        rates = keras.ops.convert_to_numpy(rates)
        n = int(keras.ops.convert_to_numpy(ran))
        return [
            EpochRecord(
                loss=float(losses[e]),
                val_loss=float(val_losses[e]) if self.n_validation else None,
                improved=bool(improved[e]) if stopping is not None else None,
                learning_rate=float(rates[e]),
            )
            for e in range(n)
        ]

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


def _dtype_name(value: Any) -> str:
    """The dtype of an array, or the type of a Python scalar (JAX types them weakly)."""
    dtype = getattr(value, "dtype", None)
    return str(dtype) if dtype is not None else type(value).__name__


class _JaxProgram(Program):
    """Stateless: a fit's state flows through functions compiled ahead of time by JAX.

    The program holds its compiled executables itself (one per argument shapes), so that
    :meth:`release` can clear JAX's global caches, which otherwise keep every dropped
    program's executables and the small programs JAX compiles for each new variable shape
    while a template is built (measured: about 8 MB per new layer width, freed only by
    ``jax.clear_caches``), without costing the live programs a recompilation.
    """

    def __init__(self, key: ProgramKey, stats: _Stats) -> None:
        import jax

        super().__init__(key, stats)
        self._jax = jax
        self._functions = {
            "epochs": jax.jit(self._trace_epochs),
            "forward": jax.jit(self._trace_forward),
        }
        self._compiled: dict[tuple, Any] = {}

    def session(self, request: TrainingRequest) -> _JaxSession:
        return _JaxSession(self, request)

    def call(self, name: str, *args: Any) -> Any:
        """Call the compiled function ``name``, compiling it once per argument shapes."""
        jax = self._jax
        leaves, structure = jax.tree_util.tree_flatten(args)
        signature = (name, structure, *((np.shape(a), _dtype_name(a)) for a in leaves))
        compiled = self._compiled.get(signature)
        if compiled is None:
            compiled = self._compiled[signature] = self._compile(name, args)
        return compiled(*args)

    def _compile(self, name: str, args: tuple) -> Any:
        """Compile ``name`` for ``args``; repair the on-disk cache if JAX could not read it.

        JAX compiles anew when an entry of its persistent cache cannot be read, but it warns
        and leaves the entry, so every later process pays the compilation again.
        """
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            compiled = self._functions[name].lower(*args).compile()
        cache = _backend.settings()["compilation_cache"]
        for warning in caught:
            text = str(warning.message)
            if cache is not None and text.startswith(_JAX_READ_ERROR):
                _repair_jax_cache(cache, text)
            else:  # someone else's: as it would have been shown
                warnings.warn_explicit(
                    warning.message, warning.category, warning.filename, warning.lineno
                )
        return compiled

    def release(self) -> None:
        self._compiled.clear()
        self._functions.clear()
        self._jax.clear_caches()

    def _forward(self, trainable, non_trainable, X):
        return self.call("forward", trainable, non_trainable, X)

    def _train_step(self, state, x, y, w, penalty, host):
        trainable, non_trainable, optimizer, augmenter = state
        if self.augmenter is not None:
            (x, y), augmenter = self.augmenter.stateless_call([], augmenter, x, y, *host)
        (loss, non_trainable), grads = self._jax.value_and_grad(
            lambda t, n: objective(self, t, n, x, y, w, penalty), has_aux=True
        )(trainable, non_trainable)
        trainable, optimizer = self.optimizer.stateless_apply(optimizer, grads, trainable)
        return (trainable, non_trainable, optimizer, augmenter), loss

    def _set_learning_rate(self, state, rate):
        trainable, non_trainable, optimizer, augmenter = state
        optimizer = list(optimizer)
        index = self._learning_rate_index
        optimizer[index] = keras.ops.cast(rate, optimizer[index].dtype)
        return trainable, non_trainable, optimizer, augmenter

    def _weights(self, state):
        return state[0], state[1]

    def _keep_best(self, improved, state, best_weights):
        ops = keras.ops
        current = state[0] + state[1]
        return [ops.where(improved, new, old) for new, old in zip(current, best_weights)]


class _JaxSession(_Session):
    def __init__(self, program: _JaxProgram, request: TrainingRequest) -> None:
        super().__init__(program, request)
        jax = program._jax
        network = program.network
        self.values = (
            _as_values(request.network.trainable, network.trainable_variables),
            _as_values(request.network.non_trainable, network.non_trainable_variables),
            list(program.optimizer_state(request.optimizer, request.learning_rate)),
            list(self.augmenter_state),
        )
        self.best = (np.float32(-np.inf), np.int32(0), self.values[0] + self.values[1])
        self.data = _Data(**jax.device_put(self.data))

    def __enter__(self) -> _JaxSession:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def run_epochs(self, rng, epochs, stopping):
        arrays, n_batches, n_epochs, host = self.epoch_inputs(rng, epochs)
        data = self.data if stopping is not None else self._without_stopping()
        self.values, self.best, self.clock, records = self.program.call(
            "epochs", self.values, self.best, self.clock, data, arrays, n_batches, n_epochs, host
        )
        return self.records(*records, stopping)

    def _without_stopping(self) -> _Data:
        return self.data._replace(patience=np.int32(np.iinfo(np.int32).max))

    def snapshot(self) -> Any:
        return self.values[:2]

    def restore(self, snapshot: Any) -> None:
        self.values = (*snapshot, *self.values[2:])

    def restore_best(self) -> None:
        weights = self.best[2]
        n = len(self.values[0])
        self.values = (list(weights[:n]), list(weights[n:]), *self.values[2:])

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
        xla_kernels = self.augmenter is None or self.augmenter.xla_compatible
        self.xla = xla_kernels and _tf_xla_allowed(key)
        self._epochs_function = tf.function(
            self._run_epochs, jit_compile=self.xla, autograph=False
        )
        self._forward_function = tf.function(self._run_forward, autograph=False)
        # One call to load or read a fit's whole state, instead of one per variable.
        self._load_function = tf.function(self._load, autograph=False)
        self._read_functions = {
            best: tf.function(lambda best=best: self._read(best), autograph=False)
            for best in (False, True)
        }
        self._concrete: dict[tuple, Any] = {}
        self._registered: set[str] = set()
        self._stable_functions: list = []
        self._variables = (
            self.network.trainable_variables,
            self.network.non_trainable_variables,
            self.optimizer.variables,
            self._augmenter_variables,
        )
        self.best_variables = [
            tf.Variable(tf.zeros(v.shape, v.dtype), trainable=False)
            for v in self._variables[0] + self._variables[1]
        ]
        self._all_variables = [v for group in self._variables for v in group]
        # What a saved training function may capture, in an order fixed by the key.
        self._stable_variables = self._all_variables + self.best_variables
        # A call's cost grows with its number of arguments: state travels as two buffers.
        self._state_packing = _Packing(self._all_variables)
        self._weights_packing = _Packing(self._variables[0] + self._variables[1])

    def session(self, request: TrainingRequest) -> _TensorFlowSession:
        return _TensorFlowSession(self, request)

    def claim(self) -> bool:
        """Take the variables for one fit: wait for another thread's fit to end, unless this
        thread is inside a fit itself (a nested fit in a scorer or callback, or a fit that
        another thread may be waiting on): then waiting could deadlock, so False."""
        if self.lock.acquire(blocking=False):
            _CLAIMS.count = getattr(_CLAIMS, "count", 0) + 1
            return True
        if getattr(_CLAIMS, "count", 0):
            return False
        self.lock.acquire()
        _CLAIMS.count = 1
        return True

    def unclaim(self) -> None:
        _CLAIMS.count -= 1
        self.lock.release()

    def release(self) -> None:
        _tf_unregister(self._registered)
        self._concrete.clear()
        for stable in self._stable_functions:
            stable.release()
        self._stable_functions.clear()

    def call(self, name: str, function: Any, args: tuple) -> Any:
        """Call ``function``, traced once per argument shapes (recording what tracing
        registered, see :class:`_tf_registrations`) or loaded from the compilation cache,
        under stable names (:mod:`skreg._tf_functions`)."""
        flat = self._tf.nest.flatten(args)
        signature = (name, *(tuple(np.shape(a)) for a in flat))
        traced = self._concrete.get(signature)
        if traced is not None:
            return traced(*args)
        specs = self._tf.nest.map_structure(
            lambda a: self._tf.TensorSpec(np.shape(a), _tf_dtype(a)), args
        )
        tag = repr((name, self.xla, self.key, specs))
        cache = _backend.settings()["compilation_cache"]
        entry = None if cache is None else entry_path(cache, tag)
        traced = None if entry is None else self._load_stable(name, tag, entry)
        if traced is None:
            traced = self._stable(self._trace(function, specs), tag, entry)
        try:
            result = traced(*args)  # the first call compiles, or loads the XLA cache's entry
        except (self._tf.errors.InvalidArgumentError, self._tf.errors.DataLossError,
                self._tf.errors.OutOfRangeError) as error:  # fmt: skip
            if cache is None or not _repaired_xla_cache(cache, str(error)):
                raise
            # TensorFlow remembers the failure under the function's names: trace it anew.
            traced = self._trace(function, specs)
            result = traced(*args)
        self._concrete[signature] = traced
        return result

    def _trace(self, function: Any, specs: Any) -> Any:
        with _TF_TRACE_LOCK, _tf_registrations(self._registered):
            return function.get_concrete_function(*specs)

    def _stable(self, traced: Any, tag: str, entry: Any) -> Any:
        """``traced`` under names that find its XLA cache entry from any process, saved at
        ``entry`` in the compilation cache (None: the cache is off) for :meth:`_load_stable`."""
        try:
            stable = StableFunction.from_traced(traced, tag)
        except Exception:  # a name taken by another function, or TensorFlow changed
            return traced
        self._stable_functions.append(stable)
        if entry is not None:
            with contextlib.suppress(OSError):
                stable.save(entry, tag, self._stable_variables)
        return stable

    def _load_stable(self, name: str, tag: str, entry: Any) -> Any:
        """The function for ``tag`` saved at ``entry`` by another process, or None: saves
        tracing it (the training function: 0.6-0.8 s for digits' network; TensorFlow still
        converts it to XLA at the first call, then finds the compiled code in its cache)."""
        try:
            stable = StableFunction.load(entry, tag, self._stable_variables)
        except Exception:  # as above: trace it instead
            return None
        if stable is not None:
            # What tracing would have counted (see Program._trace_epochs, _trace_forward).
            counter = {"epochs": "epoch_compiles", "forward": "forward_compiles"}.get(name)
            if counter is not None:
                self.stats.count(counter)
            self._stable_functions.append(stable)
        return stable

    def load(self, values: tuple) -> None:
        """Assign a fit's state: (trainable, non-trainable, optimizer, augmenter) values."""
        flat = [value for group in values for value in group]
        self.call("load", self._load_function, self._state_packing.pack(flat))

    def read(self, best: bool = False) -> tuple[list, ...]:
        """The state as NumPy arrays, grouped as :meth:`load` takes it; with ``best``, the
        weights kept by early stopping instead of the current ones."""
        name = "read_best" if best else "read"
        packed = self.call(name, self._read_functions[best], ())
        values = iter(self._state_packing.unpack(*(np.asarray(a) for a in packed)))
        return tuple([next(values) for _ in group] for group in self._variables)

    def _load(self, floats, integers):
        values = self._state_packing.unpack(floats, integers)
        for variable, value in zip(self._all_variables, values):
            variable.assign(value)
        return self._tf.constant(True)

    def _read(self, best):
        n_weights = len(self.best_variables)
        variables = (self.best_variables if best else self._all_variables[:n_weights]) + (
            self._all_variables[n_weights:]
        )
        return self._state_packing.pack([self._tf.convert_to_tensor(v) for v in variables])

    def _forward(self, trainable, non_trainable, X):
        packed = self._weights_packing.pack(list(trainable) + list(non_trainable))
        return self.call("forward", self._forward_function, (*packed, X))

    def _run_forward(self, floats, integers, X):
        values = self._weights_packing.unpack(floats, integers)
        n = len(self._variables[0])
        return self._trace_forward(values[:n], values[n:], X)

    def _run_epochs(self, best, clock, data, epochs, n_batches, n_epochs, host):
        score, bad = best
        _, (score, bad, _), clock, records = self._trace_epochs(
            (), (score, bad, []), ScheduleClock(*clock), _Data(*data), epochs, n_batches,
            n_epochs, host,
        )  # fmt: skip
        return (score, bad), tuple(clock), records

    def _set_learning_rate(self, state, rate):
        self.optimizer.variables[self._learning_rate_index].assign(rate)
        return state

    def _train_step(self, state, x, y, w, penalty, host):
        tf = self._tf
        if self.augmenter is not None:
            x, y = self.augmenter(x, y, *host)
        trainable_variables, non_trainable_variables = self._variables[:2]
        with tf.GradientTape() as tape:
            loss, non_trainable = objective(
                self, [v.value for v in trainable_variables],
                [v.value for v in non_trainable_variables], x, y, w, penalty,
            )  # fmt: skip
        grads = tape.gradient(loss, trainable_variables)
        for variable, value in zip(non_trainable_variables, non_trainable):
            variable.assign(value)
        self.optimizer.apply_gradients(zip(grads, trainable_variables))
        return state, loss

    def _weights(self, state):
        return [v.value for v in self._variables[0]], [v.value for v in self._variables[1]]

    def _keep_best(self, improved, state, best_weights):
        tf = self._tf
        current = self._variables[0] + self._variables[1]

        def keep():
            for best, variable in zip(self.best_variables, current):
                best.assign(variable.value)
            return tf.constant(True)

        tf.cond(improved, keep, lambda: tf.constant(False))
        return best_weights


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
        data = self.data
        self.data = _Data(
            X=tf.constant(data["X"]),
            Y=tf.constant(data["Y"]),
            validation=tuple(tf.constant(a) for a in data["validation"]),
            penalty=tf.constant(data["penalty"]),
            patience=tf.constant(data["patience"]),
            tol=tf.constant(data["tol"]),
            schedule=tuple(tf.constant(a) for a in data["schedule"]),
        )
        self.best = (np.float32(-np.inf), np.int32(0))
        self._finished_at_best = False

    def __enter__(self) -> _TensorFlowSession:
        self.program.load(self.values)
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def run_epochs(self, rng, epochs, stopping):
        arrays, n_batches, n_epochs, host = self.epoch_inputs(rng, epochs)
        data = self.data
        if stopping is None:
            data = data._replace(patience=np.int32(np.iinfo(np.int32).max))
        args = (self.best, tuple(self.clock), tuple(data), arrays, n_batches, n_epochs, host)
        self.best, clock, records = self.program.call(
            "epochs", self.program._epochs_function, args
        )
        self.clock = ScheduleClock(*clock)
        return self.records(*records, stopping)

    def snapshot(self) -> Any:
        return self.program.read()[:2]

    def restore(self, snapshot: Any) -> None:
        self.program.load((*snapshot, *self.program.read()[2:]))

    def restore_best(self) -> None:
        # Training is over: the state is read, not run again, so reading the kept weights
        # is enough (saves loading them back).
        self._finished_at_best = True

    def current(self) -> tuple[list, list, list]:
        return self.program.read(best=self._finished_at_best)[:3]


class _Packing:
    """Packs variables' values into one float32 and one int64 buffer, and back."""

    def __init__(self, variables: list) -> None:
        self.shapes = [tuple(v.shape) for v in variables]
        self.dtypes = [keras.backend.standardize_dtype(v.dtype) for v in variables]
        self.is_float = [dtype.startswith("float") for dtype in self.dtypes]
        sizes = [int(np.prod(shape)) for shape in self.shapes]
        self.sizes = {
            kind: [size for size, f in zip(sizes, self.is_float) if f == kind]
            for kind in (True, False)
        }

    def pack(self, values: list) -> tuple[Any, Any]:
        ops = keras.ops
        if all(isinstance(v, np.ndarray | np.generic | float | int) for v in values):
            flat = [np.ravel(np.asarray(v)) for v in values]
            cat = np.concatenate
            to = {True: np.float32, False: np.int64}
            return tuple(
                cat([f.astype(to[kind]) for f, k in zip(flat, self.is_float) if k == kind] or
                    [np.zeros(0, to[kind])])
                for kind in (True, False)
            )  # fmt: skip
        flat = [ops.reshape(v, (-1,)) for v in values]
        to = {True: "float32", False: "int64"}
        return tuple(
            ops.concatenate(
                [ops.cast(f, to[kind]) for f, k in zip(flat, self.is_float) if k == kind]
                or [ops.zeros((0,), to[kind])]
            )
            for kind in (True, False)
        )

    def unpack(self, floats: Any, integers: Any) -> list:
        numpy = isinstance(floats, np.ndarray)
        ops = keras.ops
        offsets = {True: 0, False: 0}
        buffers = {True: floats, False: integers}
        values = []
        for shape, dtype, kind in zip(self.shapes, self.dtypes, self.is_float):
            size = int(np.prod(shape))
            start = offsets[kind]
            piece = buffers[kind][start : start + size]
            offsets[kind] = start + size
            if numpy:
                values.append(piece.reshape(shape).astype(dtype))
            else:
                values.append(ops.cast(ops.reshape(piece, shape), dtype))
        return values


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

    @contextlib.contextmanager
    def lease(self, key: ProgramKey, *, exclusive: bool = False) -> Iterator[Program]:
        """The program of ``key``, kept alive until the block ends.

        A program dropped meanwhile (by :meth:`clear`, a smaller size or another thread's
        fit) is released only when its last lease ends, so no thread loses the program it
        runs. With ``exclusive``, the block has the program's state to itself (TensorFlow's
        variables); where waiting for it could deadlock, it runs on a program of its own,
        built for the block and released after it.
        """
        program = self._check_out(key)
        try:
            if not exclusive:
                yield program
            elif program.claim():
                try:
                    yield program
                finally:
                    program.unclaim()
            else:
                own = _make_program(key, self._stats)
                own.users, own.dropped = 1, True
                try:
                    yield own
                finally:
                    self._check_in(own)
        finally:
            self._check_in(program)

    def trim(self) -> None:
        """Drop the least recently used programs beyond the configured size."""
        with self._lock:
            while len(self._programs) > get_config()["program_cache_size"]:
                _, program = self._programs.popitem(last=False)
                self._stats.count("evictions")
                self._drop(program)

    def clear(self) -> None:
        """Drop every program (statistics are kept)."""
        with self._lock:
            while self._programs:
                self._drop(self._programs.popitem(last=False)[1])

    def _check_out(self, key: ProgramKey) -> Program:
        with self._lock:
            program = self._programs.get(key)
            if program is not None:
                self._programs.move_to_end(key)
                self._stats.count("hits")
            else:
                self._stats.count("misses")
                program = self._programs[key] = _make_program(key, self._stats)
                self.trim()
            program.users += 1
            return program

    def _check_in(self, program: Program) -> None:
        with self._lock:
            program.users -= 1
            if program.dropped and program.users == 0:
                program.release()

    def _drop(self, program: Program) -> None:
        program.dropped = True
        if program.users == 0:
            program.release()

    def info(self) -> CacheInfo:
        with self._lock:
            return CacheInfo(
                **self._stats.counts,
                size=len(self._programs),
                max_size=get_config()["program_cache_size"],
            )


PROGRAMS = ProgramCache()
register_hook("info", PROGRAMS.info)
register_hook("clear", PROGRAMS.clear)
register_hook("trim", PROGRAMS.trim)


def _make_program(key: ProgramKey, stats: _Stats) -> Program:
    # The backend is the process's, not the key's: a fit's state is NumPy arrays that any
    # backend loads, so an estimator pickled under one backend predicts under the other.
    backend = keras.backend.backend()
    programs = {"tensorflow": _TensorFlowProgram, "jax": _JaxProgram}
    if backend not in programs:
        raise RuntimeError(
            "skreg supports the 'tensorflow' and 'jax' Keras backends; the active one is "
            f"{backend!r}."
        )
    return programs[backend](key, stats)


def _padded(array: np.ndarray, rows: int) -> np.ndarray:
    out = np.zeros((rows, *array.shape[1:]), dtype=np.float32)
    out[: len(array)] = array
    return out


def _numpy(value: Any) -> np.ndarray:
    if isinstance(value, keras.Variable):  # NumPy 2 deprecates the variables' __array__
        value = keras.ops.copy(value)
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


# How many TensorFlow programs' variables this thread holds (see _TensorFlowProgram.claim).
_CLAIMS = threading.local()

# TensorFlow: what tracing registers globally, and how a dropped program takes it back.
_TF_TRACE_LOCK = threading.Lock()


# The networks this process compiled with XLA. A program made again for one of them (after
# the cache dropped it) finds TensorFlow's compiled code under its stable names
# (:mod:`skreg._tf_functions`): measured on digits, 1.1-1.25 s per new program against 3.2 s,
# and no memory growth against about 20 MB per program when the names changed.
_TF_XLA_KEYS: set[ProgramKey] = set()
_TF_XLA_WARNED = [False]


def _tf_xla_allowed(key: ProgramKey) -> bool:
    """Whether a new TensorFlow program for ``key`` may compile with XLA.

    TensorFlow never frees XLA code (about 10 MB per program measured here), so a process
    compiles at most ``program_cache_size`` networks with XLA; later ones (a search cycling
    through more networks than the cache holds) run in TensorFlow's graph executor, which
    compiles in a third of the time, runs an epoch 1.5-1.9x slower and is freed when dropped.
    skreg's random numbers are the same under both, so the results agree up to float rounding.
    """
    limit = get_config()["program_cache_size"]
    with _TF_TRACE_LOCK:
        if key in _TF_XLA_KEYS or len(_TF_XLA_KEYS) < limit:
            _TF_XLA_KEYS.add(key)
            return True
        if _TF_XLA_WARNED[0]:
            return False
        _TF_XLA_WARNED[0] = True
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


_CACHE_REPAIRED = [False]
_JAX_READ_ERROR = "Error reading persistent compilation cache entry for '"


def _repair_jax_cache(cache: str, message: str) -> None:
    """Remove the entries of JAX's cache in ``cache`` for the module that ``message`` (JAX's
    read-error warning) names, and that do not decompress (see :func:`_repaired_xla_cache`)."""
    from jax._src import compilation_cache  # private: the one way to read an entry

    module = message[len(_JAX_READ_ERROR) :].split("'")[0]
    broken = []
    for path in Path(cache).glob(f"{module}-*-cache"):
        try:
            compilation_cache.decompress_executable(path.read_bytes())
        except Exception:  # zlib's or zstandard's error, whichever JAX uses
            broken.append(path)
    _report_repair(cache, broken, "JAX")


def _repaired_xla_cache(cache: str, message: str) -> bool:
    """Remove the broken entries of TensorFlow's XLA cache in ``cache`` (see
    :func:`broken_xla_entries`); warn once per process. Whether any was found."""
    broken = broken_xla_entries(cache, message)
    _report_repair(cache, broken, "XLA")
    return bool(broken)


def _report_repair(cache: str, broken: list[Path], kind: str) -> None:
    """Delete the ``broken`` entries; warn the first time in the process."""
    for path in broken:
        for companion in (path, path.with_name(path.name.removesuffix("-cache") + "-atime")):
            with contextlib.suppress(OSError):
                companion.unlink()
    if broken and not _CACHE_REPAIRED[0]:
        _CACHE_REPAIRED[0] = True
        warnings.warn(
            f"skreg's compilation cache in {cache} held {len(broken)} damaged {kind} "
            f"entr{'y' if len(broken) == 1 else 'ies'} (a full disk, a killed process or a "
            "partial copy leaves them), which skreg removed; the network was compiled again.",
            RuntimeWarning,
            stacklevel=4,
        )


def _tf_unregister(gradients: set[str]) -> None:
    registry = _tf_gradient_registry()
    for name in gradients:
        registry.pop(name, None)
    gradients.clear()
