"""The training engine: compiled epochs, early stopping and history. No scikit-learn here.

Keras' per-step overhead, not arithmetic, dominates the small networks skreg trains, so the
engine runs a whole epoch per compiled call: the data are uploaded once per ``fit``, the host
only sends the epoch's shuffled batch indices, and a backend loop (``tf.while_loop`` under
``tf.function`` on TensorFlow, ``lax.fori_loop`` under ``jax.jit`` on JAX) runs the steps.
Batches have a fixed size; the last one is padded with zero-weight rows so every step has the
same shape and the padding contributes nothing to the loss or the gradient.

Tracing those compiled functions is the largest fixed cost of a fit, and TensorFlow never
frees the loop functions it registers, so engines are pooled (:class:`EnginePool`): fits of
the same network shape lease one engine, load their weights and optimizer state into it, train,
and copy the result back into their own Keras model.

The estimators only see :class:`TrainingEngine`, :class:`EnginePool` and :func:`train`, so the
engine can change without touching them.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from . import _random

LossFunction = Callable[[Any, Any], Any]

# Predict inputs are cut into chunks of at most this many rows, and each chunk is padded to a
# power of two of at least _PREDICT_MIN_ROWS rows. The forward pass is compiled once per
# padded shape (at most 8 of them per network), and CPU matrix kernels then see whole blocks:
# a partial tail block is computed differently, which would make a row's prediction change in
# the last bits with its position in X.
_PREDICT_CHUNK = 8192
_PREDICT_MIN_ROWS = 64


@dataclass(frozen=True)
class Batches:
    """One epoch's batches: row indices and per-row weights, both (n_batches, batch_size).

    Padding rows (to fill the last batch) carry weight 0. With Mixup, ``partners`` (an index
    into the same batch) and ``lambdas`` (the mixing weight) give each row's mixing.
    """

    order: np.ndarray
    weights: np.ndarray
    partners: np.ndarray | None = None
    lambdas: np.ndarray | None = None


def epoch_batches(
    sample_weight: np.ndarray,
    batch_size: int,
    rng: np.random.Generator,
    shuffle: bool,
    mixup_alpha: float = 0.0,
) -> Batches:
    """Arrange one epoch of ``len(sample_weight)`` rows into fixed-size batches.

    With ``mixup_alpha > 0``, also draw each row's Mixup partner in its batch and its mixing
    weight from ``Beta(mixup_alpha, mixup_alpha)``.
    """
    n_samples = len(sample_weight)
    batch_size = min(batch_size, n_samples)
    n_batches = math.ceil(n_samples / batch_size)
    order = rng.permutation(n_samples) if shuffle else np.arange(n_samples)
    n_pad = n_batches * batch_size - n_samples
    weights = np.concatenate([sample_weight[order], np.zeros(n_pad, dtype=np.float32)])
    order = np.concatenate([order, order[:n_pad]])
    shape = (n_batches, batch_size)
    partners = lambdas = None
    if mixup_alpha > 0:
        partners = rng.permuted(np.broadcast_to(np.arange(batch_size), shape), axis=1)
        partners = partners.astype(np.int32)
        lambdas = rng.beta(mixup_alpha, mixup_alpha, size=shape).astype(np.float32)
    return Batches(
        order=order.reshape(shape).astype(np.int32),
        weights=weights.reshape(shape).astype(np.float32),
        partners=partners,
        lambdas=lambdas,
    )


def _weighted_loss(loss: LossFunction, y_true: Any, y_pred: Any, weights: Any) -> Any:
    """Weighted mean of the per-row loss (scikit-learn's convention for sample weights)."""
    ops = keras.ops
    total = ops.sum(loss(y_true, y_pred) * weights)
    return total / ops.maximum(ops.sum(weights), 1e-12)


def _kernel_penalty(kernels: list[Any], coefficients: Any, terms: tuple[bool, bool]) -> Any:
    """``l1 * sum(|W|) + l2 * sum(W**2)`` over the dense kernels (Keras' ``L1L2`` formula).

    ``terms`` says which of the two the engine computes at all.
    """
    ops = keras.ops
    penalty = 0.0
    if terms[0]:
        penalty += coefficients[0] * sum(ops.sum(ops.abs(kernel)) for kernel in kernels)
    if terms[1]:
        penalty += coefficients[1] * sum(ops.sum(ops.square(kernel)) for kernel in kernels)
    return penalty


class TrainingEngine:
    """Trains one Keras model, one compiled call per epoch.

    Parameters
    ----------
    model : keras.Model
        The network. The engine adds the weight penalty itself, with the coefficients of
        :meth:`set_penalty`, so one compiled engine serves every ``l1`` and ``l2``; the
        model's own regularization losses are not used.
    optimizer : keras.optimizers.Optimizer
        Built on the model's trainable variables if it is not built yet.
    loss : callable
        ``loss(y_true, y_pred)`` returning one loss per row.
    augmenter : keras.layers.Layer or None
        Called as ``augmenter(x, y, partners, lambdas)`` on every training batch before the
        network (see :func:`skreg.augmentation.build_augmenter`); its variables are
        random-generator states, which :meth:`seed_augmentation` sets for each fit.
    penalty_terms : (bool, bool)
        Whether the compiled step computes the L1 and the L2 term; the coefficients of the
        terms it computes are set per fit by :meth:`set_penalty`.
    """

    def __init__(
        self,
        model: keras.Model,
        optimizer: Any,
        loss: LossFunction,
        augmenter: Any = None,
        penalty_terms: tuple[bool, bool] = (True, True),
    ) -> None:
        self.model = model
        self.optimizer = optimizer
        self.loss = loss
        self.augmenter = augmenter
        self.penalty_terms = tuple(penalty_terms)
        if not optimizer.built:
            optimizer.build(model.trainable_variables)
        kernels = {
            id(layer.kernel) for layer in model.layers if isinstance(layer, keras.layers.Dense)
        }
        self._kernel_indices = [
            i for i, variable in enumerate(model.trainable_variables) if id(variable) in kernels
        ]
        self._penalty_coefficients = np.zeros(2, dtype=np.float32)

    def to_device(self, *arrays: np.ndarray) -> tuple[Any, ...]:
        """Upload arrays once per fit."""
        return tuple(keras.ops.convert_to_tensor(a) for a in arrays)

    def train_epoch(self, X: Any, Y: Any, batches: Batches) -> float:
        """Run one epoch; return the weighted mean batch loss (penalty included)."""
        raise NotImplementedError

    def evaluate(self, X: Any, Y: Any, weights: Any) -> float:
        """Loss on data in inference mode (no dropout), penalty included, as Keras reports it."""
        raise NotImplementedError

    def predict(self, X: np.ndarray, model: keras.Model | None = None) -> np.ndarray:
        """Network outputs for ``X`` in inference mode, as a float64 NumPy array.

        With ``model`` (of this engine's architecture), the outputs of that model's weights:
        the compiled forward pass is shared by every model of the architecture, so a fitted
        estimator predicts without tracing anything. Without it, the engine's own weights.
        """
        if model is None:
            trainable, non_trainable = self._live_weights()
        else:
            trainable = [v.value for v in model.trainable_variables]
            non_trainable = [v.value for v in model.non_trainable_variables]
        chunks = []
        for start in range(0, len(X), _PREDICT_CHUNK):
            chunk = X[start : start + _PREDICT_CHUNK]
            n_rows = len(chunk)
            padded_rows = self._padded_rows(n_rows)
            if padded_rows != n_rows:
                padded = np.zeros((padded_rows, X.shape[1]), dtype=np.float32)
                padded[:n_rows] = chunk
                chunk = padded
            outputs = self._forward(trainable, non_trainable, chunk)
            chunks.append(keras.ops.convert_to_numpy(outputs)[:n_rows])
        return np.concatenate(chunks).astype(np.float64, copy=False)

    def load_from(self, model: keras.Model) -> None:
        """Take over the weights, random-generator states and optimizer state of ``model``.

        ``model`` must have this engine's architecture and a built optimizer of the same kind.
        """
        _copy_state(model, self.model)

    def save_to(self, model: keras.Model) -> None:
        """Copy the trained state back into ``model`` (the inverse of :meth:`load_from`)."""
        _copy_state(self.model, model)

    def set_penalty(self, l1: float, l2: float) -> None:
        """Penalize the dense kernels by ``l1 * sum(|W|) + l2 * sum(W**2)`` from now on."""
        for name, value, on in zip(("l1", "l2"), (l1, l2), self.penalty_terms):
            if value and not on:
                raise ValueError(f"This engine was compiled without the {name} penalty.")
        self._penalty_coefficients = np.array([l1, l2], dtype=np.float32)

    def seed_augmentation(self, seeds: np.random.SeedSequence) -> None:
        """Seed the augmenter's random generators for the next fit (after :meth:`load_from`)."""
        if self.augmenter is not None:
            self.augmenter.reseed(seeds)

    def snapshot(self) -> Any:
        """Copy of the network's weights, to restore the best epoch later."""
        return self.model.get_weights()

    def restore(self, snapshot: Any) -> None:
        self.model.set_weights(snapshot)

    def finish(self) -> None:
        """Make the Keras model's variables hold the trained values."""

    def _live_weights(self) -> tuple[list[Any], list[Any]]:
        return (
            [v.value for v in self.model.trainable_variables],
            [v.value for v in self.model.non_trainable_variables],
        )

    def _padded_rows(self, n_rows: int) -> int:
        return max(_PREDICT_MIN_ROWS, 1 << max(n_rows - 1, 0).bit_length())

    def _run_forward(self, trainable: Any, non_trainable: Any, X: Any) -> Any:
        y_pred, _ = self.model.stateless_call(trainable, non_trainable, X, training=False)
        return y_pred


class _TensorFlowEngine(TrainingEngine):
    """Stateful training under ``tf.function``, as Keras' own TensorFlow trainer does."""

    def __init__(self, model: keras.Model, optimizer: Any, loss: LossFunction, *args: Any) -> None:
        import tensorflow as tf

        super().__init__(model, optimizer, loss, *args)
        self._tf = tf
        # TensorFlow's image rotation, translation and zoom have no XLA kernels.
        self._xla = self.augmenter is None or self.augmenter.xla_compatible
        self._epoch = tf.function(self._run_epoch, reduce_retracing=True, jit_compile=self._xla)
        self._evaluate = tf.function(self._run_evaluate, reduce_retracing=True)
        self._forward = tf.function(self._run_forward, jit_compile=True)
        for function in (self._epoch, self._evaluate, self._forward):
            # TensorFlow counts traces per source function across all engines, so a grid
            # search (one new engine per fit, each traced once) would be reported as
            # "excessive retracing". Each engine traces its functions once per input shape.
            function._omit_frequent_tracing_warning = True

    def train_epoch(self, X: Any, Y: Any, batches: Batches) -> float:
        arrays = _epoch_arrays(batches)
        return float(self._epoch(X, Y, self._penalty_coefficients, *arrays))

    def evaluate(self, X: Any, Y: Any, weights: Any) -> float:
        return float(self._evaluate(X, Y, weights, self._penalty_coefficients))

    def _run_epoch(self, X: Any, Y: Any, penalty: Any, *arrays: Any) -> Any:
        with _random.xla_compiled() if self._xla else nullcontext():
            return self._trace_epoch(X, Y, penalty, *arrays)

    def _trace_epoch(
        self, X: Any, Y: Any, penalty: Any, order: Any, weights: Any, *mixing: Any
    ) -> Any:
        tf = self._tf
        variables = self.model.trainable_variables
        kernels = [variables[i] for i in self._kernel_indices]

        def step(i: Any, total: Any) -> tuple[Any, Any]:
            x = tf.gather(X, order[i])
            y = tf.gather(Y, order[i])
            if self.augmenter is not None:
                x, y = self.augmenter(x, y, *(m[i] for m in mixing))
            with tf.GradientTape() as tape:
                y_pred = self.model(x, training=True)
                loss = _weighted_loss(self.loss, y, y_pred, weights[i])
                loss = loss + _kernel_penalty(kernels, penalty, self.penalty_terms)
            grads = tape.gradient(loss, variables)
            self.optimizer.apply_gradients(zip(grads, variables))
            return i + 1, total + loss * tf.reduce_sum(weights[i])

        n_batches = tf.shape(order)[0]
        _, total = tf.while_loop(
            lambda i, _: i < n_batches, step, (tf.constant(0), tf.constant(0.0))
        )
        return total / tf.reduce_sum(weights)

    def _run_evaluate(self, X: Any, Y: Any, weights: Any, penalty: Any) -> Any:
        y_pred = self.model(X, training=False)
        kernels = [self.model.trainable_variables[i] for i in self._kernel_indices]
        return _weighted_loss(self.loss, Y, y_pred, weights) + _kernel_penalty(
            kernels, penalty, self.penalty_terms
        )


class _JaxEngine(TrainingEngine):
    """Stateless training under ``jax.jit``, as Keras' own JAX trainer does.

    While training, the weights live in ``self._state``; :meth:`finish` writes them back to
    the Keras variables, which are the truth again until the next epoch.
    """

    def __init__(self, model: keras.Model, optimizer: Any, loss: LossFunction, *args: Any) -> None:
        import jax

        super().__init__(model, optimizer, loss, *args)
        self._jax = jax
        self._state = None
        self._epoch = jax.jit(self._run_epoch)
        self._evaluate = jax.jit(self._run_evaluate)
        self._forward = jax.jit(self._run_forward)

    def train_epoch(self, X: Any, Y: Any, batches: Batches) -> float:
        state = self._current_state()
        arrays = _epoch_arrays(batches)
        self._state, loss = self._epoch(state, X, Y, self._penalty_coefficients, *arrays)
        return float(loss)

    def evaluate(self, X: Any, Y: Any, weights: Any) -> float:
        trainable, non_trainable = self._current_state()[:2]
        penalty = self._penalty_coefficients
        return float(self._evaluate(trainable, non_trainable, X, Y, weights, penalty))

    def snapshot(self) -> Any:
        return self._current_state()[:2]

    def restore(self, snapshot: Any) -> None:
        self._state = (*snapshot, *self._current_state()[2:])

    def load_from(self, model: keras.Model) -> None:
        self._state = None
        super().load_from(model)

    def finish(self) -> None:
        if self._state is None:
            return
        for variables, values in zip(self._variable_groups(), self._state):
            for variable, value in zip(variables, values):
                variable.assign(value)
        self._state = None

    def _variable_groups(self) -> tuple[list[Any], ...]:
        """Weights, other model state, optimizer state and augmentation random states."""
        return (
            self.model.trainable_variables,
            self.model.non_trainable_variables,
            self.optimizer.variables,
            self.augmenter.non_trainable_variables if self.augmenter is not None else [],
        )

    def _current_state(self) -> tuple[list[Any], ...]:
        if self._state is not None:
            return self._state
        return tuple([v.value for v in group] for group in self._variable_groups())

    def _live_weights(self) -> tuple[list[Any], list[Any]]:
        return self._current_state()[:2]

    def _run_evaluate(
        self, trainable: Any, non_trainable: Any, X: Any, Y: Any, weights: Any, penalty: Any
    ) -> Any:
        y_pred, _ = self.model.stateless_call(trainable, non_trainable, X, training=False)
        kernels = [trainable[i] for i in self._kernel_indices]
        return _weighted_loss(self.loss, Y, y_pred, weights) + _kernel_penalty(
            kernels, penalty, self.penalty_terms
        )

    def _run_epoch(
        self, state: Any, X: Any, Y: Any, penalty: Any, order: Any, weights: Any, *mixing: Any
    ) -> Any:
        jax = self._jax

        def batch_loss(trainable: Any, non_trainable: Any, x: Any, y: Any, w: Any) -> Any:
            y_pred, non_trainable = self.model.stateless_call(
                trainable, non_trainable, x, training=True
            )
            kernels = [trainable[i] for i in self._kernel_indices]
            loss = _weighted_loss(self.loss, y, y_pred, w) + _kernel_penalty(
                kernels, penalty, self.penalty_terms
            )
            return loss, non_trainable

        def step(i: Any, carry: Any) -> Any:
            trainable, non_trainable, optimizer_state, augmenter_state, total = carry
            x, y = X[order[i]], Y[order[i]]
            if self.augmenter is not None:
                (x, y), augmenter_state = self.augmenter.stateless_call(
                    [], augmenter_state, x, y, *(m[i] for m in mixing)
                )
            (loss, non_trainable), grads = jax.value_and_grad(batch_loss, has_aux=True)(
                trainable, non_trainable, x, y, weights[i]
            )
            trainable, optimizer_state = self.optimizer.stateless_apply(
                optimizer_state, grads, trainable
            )
            total = total + loss * weights[i].sum()
            return trainable, non_trainable, optimizer_state, augmenter_state, total

        *state, total = jax.lax.fori_loop(0, order.shape[0], step, (*state, 0.0))
        return tuple(state), total / weights.sum()


def _epoch_arrays(batches: Batches) -> tuple[np.ndarray, ...]:
    """The epoch's arrays for a compiled epoch: order, weights and, with Mixup, the mixing."""
    mixing = () if batches.partners is None else (batches.partners, batches.lambdas)
    return (batches.order, batches.weights, *mixing)


def _copy_state(source: keras.Model, target: keras.Model) -> None:
    pairs = [
        (source.trainable_variables, target.trainable_variables),
        # Non-trainable variables include the dropout layers' random-generator states.
        (source.non_trainable_variables, target.non_trainable_variables),
        (source.optimizer.variables, target.optimizer.variables),
    ]
    for sources, targets in pairs:
        if len(sources) != len(targets):
            raise ValueError("The two models do not have the same variables.")
        for source_variable, target_variable in zip(sources, targets):
            target_variable.assign(source_variable.value)


class EnginePool:
    """Idle engines by network key, least recently used dropped first.

    A leased engine belongs to one fit until it is returned, so concurrent fits in threads
    never share one.
    """

    def __init__(self, max_size: int = 8) -> None:
        self.max_size = max_size
        self._idle: OrderedDict[Hashable, TrainingEngine] = OrderedDict()
        self._lock = threading.Lock()

    def shared(self, key: Hashable, factory: Callable[[], TrainingEngine]) -> TrainingEngine:
        """An engine for read-only use (:meth:`TrainingEngine.predict` with a model).

        It may be leased for training at the same time: predicting from another model's
        weights does not touch the engine's own state.
        """
        with self._lock:
            engine = self._idle.get(key)
            if engine is None:
                engine = self._idle[key] = factory()
                self._trim()
            return engine

    @contextmanager
    def lease(
        self, key: Hashable, factory: Callable[[], TrainingEngine]
    ) -> Iterator[TrainingEngine]:
        with self._lock:
            engine = self._idle.pop(key, None)
        if engine is None:
            engine = factory()
        try:
            yield engine
        finally:
            with self._lock:
                self._idle[key] = engine
                self._idle.move_to_end(key)
                self._trim()

    def _trim(self) -> None:
        while len(self._idle) > self.max_size:
            self._idle.popitem(last=False)


def make_engine(
    model: keras.Model,
    optimizer: Any,
    loss: LossFunction,
    augmenter: Any = None,
    penalty_terms: tuple[bool, bool] = (True, True),
) -> TrainingEngine:
    """The engine for the active Keras backend (see :class:`TrainingEngine`)."""
    backend = keras.backend.backend()
    engines = {"tensorflow": _TensorFlowEngine, "jax": _JaxEngine}
    if backend in engines:
        return engines[backend](model, optimizer, loss, augmenter, penalty_terms)
    raise RuntimeError(
        f"skreg supports the 'tensorflow' and 'jax' Keras backends; the active one is {backend!r}."
    )


@dataclass(frozen=True)
class EarlyStopping:
    """Stop when the monitored score has not improved by ``tol`` for ``patience`` epochs."""

    patience: int
    tol: float


@dataclass(frozen=True)
class TrainingSchedule:
    """How long and how to train."""

    epochs: int
    batch_size: int
    shuffle: bool = True
    early_stopping: EarlyStopping | None = None
    verbose: int = 0
    mixup_alpha: float = 0.0


@dataclass
class TrainingResult:
    """What one call of :func:`train` observed, epoch by epoch."""

    history: dict[str, list[float]] = field(default_factory=dict)
    scores: list[float] = field(default_factory=list)
    best_epoch: int = 0
    best_score: float | None = None

    @property
    def n_epochs(self) -> int:
        return len(self.history.get("loss", []))


def train(
    engine: TrainingEngine,
    X: Any,
    Y: Any,
    sample_weight: np.ndarray,
    schedule: TrainingSchedule,
    rng: np.random.Generator,
    validate: Callable[[], tuple[dict[str, float], float]] | None = None,
) -> TrainingResult:
    """Train for ``schedule.epochs`` epochs or until early stopping.

    ``validate`` returns the epoch's validation metrics (for the history) and the score to
    maximize; with it and ``schedule.early_stopping``, the best epoch's weights are restored.
    A non-finite training loss stops with a ``FloatingPointError``.
    """
    result = TrainingResult(history={"loss": []})
    try:
        _run_epochs(engine, X, Y, sample_weight, schedule, rng, validate, result)
    finally:
        # Also on failure: the Keras variables then hold what the caller restores from.
        engine.finish()
    if not schedule.early_stopping or validate is None:
        result.best_epoch = result.n_epochs
    return result


def _run_epochs(engine, X, Y, sample_weight, schedule, rng, validate, result) -> None:
    stopping = schedule.early_stopping
    best = None
    epochs_without_improvement = 0
    for epoch in range(1, schedule.epochs + 1):
        batches = epoch_batches(
            sample_weight, schedule.batch_size, rng, schedule.shuffle, schedule.mixup_alpha
        )
        loss = engine.train_epoch(X, Y, batches)
        if not math.isfinite(loss):
            raise FloatingPointError(
                f"The training loss became {loss} at epoch {epoch}: training diverged. Scale the "
                "features (for example with StandardScaler) or lower learning_rate."
            )
        result.history["loss"].append(loss)
        metrics: dict[str, float] = {}
        if validate is not None:
            metrics, score = validate()
            for name, value in metrics.items():
                result.history.setdefault(name, []).append(value)
            result.scores.append(score)
            tol = stopping.tol if stopping else 0.0
            if result.best_score is None or score > result.best_score + tol:
                result.best_score, result.best_epoch = score, epoch
                epochs_without_improvement = 0
                best = engine.snapshot() if stopping else None
            else:
                epochs_without_improvement += 1
        if schedule.verbose:
            _print_epoch(epoch, schedule.epochs, loss, metrics)
        if stopping and epochs_without_improvement >= stopping.patience:
            break
    if best is not None:
        engine.restore(best)


def _print_epoch(epoch: int, epochs: int, loss: float, metrics: dict[str, float]) -> None:
    parts = [f"Epoch {epoch}/{epochs}", f"loss = {loss:.6f}"]
    parts += [f"{name} = {value:.6f}" for name, value in metrics.items()]
    print(", ".join(parts), flush=True)
