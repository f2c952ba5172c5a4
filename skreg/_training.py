"""The training loop on the host: epoch batches, early stopping and history. No Keras, no
scikit-learn here.

Keras' per-step overhead, not arithmetic, dominates the small networks skreg trains, so a
compiled program (:mod:`skreg._engine`) runs many epochs per call: the data are uploaded
once per ``fit`` and the host only sends the epochs' shuffled batch indices. This module is
the host side of that conversation: it lays out each epoch's batches and decides, call by
call, whether to go on. It drives any object with the :class:`Session` methods, so its logic
is tested with scripted scores and no network.

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
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import numpy as np
from sklearn.model_selection import train_test_split

from . import _warnings
from ._specs import (
    Batches,
    EarlyStopping,
    EpochHooks,
    EpochRecord,
    TrainingResult,
    TrainingSchedule,
    Validation,
)

# Uploaded data are padded to at least this many rows, then to the next power of two: every
# fold of a data set of up to this size runs in one compiled program. Padding rows are never
# indexed; they cost 4 bytes per feature each.
MIN_BUCKET_ROWS = 2048
# A training set smaller than one batch runs in a step of at least this many rows (or of the
# batch size, if smaller): with the default batch size of 200, every small fold shares one
# step shape. Computing a few more rows costs less than compiling again.
MIN_STEP_ROWS = 256
# An epoch whose training loss exceeds the run's first epoch's by this factor has diverged.
# Probed on iris (issue 11): learning_rate=1e6 took TensorFlow's loss from 0.87 to 1.5e12 in
# one epoch while accuracy stayed at 0.97, so a finite loss is no proof of health; a healthy
# fit's loss does not grow a thousandfold. A run spans the calls that continue it
# (``partial_fit``, ``warm_start``): 15 partial_fit calls at learning_rate=1e6 on iris reached
# 3e12 while each call's one epoch only compared with itself. The floor keeps a near-zero
# first loss (a warm start on data the network already fits) from making noise look like
# divergence.
EXPLOSION_FACTOR = 1e3
EXPLOSION_FLOOR = 1e-2
# ... but not in a continued fit whose loss stays within this factor of its starting model's
# loss on the call's rows (a factor, not equality: the training loss runs with dropout and
# augmentation, the starting loss without).
CALL_GROWTH = 10.0
# Where this thread's epoch lines go, when not to standard output (see held_output).
_OUTPUT = threading.local()


def bucket_rows(n_rows: int) -> int:
    """The padded row count of ``n_rows`` uploaded rows."""
    return max(MIN_BUCKET_ROWS, 1 << max(n_rows - 1, 0).bit_length())


def step_rows(batch_size: int, n_train: int) -> int:
    """Rows of one compiled step for ``n_train`` training rows (see the module docstring)."""
    return min(batch_size, max(MIN_STEP_ROWS, 1 << max(n_train - 1, 0).bit_length()))


def epoch_batches(
    sample_weight: np.ndarray,
    batch_size: int,
    rng: np.random.Generator | None,
    shuffle: bool,
    *,
    rows: np.ndarray | None = None,
    step: int | None = None,
    slots: int | None = None,
    epochs: int | None = None,
) -> Batches:
    """Arrange one epoch of rows (or ``epochs`` epochs) into fixed-size batches.

    ``rows`` (default ``arange(len(sample_weight))``) are the row indices to batch and
    ``sample_weight`` their weights. ``step`` and ``slots`` default to the smallest layout.
    With ``epochs``, the arrays get a leading axis of that length, one shuffle per epoch.
    """
    rows = np.arange(len(sample_weight)) if rows is None else rows
    n_samples = len(rows)
    batch_size = min(batch_size, n_samples)
    n_batches = math.ceil(n_samples / batch_size)
    step = batch_size if step is None else step
    slots = n_batches if slots is None else slots
    n_epochs = 1 if epochs is None else epochs
    permutations = np.broadcast_to(np.arange(n_samples), (n_epochs, n_samples))
    if shuffle:
        permutations = rng.permuted(permutations, axis=1)
    starts = np.arange(n_batches) * batch_size
    real = np.minimum(batch_size, n_samples - starts)
    position = np.arange(step)
    source = permutations[:, starts[:, None] + position % real[:, None]]
    order = np.zeros((n_epochs, slots, step), dtype=np.int32)
    weights = np.zeros((n_epochs, slots, step), dtype=np.float32)
    order[:, :n_batches] = rows[source]
    weights[:, :n_batches] = np.where(position < real[:, None], sample_weight[source], 0.0)
    if epochs is None:
        order, weights = order[0], weights[0]
    return Batches(order=order, weights=weights, real_rows=real.astype(np.int32))


class Session(Protocol):
    """A fit in progress on a compiled program (see :mod:`skreg._engine`)."""

    epochs_per_call: int

    def run_epochs(
        self, rng: np.random.Generator, epochs: int, stopping: EarlyStopping | None
    ) -> list[EpochRecord]:
        """Train up to ``epochs`` epochs. With ``stopping``, stop early on the validation loss
        and keep the best weights (:meth:`restore_best`); a non-finite loss also stops."""

    def snapshot(self) -> Any:
        """The current weights, to restore the best epoch later."""

    def restore(self, snapshot: Any) -> None: ...

    def restore_best(self) -> None:
        """Load the best weights found by early stopping inside :meth:`run_epochs`."""


def train(
    session: Session,
    schedule: TrainingSchedule,
    rng: np.random.Generator,
    validation: Validation | None = None,
    hooks: EpochHooks | None = None,
    reference: float | None = None,
    start: Callable[[], float] | None = None,
) -> TrainingResult:
    """Train for ``schedule.epochs`` epochs or until early stopping.

    With ``validation``, every epoch records its metrics and score; with it and
    ``schedule.early_stopping``, the best epoch's weights are restored (an early stopping
    ``on_training_loss`` needs no validation and keeps the last epoch's, as scikit-learn's
    MLPs without early stopping). With ``hooks``,
    every epoch returns to the host to call them, and one can stop training. A non-finite training
    loss, or one that grows :data:`EXPLOSION_FACTOR` times above the run's first epoch's
    (``reference``, from the fit this one continues, and then its starting loss, ``start``;
    by default this call's first), stops with a ``FloatingPointError``; a validation score
    that is not a number stops with a ``ValueError``, and one that never changes warns
    (early stopping then keeps epoch 1).
    """
    result = TrainingResult(history={"loss": []})
    stopping = schedule.early_stopping
    on_training_loss = stopping is not None and stopping.on_training_loss
    if validation is None and not on_training_loss:
        stopping = None
    on_host = stopping is not None and validation is not None and validation.uses_weights
    best = None
    epochs_without_improvement = 0
    stopped = False
    while not stopped and result.n_epochs < schedule.epochs:
        chunk = schedule.epochs - result.n_epochs
        if (validation is not None and validation.uses_weights) or hooks is not None:
            chunk = 1
        ahead = [point for point in schedule.low_points if point > result.n_epochs]
        if ahead and validation is not None:  # return to the host at the next low point
            chunk = min(chunk, ahead[0] - result.n_epochs)
        chunk = min(chunk, session.epochs_per_call)
        if hooks is not None:
            hooks.begin(result.n_epochs + 1, result)
        records = session.run_epochs(rng, chunk, None if on_host else stopping)
        for record in records:
            epoch = result.n_epochs + 1
            losses = result.history["loss"]
            first = losses[0] if reference is None and losses else reference
            check_loss(record.loss, f"at epoch {epoch}", first, start)
            result.history["loss"].append(record.loss)
            if record.learning_rate is not None:
                result.history.setdefault("learning_rate", []).append(record.learning_rate)
            metrics: dict[str, float] = {}
            if validation is not None:
                metrics, score = validation.score(record.val_loss)
                _check_score(score, epoch, validation, record.val_loss)
                for name, value in metrics.items():
                    result.history.setdefault(name, []).append(value)
                result.scores.append(score)
                if on_host:
                    best_score = -math.inf if result.best_score is None else result.best_score
                    _, _, bad = stopping.update(best_score, epochs_without_improvement, score, np)
                    epochs_without_improvement = int(bad)
                    stopped = epochs_without_improvement >= stopping.patience
                improved = record.improved
                if improved is None:
                    improved = result.best_score is None or score > result.best_score
                if improved:
                    result.best_score, result.best_epoch = score, epoch
                    best = session.snapshot() if on_host else None
            if schedule.verbose:
                _print_epoch(epoch, schedule.epochs, record.loss, metrics)
            if hooks is not None:
                stopped = hooks.end(epoch, result) or stopped
        # The session stopped early by itself (in the call, or after its last epoch).
        stopped = stopped or len(records) < chunk or bool(records and records[-1].stopped)
        if validation is not None and result.n_epochs in schedule.low_points[1:]:
            previous = max(p for p in schedule.low_points if p < result.n_epochs)
            stopped = stopped or result.scores[-1] <= result.scores[previous - 1]
    if stopping is not None and not on_training_loss:
        if on_host:
            session.restore(best)
        else:
            session.restore_best()
        if len(result.scores) > 1 and len(set(result.scores)) == 1:
            advice = " or monitor scoring='loss'" if validation.uses_weights else ""
            _warnings.warn(
                f"Early stopping kept the weights of epoch 1: {validation.name} did not change "
                f"over the {len(result.scores)} epochs, so it cannot tell them apart. Increase "
                f"validation_fraction{advice}.",
                UserWarning,
            )
    else:
        result.best_epoch = result.n_epochs
    return result


def check_loss(
    loss: float, when: str, reference: float | None, start: Callable[[], float] | None = None
) -> None:
    """Raise ``FloatingPointError`` if the training loss measured ``when`` ("at epoch 3")
    shows divergence: it is not finite, or :data:`EXPLOSION_FACTOR` times the run's first
    epoch's, ``reference``, and, for a continued fit, also :data:`CALL_GROWTH` times
    ``start()``, the loss its starting model had on this call's rows (asked only then): a
    stream whose targets moved away and came back starts its call far from them, and
    trains its loss down from there, which is no divergence."""
    if not math.isfinite(loss):
        raise FloatingPointError(f"Training diverged: the training loss became {loss} {when}.")
    if reference is None or loss <= EXPLOSION_FACTOR * max(reference, EXPLOSION_FLOOR):
        return
    begun = None if start is None else start()
    if begun is not None and loss <= CALL_GROWTH * max(begun, EXPLOSION_FLOOR):
        return
    started = "" if begun is None else f" (this call started from {begun:.4g} on its rows)"
    raise FloatingPointError(
        f"Training diverged: the training loss grew from {reference:.4g} at the first epoch "
        f"to {loss:.4g} {when}{started}."
    )


def _check_score(score: float, epoch: int, validation: Validation, val_loss) -> None:
    """Raise if the validation score cannot rank epochs: a scorer's NaN is the scorer's
    (``ValueError``), a non-finite validation loss is numerical (``FloatingPointError``)."""
    if math.isfinite(score):
        return
    if validation.uses_weights:
        raise ValueError(
            f"Early stopping cannot rank the epochs: {validation.name} gave {score} at epoch "
            f"{epoch}. Increase validation_fraction, or choose another scoring."
        )
    raise FloatingPointError(
        f"Training diverged: the validation loss became {val_loss} at epoch {epoch}."
    )


def _print_epoch(epoch: int, epochs: int, loss: float, metrics: dict[str, float]) -> None:
    parts = [f"Epoch {epoch}/{epochs}", f"loss = {loss:.6f}"]
    parts += [f"{name} = {value:.6f}" for name, value in metrics.items()]
    held = getattr(_OUTPUT, "lines", None)
    if held is None:
        print(", ".join(parts), flush=True)
    else:
        held.append(", ".join(parts))


@contextmanager
def held_output() -> Iterator[list[str]]:
    """Within, in this thread: the epochs' lines (``verbose``) go to the list it yields
    instead of standard output, for fits that run side by side in threads (joint training)
    to print their lines in order, one fit's after another's, when they end."""
    saved = getattr(_OUTPUT, "lines", None)
    _OUTPUT.lines = lines = []
    try:
        yield lines
    finally:
        _OUTPUT.lines = saved


def validation_size(fraction: float, n_rows: int) -> int | None:
    """Early stopping's validation rows out of ``n_rows`` at ``fraction``, or None where the
    split would leave fewer than 2 of them or no training row."""
    n_validation = math.ceil(fraction * n_rows)
    return n_validation if 2 <= n_validation < n_rows else None


def split_rows(y, strata, fraction, seeds, what="rows") -> tuple[np.ndarray, np.ndarray]:
    """Early stopping's seeded split of the rows into training and validation indices.

    Stratified by ``strata`` (the classifier's labels) when every class can have a row on
    both sides; otherwise (many classes, few rows) a plain random split, as scikit-learn's
    MLPClassifier always does for more than two classes.
    """
    n_validation = validation_size(fraction, len(y))
    if n_validation is None:
        n_validation = math.ceil(fraction * len(y))
        side = "the validation set" if n_validation < 2 else "the training set"
        raise ValueError(
            f"Early stopping cannot split {len(y)} {what} with validation_fraction={fraction}: "
            f"{side} would have {min(n_validation, len(y) - n_validation)} row(s) and needs "
            f"at least {2 if n_validation < 2 else 1}. Change validation_fraction, give more "
            "rows, or set early_stopping=False."
        )
    stratify = None
    if strata is not None:
        counts = np.unique(strata, return_counts=True)[1]
        if counts.min() >= 2 and len(counts) <= min(n_validation, len(y) - n_validation):
            stratify = strata
    return train_test_split(
        np.arange(len(y)),
        test_size=n_validation,
        random_state=int(seeds.generate_state(1)[0]),
        stratify=stratify,
    )


def split_weighted_rows(y, weights, stratify, fraction, seeds) -> tuple[np.ndarray, np.ndarray]:
    """:func:`split_rows` over the rows of non-zero weight (stratified by ``y`` when
    ``stratify``): the rows of zero weight neither train nor validate (:func:`weighted`).
    A bagging ensemble's member, weighted by how often its bootstrap drew each row, once
    held out only undrawn rows and failed ("validation rows' weights must contain ...")."""
    drawn = weighted(weights)
    strata = y[drawn] if stratify else None
    what = "rows" if len(drawn) == len(y) else "rows of non-zero weight"
    train, validation = split_rows(y[drawn], strata, fraction, seeds, what)
    return drawn[train], drawn[validation]


def weighted(weights: np.ndarray) -> np.ndarray:
    """The positions of the rows of non-zero weight, which are the ones that train. A row
    of weight zero would change nothing in the loss, but an augmentation mixing rows
    (:class:`~skreg.Mixup`, :class:`~skreg.SwapNoise`) would draw its values into other
    rows, and it would change the batches' make-up: left out, it trains as a dropped row."""
    return np.flatnonzero(weights)


def scorer_failure(scorer, baseline, fit, X, y) -> Exception | None:
    """What ``scorer`` raises on the constant ``baseline``'s predictions for ``X``, once
    fitted on the pair ``fit`` (None if it scores them): a scorer that does not suit the
    task fails there as it would on the network's, so it can be refused before any
    training. None too when the baseline cannot fit the targets (dates, which the network
    reads as numbers): it cannot stand in for the network then."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            baseline.fit(*fit)
        except (ValueError, TypeError):
            return None
        try:
            scorer(baseline, X, y)
        except (ValueError, TypeError, AttributeError) as error:
            return error
    return None


def scoring_error(estimator, error: Exception, y=None, y_val=None) -> ValueError:
    """The error for a ``scoring`` that cannot score the estimator's predictions; a
    classifier's names the classes of ``y`` that the validation rows ``y_val`` lack (the
    usual cause: a class of one row, which keeps the split from being stratified)."""
    advice = ""
    if hasattr(estimator, "class_weight") and y is not None and y_val is not None:
        missing = np.setdiff1d(np.unique(y), np.unique(y_val))
        if missing.size:
            advice = (
                f" The {len(y_val)} validation rows hold no row of class(es) "
                f"{missing.tolist()} (a class of fewer than 2 rows keeps the split from being "
                "stratified): use scoring='loss' or 'accuracy', raise validation_fraction, or "
                "merge the rare labels."
            )
    said = str(error)
    if advice and not said.endswith((".", "!", "?")):
        said += "."
    return ValueError(
        f"scoring={estimator.scoring!r} cannot score a {type(estimator).__name__}'s "
        f"predictions for early stopping: {said}{advice}"
    )


def unit_scale(weights: np.ndarray) -> np.ndarray:
    """``weights`` as float32, multiplied by the power of two that brings the largest into
    [0.5, 1). Only their ratios matter (each batch's loss is a weighted mean), and a power of
    two changes no digit, so the weights train as before; but weights of any scale now fit
    float32, where a batch whose weights summed below 1e-12 lost its loss (1e-20 per row)."""
    top = float(np.max(weights, initial=0.0))
    if top > 0:
        weights = np.ldexp(weights, -np.frexp(top)[1])
    return weights.astype(np.float32)


def require_some_weight(weights: np.ndarray, what: str, why: str = "") -> None:
    """Refuse weights that are all zero (nothing to train on)."""
    if not np.any(weights > 0):
        reason = f" {why}" if why else ""
        raise ValueError(f"{what} must contain at least one non-zero number{reason}.")
