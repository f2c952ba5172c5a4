"""The regularization-path Display: the cross-validated score along a penalty."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import nullcontext
from numbers import Real
from typing import Any

import numpy as np
from sklearn.model_selection import ValidationCurveDisplay, validation_curve
from sklearn.pipeline import Pipeline

from ._plotting import negated_label, require_matplotlib, score_label


class RegularizationPathDisplay(ValidationCurveDisplay):
    """Cross-validated score along a penalty (or any parameter), with its spread.

    scikit-learn's :class:`~sklearn.model_selection.ValidationCurveDisplay`, which draws
    the mean training and test scores with one standard deviation around them, plus a
    marker at the best mean test score and :meth:`from_cv_results` to plot a finished
    :class:`~sklearn.model_selection.GridSearchCV`. A range holding 0 and values spread over
    decades (``[0, 1e-4, 1e-3, 1e-2]``) is drawn on a symmetric log scale, linear between 0
    and the smallest positive value, so that every value has its own place.

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
    lines_ : list of matplotlib Line2D or None
        The mean-score curves; None with ``std_display_style="errorbar"``.
    errorbar_ : list of matplotlib ErrorbarContainer or None
        The curves with their error bars, with ``std_display_style="errorbar"``; else None.
    fill_between_ : list of matplotlib PolyCollection or None
        The bands of one standard deviation, with ``std_display_style="fill_between"``.
    best_marker_ : matplotlib Line2D or None
        The marker at the best value; None when every mean test score is NaN.
    best_value_ : object
        The parameter value with the best mean test score (NaN means count as the worst);
        from :meth:`from_cv_results`, the value of the search's best rank. None when every
        mean test score is NaN.

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
        groups: Any = None,
        cv: Any = None,
        scoring: Any = None,
        n_jobs: int | None = None,
        pre_dispatch: Any = "all",
        verbose: int = 0,
        error_score: Any = np.nan,
        fit_params: dict | None = None,
        metric: str | None = None,
        ax: Any = None,
        negate_score: bool = False,
        score_name: str | None = None,
        score_type: str = "both",
        std_display_style: str | None = "fill_between",
        line_kw: dict | None = None,
        fill_between_kw: dict | None = None,
        errorbar_kw: dict | None = None,
    ):
        """Cross-validate ``estimator`` at every value of ``param_name`` and plot the scores;
        or, given a fitted search or a fitted :class:`~skreg.RegularizedMLPClassifierCV` or
        :class:`~skreg.RegularizedMLPRegressorCV` alone, plot the path it computed along
        ``l2`` (or ``param_name``) without fitting anything (:meth:`from_cv_results`).

        Parameters
        ----------
        estimator : estimator
            The estimator or pipeline; ``param_name`` uses ``set_params`` syntax, such as
            ``"regularizedmlpclassifier__l2"`` in a pipeline. Or a fitted CV estimator or
            search (the metric of a multi-metric search: its ``refit``).
        X : array-like of shape (n_samples, n_features), default=None
            Training data; None with a fitted CV estimator or search.
        y : array-like of shape (n_samples,) or (n_samples, n_targets), default=None
            Targets; None with a fitted CV estimator or search.
        param_name : str, default=None
            The parameter to vary; for a fitted CV estimator or search when None, ``"l2"``,
            or the one ``"<step>__l2"`` a search over a pipeline has.
        param_range : array-like of shape (n_values,), default=None
            Its values; None with a fitted CV estimator or search.
        groups, cv, scoring, n_jobs, pre_dispatch, verbose, error_score, fit_params
            As in :func:`~sklearn.model_selection.validation_curve` (5-fold by default; the
            estimator's ``score`` when ``scoring`` is None; ``fit_params`` is its
            ``params``).
        metric : str, default=None
            For a fitted multi-metric search: the metric to draw; its ``refit`` when None.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        negate_score, score_name, score_type, std_display_style, line_kw, \
fill_between_kw, errorbar_kw
            As in :meth:`plot`; the score axis is named after ``scoring``, or a fitted CV
            estimator's or search's own (``"neg_log_loss"``: "Negative log loss", or "Log
            loss" with ``negate_score=True``) when ``score_name`` is None. ``scoring``,
            ``cv``, ``groups`` and ``fit_params`` with a fitted one are refused: its path is
            scored already.

        Returns
        -------
        display : RegularizationPathDisplay
            The plotted display.
        """
        require_matplotlib(f"{cls.__name__}.from_estimator")
        style = dict(
            ax=ax, negate_score=negate_score, std_display_style=std_display_style,
            line_kw=line_kw, fill_between_kw=fill_between_kw, errorbar_kw=errorbar_kw,
        )  # fmt: skip
        # A fitted CV estimator or search, alone or ending a pipeline, already holds its path.
        final = estimator[-1] if isinstance(estimator, Pipeline) else estimator
        if param_range is None and hasattr(final, "cv_results_"):
            fitting = dict(scoring=scoring, cv=cv, groups=groups, fit_params=fit_params)
            given = [key for key, value in fitting.items() if value is not None]
            if given:
                raise ValueError(
                    f"{', '.join(given)}: {type(final).__name__} is fitted and holds its path, "
                    "scored as it was searched, so nothing is fitted here for these to "
                    "change. Fit it with the scoring or folds you want, or pass param_range "
                    "to cross-validate it anew."
                )
            results = final.cv_results_
            name = param_name or _l2_parameter(results)
            own = None  # the label its own scoring gives
            if score_name is None and metric is None and not getattr(final, "multimetric_", 0):
                own = score_label(getattr(final, "scoring", None))
            if hasattr(final, "estimator") and hasattr(final, "multimetric_"):  # a search
                results = _with_default(results, name, final.estimator)
                if metric is None and final.multimetric_ and isinstance(final.refit, str):
                    metric = final.refit
            display = cls.from_cv_results(
                results, name, metric=metric, score_name=score_name, score_type=score_type,
                **style,
            )  # fmt: skip
            if own is not None:
                display.score_name = own
                display.ax_.set_ylabel(negated_label(own) if negate_score else own)
            return display
        if X is None or y is None or param_name is None or param_range is None:
            raise ValueError(
                "from_estimator needs X, y, param_name and param_range, unless the estimator "
                "is a fitted search, RegularizedMLPClassifierCV or RegularizedMLPRegressorCV."
            )
        values = list(param_range)
        if not values:
            raise ValueError(f"param_range holds no value of {param_name!r} to draw the path at.")
        # Each value reaches the estimator as given: a tuple stays one value, not a row, and
        # an int stays an int (max_iter, batch_size refuse 2.0).
        train_scores, test_scores = validation_curve(
            estimator, X, y, param_name=param_name, param_range=_as_objects(values),
            groups=groups, cv=cv, scoring=scoring, n_jobs=n_jobs, pre_dispatch=pre_dispatch,
            verbose=verbose, error_score=error_score, params=fit_params,
        )  # fmt: skip
        display = cls(
            param_name=param_name,
            param_range=_as_range(values),
            train_scores=train_scores,
            test_scores=test_scores,
            score_name=score_label(scoring) if score_name is None else score_name,
        )
        return display.plot(score_name=score_name, score_type=score_type, **style)

    @classmethod
    def from_cv_results(
        cls,
        cv_results: dict,
        param_name: str,
        *,
        metric: str | None = None,
        ax: Any = None,
        negate_score: bool = False,
        score_name: str | None = None,
        score_type: str | None = None,
        std_display_style: str | None = "fill_between",
        line_kw: dict | None = None,
        fill_between_kw: dict | None = None,
        errorbar_kw: dict | None = None,
    ):
        """Plot the scores a grid search recorded along one of its parameters.

        When the grid varies other parameters too, each value of ``param_name`` shows the
        candidate with the best rank at that value, and the star marks the best rank
        drawn: the search's choice. Numbers are drawn in increasing order (a randomized
        search's draws too). Candidates of a list of grids that leave ``param_name`` unset
        are left out here (their value, the estimator's default, is not in ``cv_results``);
        :meth:`from_estimator` given the fitted search draws them at that default. A
        candidate that racing pruned (a CV estimator's ``n_folds_run``) has its folds that
        did not run drawn at the mean of those it ran; a fold that ran and scored NaN (a
        failed fit) makes its candidate's mean NaN, the worst, as in ``rank_test_score``.
        Values that are not numbers (``hidden_layer_sizes``, per-layer dropout lists,
        augmentation objects) are drawn as labelled categories, in the grid's order.

        Parameters
        ----------
        cv_results : dict
            A fitted search's ``cv_results_``; training scores are drawn when it was run
            with ``return_train_score=True``.
        param_name : str
            The searched parameter, as in the grid (``"regularizedmlpclassifier__l2"``).
        metric : str, default=None
            The metric to draw from a multi-metric search (a key of its ``scoring``);
            None for a search of one metric.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        negate_score : bool, default=False
            Draw the negated scores, such as the errors of a ``neg_*`` scorer.
        score_name : str, default=None
            Label of the score axis; ``metric`` (or "Score") when None.
        score_type : {"test", "train", "both"}, default=None
            Which scores to draw; "both" when the search recorded training scores, else
            "test".
        std_display_style, line_kw, fill_between_kw, errorbar_kw
            As in :meth:`plot`.

        Returns
        -------
        display : RegularizationPathDisplay
            The plotted display.
        """
        require_matplotlib(f"{cls.__name__}.from_cv_results")
        if not isinstance(cv_results, Mapping):
            raise TypeError(
                f"cv_results must be a fitted search's cv_results_ (a dict); got "
                f"{type(cv_results).__name__}. Pass search.cv_results_, or pass the fitted "
                "search to from_estimator."
            )
        key = f"param_{param_name}"
        if key not in cv_results:
            raise ValueError(f"cv_results has no parameter {param_name!r}.")
        suffix = _metric_suffix(cv_results, metric)
        column = cv_results[key]
        set_here = ~np.ma.getmaskarray(column)  # a list of grids leaves some unset
        values = np.asarray(np.ma.getdata(column), dtype=object)
        folds = sorted(
            k for k in cv_results if k.startswith("split") and k.endswith(f"_test_{suffix}")
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
        ranks = np.asarray(cv_results.get(f"rank_test_{suffix}", fallback))
        for value in _unique_in_order(values[set_here]):
            candidates = np.flatnonzero([s and _same(v, value) for v, s in zip(values, set_here)])
            order = np.lexsort((fallback[candidates], ranks[candidates]))
            rows.append(candidates[order[0]])
            param_range.append(value)
        if all(isinstance(v, Real) and not isinstance(v, bool) for v in param_range):
            order = np.argsort(np.asarray(param_range, dtype=float), kind="stable")
            param_range, rows = [param_range[i] for i in order], [rows[i] for i in order]
        test = np.where(skipped, means[:, None], test)
        display = cls(
            param_name=param_name,
            param_range=_as_range(param_range),
            train_scores=train[rows] if has_train else None,
            test_scores=test[rows],
            score_name=score_label(None if suffix == "score" else suffix)
            if score_name is None
            else score_name,
        )
        # The search's choice: the best rank, the first in grid order among ties (as
        # GridSearchCV's best_index_ and the CV estimators'), not the smallest value.
        display._best = min(range(len(rows)), key=lambda i: (ranks[rows[i]], rows[i]))
        return display.plot(
            ax=ax,
            negate_score=negate_score,
            score_name=score_name,
            score_type=score_type or ("both" if has_train else "test"),
            std_display_style=std_display_style,
            line_kw=line_kw,
            fill_between_kw=fill_between_kw,
            errorbar_kw=errorbar_kw,
        )

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
            Label of the score axis; ``score_name`` the display was made with when None,
            negated with the scores ("Negative log loss" becomes "Log loss").
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
        require_matplotlib(f"{type(self).__name__}.plot")
        if score_name is None:
            score_name = negated_label(self.score_name) if negate_score else self.score_name
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
        elif self.ax_.get_xscale() == "symlog" and np.min(saved_range) == 0:
            # scikit-learn's symmetric log scale is linear below 2, where penalties are:
            # linear only up to the smallest positive value, each decade in its own place.
            positive = np.asarray(saved_range, dtype=float)
            self.ax_.set_xscale("symlog", linthresh=positive[positive > 0].min())
        means = np.asarray(self.test_scores, dtype=float).mean(axis=1)
        best = getattr(self, "_best", None)  # from_cv_results: the search's rank 1
        if np.isnan(means).all():
            best = None  # no score to mark, whatever ranks a search gave its failures
        elif best is None:
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
    return _as_objects(values)


def _as_objects(values: list[Any]) -> np.ndarray:
    """An object array holding each of ``values`` as it is, one per item."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _l2_parameter(cv_results: Mapping) -> str:
    """The searched L2 penalty's name: ``"l2"``, or a pipeline step's
    (``"regularizedmlpclassifier__l2"``) when that is the only one."""
    names = [k[len("param_") :] for k in cv_results if k.startswith("param_")]
    steps = [name for name in names if name.endswith("__l2")]
    return steps[0] if "l2" not in names and len(steps) == 1 else "l2"


def _label(value: Any) -> str:
    return str(value) if isinstance(value, (tuple, list)) else repr(value)


def _metric_suffix(cv_results: Mapping, metric: str | None) -> str:
    """The key suffix of ``metric``'s scores in ``cv_results`` (``split0_test_<suffix>``)."""
    metrics = sorted(k[len("mean_test_") :] for k in cv_results if k.startswith("mean_test_"))
    if metric is not None:
        if metric not in metrics:
            raise ValueError(f"cv_results has no metric {metric!r}; it has {metrics}.")
        return metric
    if "score" in metrics or len(metrics) == 1:
        return "score" if "score" in metrics else metrics[0]
    raise ValueError(
        f"cv_results holds the scores of several metrics {metrics}: pass metric= one of them."
    )


def _with_default(cv_results: Mapping, param_name: str, estimator: Any) -> Mapping:
    """``cv_results`` with the candidates that left ``param_name`` unset (a list of grids)
    given ``estimator``'s value, the one they were fitted with."""
    key = f"param_{param_name}"
    column = cv_results.get(key)
    params = estimator.get_params(deep=True)
    if column is None or not np.ma.is_masked(column) or param_name not in params:
        return cv_results
    filled = np.empty(len(column), dtype=object)
    filled[:] = list(np.ma.getdata(column))
    for i in np.flatnonzero(np.ma.getmaskarray(column)):
        filled[i] = params[param_name]
    return {**cv_results, key: filled}
