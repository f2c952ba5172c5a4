"""The model selection of the CV estimators, without estimators: the penalty path, the
racing rule that prunes candidates between folds, ``cv_results_`` in GridSearchCV's shape,
and what a fold's failed score says.

Pure NumPy, so each rule is testable on made-up scores.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from numbers import Number, Real
from typing import Any

import numpy as np
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import ParameterGrid

from . import _warnings

# At 1,000 training rows or fewer an integer ``l2s`` spans these penalties: from strong (the
# penalty of a Glorot-initialized (100,) network on ten features, about 0.2, is half its
# initial cross-entropy) down to negligible. Beyond, the path moves down in proportion to
# the rows, as a penalty on a sum over the rows would: more data needs less penalty.
L2_PATH_TOP, L2_PATH_DECADES, L2_PATH_ROWS = 1e-2, 3.0, 1000


def l2_path(l2s: int | Sequence[float], n_train: int) -> list[float]:
    """The penalties to try: ``l2s`` itself (the values as given, as GridSearchCV keeps a
    grid's), or ``l2s`` values log-spaced from :data:`L2_PATH_TOP` (scaled down beyond
    :data:`L2_PATH_ROWS` training rows) down :data:`L2_PATH_DECADES` decades, strongest
    first. Listed penalties must be finite and non-negative."""
    if not isinstance(l2s, (int, np.integer)):
        l2s = list(l2s)
        if not l2s:
            raise ValueError("l2s must list at least one penalty; got an empty list.")
        for l2 in l2s:
            real = isinstance(l2, Real) and not isinstance(l2, bool)
            if not (real and np.isfinite(l2) and l2 >= 0):
                raise ValueError(f"l2s must be finite, non-negative penalties; got {l2!r}.")
        return l2s
    top = L2_PATH_TOP * min(1.0, L2_PATH_ROWS / max(n_train, 1))
    return [float(v) for v in np.geomspace(top, top * 10**-L2_PATH_DECADES, int(l2s))]


def candidates(l2s: Sequence[float], dropouts: Sequence[Any]) -> list[dict[str, Any]]:
    """The grid, in GridSearchCV's order for ``{"l2": l2s, "dropout": dropouts}``."""
    return list(ParameterGrid({"l2": list(l2s), "dropout": list(dropouts)}))


def survivors(alive: Sequence[int], means: np.ndarray) -> list[int]:
    """Successive halving over folds: of the candidates ``alive`` (indices, in grid order),
    the better half by their mean score over the folds run so far (``means``, per
    candidate; NaN, a fold the scorer could not score, counts as the worst), never fewer
    than two; ties go to the earlier candidate, as GridSearchCV's ``best_index_`` does.
    Returned in grid order."""
    if len(alive) <= 2:
        return list(alive)
    keep = _kept(len(alive))
    # Stable: grid order on ties.
    order = sorted(alive, key=lambda i: (bool(np.isnan(means[i])), -means[i]))
    return sorted(order[:keep])


def rounds(n_candidates: int, n_folds: int, pruning: bool) -> list[tuple[int, list[int]]]:
    """The racing schedule: per round, how many candidates run and on which folds.

    With ``pruning``, every candidate runs fold 1 and each later fold keeps the better half
    (:func:`survivors`) until two remain, which run the remaining folds in one round;
    without it, one round runs every candidate on every fold.
    """
    schedule = []
    alive, fold = n_candidates, 0
    while fold < n_folds:
        racing = pruning and alive > 2
        folds = [fold] if racing else list(range(fold, n_folds))
        schedule.append((alive, folds))
        fold = folds[-1] + 1
        if racing:
            alive = _kept(alive)
    return schedule


def _kept(n_alive: int) -> int:
    return max(2, math.ceil(n_alive / 2))


