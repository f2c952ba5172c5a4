"""The training loop: epoch batches, early stopping and history. No scikit-learn, no Keras.

Keras' per-step overhead, not arithmetic, dominates the small networks skreg trains, so a
compiled program (:mod:`skreg._programs`) runs a whole epoch per call: the data are uploaded
once per ``fit`` and the host only sends the epoch's shuffled batch indices. This module is the
host side of that conversation: it lays out each epoch's batches and decides, epoch by epoch,
whether to go on. It drives any object with the :class:`Session` methods, so its logic is
tested with scripted scores and no network.

Every shape a compiled program sees is fixed by two numbers, so that one program serves every
fold of a cross-validation (a new shape would compile again, 1-4 s each):

- ``step_rows``, the rows of one compiled step: the batch size, or for a training set smaller
  than one batch the next power of two of at least ``MIN_STEP_ROWS`` (so the batch size
  itself, by default). A batch's real rows come first; the rest of the step repeats them
  with weight 0, so they change neither the loss nor the gradient (batch normalization's
  statistics do see the repeats).
- ``slots``, the batches an epoch's index array can hold; unused slots are never run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

# Uploaded data are padded to at least this many rows, then to the next power of two: every
# fold of a data set of up to this size runs in one compiled program. Padding rows are never
# indexed; they cost 4 bytes per feature each.
MIN_BUCKET_ROWS = 2048
# A training set smaller than one batch runs in a step of at least this many rows (or of the
# batch size, if smaller): with the default batch size of 200, every small fold shares one
# step shape. Computing a few more rows costs less than compiling again.
MIN_STEP_ROWS = 256


def bucket_rows(n_rows: int) -> int:
    """The padded row count of ``n_rows`` uploaded rows."""
    return max(MIN_BUCKET_ROWS, 1 << max(n_rows - 1, 0).bit_length())


def step_rows(batch_size: int, n_train: int) -> int:
    """Rows of one compiled step for ``n_train`` training rows (see the module docstring)."""
    return min(batch_size, max(MIN_STEP_ROWS, 1 << max(n_train - 1, 0).bit_length()))


@dataclass(frozen=True)
class Batches:
    """One epoch's batches: row indices and per-row weights, both ``(slots, step_rows)``.

    Batch ``b`` holds ``real_rows[b]`` rows; the other positions of its step repeat them with
    weight 0. Only the first ``n_batches`` slots are run.
    """

    order: np.ndarray
    weights: np.ndarray
    real_rows: np.ndarray

    @property
    def n_batches(self) -> int:
        return len(self.real_rows)


def epoch_batches(
    sample_weight: np.ndarray,
    batch_size: int,
    rng: np.random.Generator | None,
    shuffle: bool,
    *,
    rows: np.ndarray | None = None,
    step: int | None = None,
    slots: int | None = None,
) -> Batches:
    """Arrange one epoch of rows into fixed-size batches.

    ``rows`` (default ``arange(len(sample_weight))``) are the row indices to batch and
    ``sample_weight`` their weights. ``step`` and ``slots`` default to the smallest layout.
    """
    rows = np.arange(len(sample_weight)) if rows is None else rows
    n_samples = len(rows)
    batch_size = min(batch_size, n_samples)
    n_batches = math.ceil(n_samples / batch_size)
    step = batch_size if step is None else step
    slots = n_batches if slots is None else slots
    permutation = rng.permutation(n_samples) if shuffle else np.arange(n_samples)
    starts = np.arange(n_batches) * batch_size
    real = np.minimum(batch_size, n_samples - starts)
    position = np.arange(step)
    source = starts[:, None] + position % real[:, None]
    order = np.zeros((slots, step), dtype=np.int32)
    weights = np.zeros((slots, step), dtype=np.float32)
    order[:n_batches] = rows[permutation[source]]
    weights[:n_batches] = np.where(
        position < real[:, None], sample_weight[permutation[source]], 0.0
    )
    return Batches(order=order, weights=weights, real_rows=real.astype(np.int32))


@dataclass(frozen=True)
class EarlyStopping:
    """Stop after ``patience`` epochs in a row that do not beat the best score by ``tol``.

    As in scikit-learn's MLPs, the best weights are those of the highest score (any
    improvement counts there), while the patience counter only resets on an improvement of
    at least ``tol``: a score that creeps up by less than ``tol`` per epoch has plateaued.
    """

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


class Session(Protocol):
    """A fit in progress on a compiled program (see :mod:`skreg._programs`)."""

    def run_epoch(self, rng: np.random.Generator) -> tuple[float, float | None]:
        """Train one epoch; return the training loss and the validation loss (or None)."""

    def snapshot(self) -> Any:
        """The current weights, to restore the best epoch later."""

    def restore(self, snapshot: Any) -> None: ...


# The validation hook: from the epoch's validation loss (or None), the metrics to record and
# the score to maximize.
Validate = Callable[[float | None], tuple[dict[str, float], float]]


def train(
    session: Session,
    schedule: TrainingSchedule,
    rng: np.random.Generator,
    validate: Validate | None = None,
) -> TrainingResult:
    """Train for ``schedule.epochs`` epochs or until early stopping.

    ``validate`` gives each epoch's validation metrics (for the history) and the score to
    maximize; with it and ``schedule.early_stopping``, the best epoch's weights are restored.
    A non-finite training loss stops with a ``FloatingPointError``.
    """
    result = TrainingResult(history={"loss": []})
    stopping = schedule.early_stopping
    best = None
    epochs_without_improvement = 0
    for epoch in range(1, schedule.epochs + 1):
        loss, val_loss = session.run_epoch(rng)
        if not math.isfinite(loss):
            raise FloatingPointError(
                f"The training loss became {loss} at epoch {epoch}: training diverged. Scale the "
                "features (for example with StandardScaler) or lower learning_rate."
            )
        result.history["loss"].append(loss)
        metrics: dict[str, float] = {}
        if validate is not None:
            metrics, score = validate(val_loss)
            for name, value in metrics.items():
                result.history.setdefault(name, []).append(value)
            result.scores.append(score)
            tol = stopping.tol if stopping else 0.0
            if result.best_score is not None and score < result.best_score + tol:
                epochs_without_improvement += 1
            else:
                epochs_without_improvement = 0
            if result.best_score is None or score > result.best_score:
                result.best_score, result.best_epoch = score, epoch
                best = session.snapshot() if stopping else None
        if schedule.verbose:
            _print_epoch(epoch, schedule.epochs, loss, metrics)
        if stopping and epochs_without_improvement >= stopping.patience:
            break
    if best is not None:
        session.restore(best)
    if not stopping or validate is None:
        result.best_epoch = result.n_epochs
    return result


def _print_epoch(epoch: int, epochs: int, loss: float, metrics: dict[str, float]) -> None:
    parts = [f"Epoch {epoch}/{epochs}", f"loss = {loss:.6f}"]
    parts += [f"{name} = {value:.6f}" for name, value in metrics.items()]
    print(", ".join(parts), flush=True)
