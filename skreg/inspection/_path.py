"""The regularization-path Display: the cross-validated score along a penalty."""

from __future__ import annotations

from contextlib import nullcontext
from numbers import Real
from typing import Any

import numpy as np
from sklearn.model_selection import ValidationCurveDisplay
from sklearn.pipeline import Pipeline

from ._plotting import require_matplotlib


class RegularizationPathDisplay(ValidationCurveDisplay):
    """Cross-validated score along a penalty (or any parameter), with its spread.

    scikit-learn's :class:`~sklearn.model_selection.ValidationCurveDisplay`, which draws
    the mean training and test scores with one standard deviation around them, plus a
    marker at the best mean test score and :meth:`from_cv_results` to plot a finished
    :class:`~sklearn.model_selection.GridSearchCV`. A zero penalty is drawn on a symmetric
    log scale.

    Parameters
    ----------
    param_name : str
        Name of the parameter that varies, such as ``"l2"``.
    param_range : array-like of shape (n_values,)
        Its values.
    train_scores : ndarray of shape (n_values, n_folds) or None
        Training scores per value and fold; None when they were not computed.
    test_scores : ndarray of shape (n_values, n_folds)
        Cross-validated test scores per value and fold.
    score_name : str, default=None
        Label of the score axis.

    Attributes
    ----------
    ax_ : matplotlib Axes
        Axes with the curves.
    figure_ : matplotlib Figure
        Figure containing the curves.
    lines_ : list of matplotlib Line2D
        The mean-score curves.
    fill_between_ : list of matplotlib PolyCollection
        The bands of one standard deviation.
    best_marker_ : matplotlib Line2D or None
        The marker at the best value; None when every mean test score is NaN.
    best_value_ : object
        The parameter value with the best mean test score (NaN means count as the worst);
        from :meth:`from_cv_results`, the value of the search's best rank.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_iris
    >>> from skreg import RegularizedMLPClassifier
    >>> from skreg.inspection import RegularizationPathDisplay
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = RegularizedMLPClassifier((8,), max_iter=10, random_state=0)
    >>> display = RegularizationPathDisplay.from_estimator(
    ...     clf, X, y, param_name="l2", param_range=[0.0, 0.1], cv=3)
    >>> display.best_value_ in (0.0, 0.1)
    True
    """

    def __init__(self, *, param_name, param_range, train_scores, test_scores, score_name=None):
        super().__init__(
            param_name=param_name,
            param_range=param_range,
            train_scores=train_scores,
            test_scores=test_scores,
            score_name=score_name,
        )

    @classmethod
    def from_estimator(
        cls,
        estimator: Any,
        X: Any = None,
        y: Any = None,
        *,
        param_name: str | None = None,
        param_range: Any = None,
        cv: Any = None,
        scoring: Any = None,
        n_jobs: int | None = None,
        ax: Any = None,
        score_name: str | None = None,
    ):
        """Cross-validate ``estimator`` at every value of ``param_name`` and plot the scores;
        or, given a fitted :class:`~skreg.RegularizedMLPClassifierCV` or
        :class:`~skreg.RegularizedMLPRegressorCV` alone, plot the path it computed along
        ``l2`` (or ``param_name="dropout"``) without fitting anything.

        Parameters
        ----------
        estimator : estimator
            The estimator or pipeline; ``param_name`` uses ``set_params`` syntax, such as
            ``"regularizedmlpclassifier__l2"`` in a pipeline. Or a fitted CV estimator.
        X : array-like of shape (n_samples, n_features), default=None
            Training data; None with a fitted CV estimator.
        y : array-like of shape (n_samples,) or (n_samples, n_targets), default=None
            Targets; None with a fitted CV estimator.
        param_name : str, default=None
            The parameter to vary; ``"l2"`` for a fitted CV estimator when None.
        param_range : array-like of shape (n_values,), default=None
            Its values; None with a fitted CV estimator.
        cv : int, cross-validation generator or iterable, default=None
            As in :func:`~sklearn.model_selection.validation_curve` (5-fold by default).
        scoring : str or callable, default=None
            Scorer; the estimator's ``score`` when None.
        n_jobs : int, default=None
            Parallel fits.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        score_name : str, default=None
            Label of the score axis.

        Returns
        -------
        display : RegularizationPathDisplay
            The plotted display.
        """
        # A fitted CV estimator, alone or ending a pipeline, already holds its path.
        final = estimator[-1] if isinstance(estimator, Pipeline) else estimator
        if param_range is None and hasattr(final, "cv_results_"):
            return cls.from_cv_results(
                final.cv_results_, param_name or "l2", ax=ax, score_name=score_name
            )
        if X is None or y is None or param_name is None or param_range is None:
            raise ValueError(
                "from_estimator needs X, y, param_name and param_range, unless the estimator "
                "is a fitted RegularizedMLPClassifierCV or RegularizedMLPRegressorCV."
            )
        return super().from_estimator(
            estimator,
            X,
            y,
            param_name=param_name,
            param_range=_as_range(list(param_range)),  # tuples stay values, not rows
            cv=cv,
            scoring=scoring,
            n_jobs=n_jobs,
            ax=ax,
            score_name=score_name,
        )

    @classmethod
    def from_cv_results(
        cls, cv_results: dict, param_name: str, *, ax: Any = None, score_name: str | None = None
    ):
        """Plot the scores a grid search recorded along one of its parameters.

        When the grid varies other parameters too, each value of ``param_name`` shows the
        candidate with the best rank at that value, and the star marks the best rank
        drawn: the search's choice. A candidate that racing pruned (a CV estimator's
        ``n_folds_run``) has its folds that did not run drawn at the mean of those it ran; a
        fold that ran and scored NaN (a failed fit) makes its candidate's mean NaN, the
        worst, as in ``rank_test_score``. Values that are not numbers
        (``hidden_layer_sizes``, per-layer dropout lists, augmentation objects) are drawn as
        labelled categories, in the grid's order.

        Parameters
        ----------
        cv_results : dict
            A fitted search's ``cv_results_``; training scores are drawn when it was run
            with ``return_train_score=True``.
        param_name : str
            The searched parameter, as in the grid (``"regularizedmlpclassifier__l2"``).
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        score_name : str, default=None
            Label of the score axis; "Score" when None.

        Returns
        -------
        display : RegularizationPathDisplay
            The plotted display.
        """
        require_matplotlib(f"{cls.__name__}.from_cv_results")
        key = f"param_{param_name}"
        if key not in cv_results:
            raise ValueError(f"cv_results has no parameter {param_name!r}.")
        values = np.asarray(cv_results[key], dtype=object)
        folds = sorted(
            k for k in cv_results if k.startswith("split") and k.endswith("_test_score")
        )
        test = np.column_stack([cv_results[k] for k in folds])
        train_keys = [k.replace("_test_", "_train_") for k in folds]
        has_train = all(k in cv_results for k in train_keys)
        train = np.column_stack([cv_results[k] for k in train_keys]) if has_train else None
        param_range, rows = [], []
        n_run = np.asarray(cv_results.get("n_folds_run", np.full(len(test), test.shape[1])))
        skipped = np.arange(test.shape[1]) >= n_run[:, None]  # racing runs folds in order
        means = np.array([row[~gone].mean() for row, gone in zip(test, skipped)])
        # Rank first: a candidate that ran every fold beats a pruned one with a lucky fold.
        fallback = np.where(np.isnan(means), np.inf, -means)
        ranks = np.asarray(cv_results.get("rank_test_score", fallback))
        for value in _unique_in_order(values):
            candidates = np.flatnonzero([_same(v, value) for v in values])
            order = np.lexsort((fallback[candidates], ranks[candidates]))
            rows.append(candidates[order[0]])
            param_range.append(value)
        test = np.where(skipped, means[:, None], test)
        display = cls(
            param_name=param_name,
            param_range=_as_range(param_range),
            train_scores=train[rows] if has_train else None,
            test_scores=test[rows],
            score_name="Score" if score_name is None else score_name,
        )
        display._best = int(np.argmin(ranks[rows]))  # the search's choice, by its rank
        return display.plot(ax=ax, score_type="both" if has_train else "test")

    def plot(
        self,
        ax: Any = None,
        *,
        negate_score: bool = False,
        score_name: str | None = None,
        score_type: str = "both",
        std_display_style: str = "fill_between",
        line_kw: dict | None = None,
        fill_between_kw: dict | None = None,
        errorbar_kw: dict | None = None,
    ):
        """Draw the mean scores with their spread and mark the best value.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        negate_score : bool, default=False
            Negate the scores (to show errors from ``neg_*`` scorers).
        score_name : str, default=None
            Label of the score axis.
        score_type : {"test", "train", "both"}, default="both"
            Which scores to draw; "test" when there are no training scores.
        std_display_style : {"fill_between", "errorbar"} or None, default="fill_between"
            How to draw one standard deviation.
        line_kw, fill_between_kw, errorbar_kw : dict, default=None
            Passed to matplotlib.

        Returns
        -------
        display : RegularizationPathDisplay
            This display.
        """
        if self.train_scores is None:
            score_type = "test"
        saved_train_scores, saved_range = self.train_scores, self.param_range
        if saved_train_scores is None:
            # scikit-learn negates both score arrays even when it draws only one.
            self.train_scores = np.full_like(np.asarray(self.test_scores, dtype=float), np.nan)
        saved_test_scores = self.test_scores
        categorical = np.asarray(saved_range).dtype.kind not in "iuf"
        if categorical:  # drawn at 0, 1, 2, ... and labelled
            self.param_range = np.arange(len(saved_range))
        if len(saved_range) == 1:
            # scikit-learn chooses the axis scale from the values' spacing, which one value
            # does not have: drawn twice at the same place, a point.
            self.param_range = np.repeat(np.asarray(self.param_range, dtype=float), 2)
            self.train_scores = np.repeat(np.asarray(self.train_scores, dtype=float), 2, axis=0)
            self.test_scores = np.repeat(np.asarray(saved_test_scores, dtype=float), 2, axis=0)
        # One value's spacing is 0 / 0 (a NumPy warning in scikit-learn, which then draws a
        # linear axis, as wanted).
        single = np.errstate(invalid="ignore") if len(saved_range) == 1 else nullcontext()
        try:
            with single:
                super().plot(
                    ax=ax,
                    negate_score=negate_score,
                    score_name=score_name,
                    score_type=score_type,
                    std_display_style=std_display_style,
                    line_kw=line_kw,
                    fill_between_kw=fill_between_kw,
                    errorbar_kw=errorbar_kw,
                )
            x = self.param_range
        finally:
            self.train_scores, self.param_range = saved_train_scores, saved_range
            self.test_scores = saved_test_scores
        if categorical:
            self.ax_.set_xticks(np.arange(len(saved_range)), [_label(v) for v in saved_range])
        means = np.asarray(self.test_scores, dtype=float).mean(axis=1)
        best = getattr(self, "_best", None)  # from_cv_results: the search's rank 1
        if best is None and not np.isnan(means).all():
            best = int(np.nanargmax(means))  # a NaN mean (a failed fit) is the worst
        means = -means if negate_score else means
        self.best_value_ = None if best is None else saved_range[best]
        self.best_marker_ = None
        if best is not None:
            (self.best_marker_,) = self.ax_.plot(
                [x[best]], [means[best]], "k*", markersize=12, label="best"
            )
        self.ax_.set_xlabel(self.param_name)
        self.ax_.legend()
        return self


def _same(a: Any, b: Any) -> bool:
    """Equality for grid values: numbers, tuples and lists by value, objects by identity
    (an augmentation object is one grid value however it compares)."""
    if isinstance(a, _PLAIN) and isinstance(b, _PLAIN):
        return bool(a == b)
    return a is b


_PLAIN = (Real, str, tuple, list, type(None))


def _unique_in_order(values: np.ndarray) -> list[Any]:
    unique: list[Any] = []
    for value in values:
        if not any(_same(value, u) for u in unique):
            unique.append(value)
    return unique


def _as_range(values: list[Any]) -> np.ndarray:
    """Numbers as a float array; anything else as an object array, one value per item."""
    if all(isinstance(v, Real) and not isinstance(v, bool) for v in values):
        return np.asarray(values, dtype=float)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _label(value: Any) -> str:
    return str(value) if isinstance(value, (tuple, list)) else repr(value)