@dataclass
class SearchRecord:
    """What the search measured: per candidate and fold, the test score, the times and the
    fitted member's epochs (NaN and 0 where racing pruned the candidate before that fold),
    and which fold models failed (``error_score``)."""

    params: list[dict[str, Any]]
    n_folds: int
    scores: np.ndarray = field(init=False)
    fit_times: np.ndarray = field(init=False)
    score_times: np.ndarray = field(init=False)
    best_epochs: np.ndarray = field(init=False)
    epochs: np.ndarray = field(init=False)
    failed: np.ndarray = field(init=False)
    errors: list = field(init=False)  # (candidate, fold, exception) of each failed fold

    def __post_init__(self) -> None:
        shape = (len(self.params), self.n_folds)
        self.scores = np.full(shape, np.nan)
        self.fit_times = np.full(shape, np.nan)
        self.score_times = np.full(shape, np.nan)
        self.best_epochs = np.full(shape, np.nan)
        self.epochs = np.zeros(shape, dtype=int)
        self.failed = np.zeros(shape, dtype=bool)
        self.errors = []

    def add(self, candidate: int, fold: int, outcome: dict[str, float]) -> None:
        self.scores[candidate, fold] = outcome["score"]
        self.fit_times[candidate, fold] = outcome["fit_time"]
        self.score_times[candidate, fold] = outcome["score_time"]
        self.best_epochs[candidate, fold] = outcome["best_epoch"]
        self.epochs[candidate, fold] = outcome["n_iter"]
        if "error" in outcome:
            self.failed[candidate, fold] = True
            self.errors.append((candidate, fold, outcome["error"]))

    def ran(self) -> np.ndarray:
        """Candidates x folds: whether the candidate ran the fold (its score may be NaN, a
        fold the scorer could not score)."""
        return ~np.isnan(self.fit_times)

    def report_failures(self, error_score: Any) -> None:
        """GridSearchCV's manner: one ``FitFailedWarning`` naming the failed candidates and
        the first error. When every fold model failed, the first error itself (as with
        ``error_score="raise"``, a diverging penalty's ``FloatingPointError`` says what to
        change); a ``ValueError`` when every one of the best candidate did (``error_score`` a
        number that ranks failures high), since none is left to predict with."""
        if not self.errors:
            return
        ran, failed = self.ran(), self.failed
        candidate, fold, error = self.errors[0]
        first = f"{type(error).__name__}: {error}"
        if failed[ran].all():
            error.add_note(
                f"All {ran.sum()} fold models failed, the first of them {self.params[candidate]} "
                f"on the rows of fold {fold}; error_score='raise' shows where."
            )
            raise error
        best = self.best()
        if failed[best][ran[best]].all():
            raise ValueError(
                f"Every fold model of the best candidate, {self.params[best]}, failed, so its "
                f"rank comes from error_score={error_score} alone; set error_score=np.nan, "
                f"which ranks failures last. The first error: {first}"
            )
        names = sorted({str(self.params[c]) for c, _, _ in self.errors})
        _warnings.warn(
            f"{len(self.errors)} of the {ran.sum()} fold models failed (candidates "
            f"{', '.join(names)}); their folds score error_score={error_score}. The first "
            f"error: {first}",
            FitFailedWarning,
        )

    def ranks(self) -> np.ndarray:
        """Ranks as GridSearchCV's (ties share the lowest, NaN means last, tied), by how far
        racing took each candidate (folds run, most first: those that ran every fold lead),
        then by its mean over the folds it ran; a NaN mean (a fold that failed) after every
        number, even a pruned one's. Racing's own order is kept: a candidate it dropped lost
        to those it kept on the folds they had run, and a mean over the harder folds that
        only the kept ones met must not rank them below it."""
        n_run = self.ran().sum(axis=1)
        failed = np.isnan(self.means())
        means = np.where(failed, -np.inf, self.means())
        order = np.lexsort((-means, -n_run, failed))
        ranks = np.empty(len(order), dtype=np.int32)
        for position, i in enumerate(order):
            previous = order[position - 1] if position else None
            tied = previous is not None and (
                (failed[previous] and failed[i])
                or (n_run[previous] == n_run[i] and means[previous] == means[i])
            )
            ranks[i] = ranks[previous] if tied else position + 1
        return ranks

    def means(self) -> np.ndarray:
        """Each candidate's mean score over the folds it ran: NaN if one scored NaN, as
        GridSearchCV's mean (every candidate runs the first fold, so none is empty)."""
        return np.array([row[ran].mean() for row, ran in zip(self.scores, self.ran())])

    def best(self) -> int:
        """The best candidate: rank 1, the first in grid order among ties (GridSearchCV's)."""
        return int(np.flatnonzero(self.ranks() == 1)[0])

    def cv_results(self) -> dict[str, Any]:
        """``cv_results_`` with GridSearchCV's keys, plus ``mean_best_epoch`` and
        ``n_folds_run`` (fewer than the folds where racing pruned the candidate; a fold the
        scorer scored NaN counts as run, and makes the candidate's mean NaN)."""
        results: dict[str, Any] = {
            "mean_fit_time": np.nanmean(self.fit_times, axis=1),
            "std_fit_time": np.nanstd(self.fit_times, axis=1),
            "mean_score_time": np.nanmean(self.score_times, axis=1),
            "std_score_time": np.nanstd(self.score_times, axis=1),
        }
        for name in sorted(self.params[0]):
            values = [p[name] for p in self.params]
            results[f"param_{name}"] = np.ma.MaskedArray(
                _param_column(values), mask=np.zeros(len(values), dtype=bool)
            )
        results["params"] = [dict(p) for p in self.params]
        for fold in range(self.n_folds):
            results[f"split{fold}_test_score"] = self.scores[:, fold].copy()
        results["mean_test_score"] = self.means()
        results["std_test_score"] = np.array(
            [row[ran].std() for row, ran in zip(self.scores, self.ran())]
        )
        results["rank_test_score"] = self.ranks()
        trained = ~np.isnan(self.best_epochs)  # a failed fold model has no best epoch
        total = np.where(trained, self.best_epochs, 0.0).sum(axis=1)
        with np.errstate(invalid="ignore"):
            results["mean_best_epoch"] = total / trained.sum(axis=1)
        results["n_folds_run"] = self.ran().sum(axis=1)
        return results


def _param_column(values: list[Any]) -> np.ndarray:
    """A parameter's values as GridSearchCV stores them: numbers in their common NumPy
    dtype (int64 for ints, float32 for float32s), others as objects."""
    if all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in values):
        return np.asarray(values)
    column = np.empty(len(values), dtype=object)
    column[:] = values
    return column


class FoldLacksClasses(ValueError):
    """A scorer failed on a fold that lacks a class, said with what to do about it."""


def raise_if_no_score(record: SearchRecord) -> None:
    """Raise the first :class:`FoldLacksClasses` when no candidate is left a score: the
    folds, not the candidates, are then what to change (GridSearchCV would rank NaNs)."""
    lacking = [error for _, _, error in record.errors if isinstance(error, FoldLacksClasses)]
    if lacking and not np.isfinite(record.means()).any():
        raise lacking[0]


def warn_if_not_finite(record: SearchRecord) -> None:
    """GridSearchCV's warning when a candidate's mean score is NaN or infinite (a scorer
    that gave NaN: the ranks then put it last, or pick the first of all); not for a failed
    fit's, which :meth:`SearchRecord.report_failures` has reported."""
    means = record.means()
    failed = {candidate for candidate, _, _ in record.errors}
    if any(not np.isfinite(m) and i not in failed for i, m in enumerate(means)):
        _warnings.warn(f"One or more of the test scores are non-finite: {means}")


def score_number(score: Any, scorer: Any) -> float:
    """A scorer's result as a float, or GridSearchCV's error for what is not a number."""
    if hasattr(score, "item"):
        with contextlib.suppress(ValueError):
            score = score.item()
    if not isinstance(score, Number):
        raise ValueError(
            f"scoring must return a number, got {score!r} ({type(score)}) instead. "
            f"(scorer={scorer})"
        )
    return float(score)


def lacking_classes(classifier: bool, y, train, test) -> list[str]:
    """Which of a fold's parts lack a class of ``y`` (none for a regressor; an empty part
    lacks rows, not classes)."""
    classes = np.unique(y) if classifier else np.array([])
    return [
        f"{part} without class(es) {missing.tolist()}"
        for part, rows in (("a test fold", test), ("a fold's training rows", train))
        if len(rows) and len(missing := np.setdiff1d(classes, y[rows]))
    ]


def one_class_training(y, train, n_folds: int, error: Exception) -> FoldLacksClasses:
    """A fold model's fit failed on training rows of one class: the folds, not the
    candidate, are what to change."""
    explained = FoldLacksClasses(
        f"A fold's training rows hold one class only ({np.unique(y[train]).tolist()[0]!r}), "
        f"so its models cannot train ({error}) "
        + class_advice(y, n_folds, "merge the rare class with another or drop its rows")
    )
    explained.__cause__ = error
    return explained


def class_advice(y, n_folds: int, remedy: str = "") -> str:
    """Why a fold lacks a class, and what to do: too rare a class, or folds that are not
    stratified (an unshuffled KFold over rows sorted by class)."""
    _, counts = np.unique(y, return_counts=True)
    if counts.min() < n_folds:
        remedy = remedy or (
            "use a scorer that does not need every class in each fold, such as 'accuracy'"
        )
        return (
            f"A class has {counts.min()} member(s), fewer than the {n_folds} folds; use fewer "
            f"folds (cv), or {remedy}."
        )
    return (
        f"Every class has at least {n_folds} members, so the folds are not stratified: pass "
        "cv as an int or StratifiedKFold(shuffle=True), which give each fold every class."
    )


def failed(error, error_score, fit_time) -> dict[str, Any]:
    """A failed fold's outcome: ``error_score``, and the error, which the search reports
    (a warning raised here would be lost in a joblib worker process)."""
    error.__traceback__ = None  # goes back from a worker process as it is
    return {
        "score": float(error_score),
        "fit_time": fit_time,
        "score_time": 0.0,
        "best_epoch": np.nan,
        "n_iter": 0,
        "error": error,
    }
