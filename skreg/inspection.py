"""Looking at a fit: training-history and regularization-path Displays, and the bias/variance
diagnosis.

The Displays follow scikit-learn's conventions: ``from_estimator`` (or ``from_cv_results``)
computes and plots, ``plot(ax=...)`` draws on given axes, and the drawn objects are kept as
``figure_``, ``ax_`` and ``lines_``. matplotlib is imported only when something is plotted.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np
from sklearn.metrics import check_scoring
from sklearn.model_selection import ValidationCurveDisplay
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

__all__ = [
    "Diagnosis",
    "RegularizationPathDisplay",
    "TrainingHistoryDisplay",
    "diagnose",
    "diagnose_estimator",
]


class TrainingHistoryDisplay:
    """Training and validation loss per epoch, with the best epoch marked.

    Create it with :meth:`from_estimator`. The losses include the weight penalty, as the
    network minimizes them. When early stopping monitored a scikit-learn scorer, its
    validation score is drawn on a second y-axis.

    Parameters
    ----------
    history : dict of str to list of float
        Per-epoch values, as a fitted estimator's ``history_``: ``"loss"`` and optionally
        ``"val_loss"`` and ``"val_<score>"``.
    best_epoch : int or None, default=None
        The epoch (counted from 1) whose weights the model kept; marked when given.
    name : str or None, default=None
        Name for the title.

    Attributes
    ----------
    ax_ : matplotlib Axes
        Axes with the loss curves.
    score_ax_ : matplotlib Axes or None
        Twin axes with the monitored validation score, when there is one.
    figure_ : matplotlib Figure
        Figure containing the curves.
    lines_ : dict of str to matplotlib Line2D
        The drawn curves by history key.
    best_line_ : matplotlib Line2D or None
        The vertical line at the best epoch.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_iris
    >>> from skreg import RegularizedMLPClassifier
    >>> from skreg.inspection import TrainingHistoryDisplay
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = RegularizedMLPClassifier((8,), max_iter=20, early_stopping=True,
    ...                                validation_fraction=0.3, random_state=0).fit(X, y)
    >>> display = TrainingHistoryDisplay.from_estimator(clf)
    >>> sorted(display.lines_)
    ['loss', 'val_loss']
    """

    def __init__(self, *, history, best_epoch=None, name=None):
        self.history = history
        self.best_epoch = best_epoch
        self.name = name

    @classmethod
    def from_estimator(cls, estimator: Any, *, ax: Any = None, name: str | None = None):
        """Plot the history of a fitted skreg estimator (or a pipeline ending in one).

        Parameters
        ----------
        estimator : RegularizedMLPClassifier, RegularizedMLPRegressor or a fitted wrapper
            The fitted estimator, or a fitted Pipeline (its last step),
            TransformedTargetRegressor (its ``regressor_``) or search (its
            ``best_estimator_``) around one.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        name : str or None, default=None
            Title; the estimator's class name when None.

        Returns
        -------
        display : TrainingHistoryDisplay
            The plotted display.
        """
        _require_matplotlib(f"{cls.__name__}.from_estimator")
        model = _trained_network(estimator)
        has_validation = "val_loss" in model.history_
        display = cls(
            history=model.history_,
            best_epoch=model.best_epoch_ if has_validation else None,
            name=type(model).__name__ if name is None else name,
        )
        return display.plot(ax=ax)

    def plot(self, ax: Any = None):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.

        Returns
        -------
        display : TrainingHistoryDisplay
            This display, with ``ax_``, ``figure_`` and ``lines_`` set.
        """
        _require_matplotlib(f"{type(self).__name__}.plot")
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
        epochs = np.arange(1, len(self.history["loss"]) + 1)
        self.lines_ = {}
        labels = {"loss": "training loss", "val_loss": "validation loss"}
        for key, label in labels.items():
            if key in self.history:
                (self.lines_[key],) = ax.plot(epochs, self.history[key], label=label)
        self.score_ax_ = None
        scores = [k for k in self.history if k.startswith("val_") and k != "val_loss"]
        if scores:
            self.score_ax_ = ax.twinx()
            key = scores[0]
            (self.lines_[key],) = self.score_ax_.plot(
                epochs, self.history[key], color="tab:green", label=f"validation {key[4:]}"
            )
            self.score_ax_.set_ylabel(f"validation {key[4:]}")
        self.best_line_ = None
        if self.best_epoch:
            self.best_line_ = ax.axvline(
                self.best_epoch,
                color="gray",
                linestyle="--",
                label=f"best epoch ({self.best_epoch})",
            )
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss (penalty included)")
        handles = [*ax.get_legend_handles_labels()[0]]
        if self.score_ax_ is not None:
            handles += self.score_ax_.get_legend_handles_labels()[0]
        ax.legend(handles=handles)
        if self.name:
            ax.set_title(self.name)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self


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
    best_marker_ : matplotlib Line2D
        The marker at the best mean test score.
    best_value_ : object
        The parameter value with the best mean test score.

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
        X: Any,
        y: Any,
        *,
        param_name: str,
        param_range: Any,
        cv: Any = None,
        scoring: Any = None,
        n_jobs: int | None = None,
        ax: Any = None,
        score_name: str | None = None,
    ):
        """Cross-validate ``estimator`` at every value of ``param_name`` and plot the scores.

        Parameters
        ----------
        estimator : estimator
            The estimator or pipeline; ``param_name`` uses ``set_params`` syntax, such as
            ``"regularizedmlpclassifier__l2"`` in a pipeline.
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.
        param_name : str
            The parameter to vary.
        param_range : array-like of shape (n_values,)
            Its values.
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
        return super().from_estimator(
            estimator,
            X,
            y,
            param_name=param_name,
            param_range=param_range,
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
        candidate with the best mean test score at that value. Values that are not numbers
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
        _require_matplotlib(f"{cls.__name__}.from_cv_results")
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
        for value in _unique_in_order(values):
            candidates = np.flatnonzero([_same(v, value) for v in values])
            rows.append(candidates[np.argmax(test[candidates].mean(axis=1))])
            param_range.append(value)
        display = cls(
            param_name=param_name,
            param_range=_as_range(param_range),
            train_scores=train[rows] if has_train else None,
            test_scores=test[rows],
            score_name="Score" if score_name is None else score_name,
        )
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
        categorical = np.asarray(saved_range).dtype.kind not in "iuf"
        if categorical:  # drawn at 0, 1, 2, ... and labelled
            self.param_range = np.arange(len(saved_range))
        try:
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
        if categorical:
            self.ax_.set_xticks(x, [_label(v) for v in saved_range])
        means = np.asarray(self.test_scores, dtype=float).mean(axis=1)
        best = int(np.argmax(means))
        means = -means if negate_score else means
        self.best_value_ = saved_range[best]
        (self.best_marker_,) = self.ax_.plot(
            [x[best]], [means[best]], "k*", markersize=12, label="best"
        )
        self.ax_.set_xlabel(self.param_name)
        self.ax_.legend()
        return self


@dataclass(frozen=True)
class Diagnosis:
    """A bias/variance verdict and what to try next.

    Attributes
    ----------
    train_error : float
        Error on the training data.
    validation_error : float
        Error on held-out (dev) data.
    bayes_error : float
        The error to aim for (human-level or best achievable); 0 when unknown.
    avoidable_bias : float
        ``train_error - bayes_error``.
    variance : float
        ``validation_error - train_error``.
    high_bias : bool
        Whether the avoidable bias exceeds the tolerance.
    high_variance : bool
        Whether the variance exceeds the tolerance.
    verdict : str
        "high bias", "high variance", "high bias and high variance" or "neither".
    recommendations : tuple of str
        Next steps, the larger problem first.

    Examples
    --------
    >>> from skreg.inspection import diagnose
    >>> diagnosis = diagnose(train_error=0.01, validation_error=0.11)
    >>> diagnosis.verdict, round(diagnosis.variance, 2)
    ('high variance', 0.1)
    """

    train_error: float
    validation_error: float
    bayes_error: float
    avoidable_bias: float
    variance: float
    high_bias: bool
    high_variance: bool
    verdict: str
    recommendations: tuple[str, ...]

    def __str__(self) -> str:
        lines = [
            f"train error       {self.train_error:.4f}",
            f"validation error  {self.validation_error:.4f}",
            f"bayes error       {self.bayes_error:.4f}",
            f"avoidable bias    {self.avoidable_bias:+.4f}",
            f"variance          {self.variance:+.4f}",
            f"verdict: {self.verdict}",
        ]
        lines += ["next steps:"] + [f"  - {step}" for step in self.recommendations]
        return "\n".join(lines)


_BIAS_STEPS = (
    "train a bigger network (more units or layers)",
    "train longer (raise max_iter) or tune learning_rate",
    "weaken the regularization (lower l1, l2 or dropout)",
)
_VARIANCE_STEPS = (
    "get more training data (or add data augmentation)",
    "strengthen the regularization (raise l2 or dropout, turn on early_stopping)",
    "try a smaller network",
)


def diagnose(
    train_error: float,
    validation_error: float,
    *,
    bayes_error: float | None = None,
    tolerance: float = 0.02,
) -> Diagnosis:
    """Name the problem of a model from its errors, as the bias/variance recipe teaches.

    Avoidable bias is ``train_error - bayes_error``; variance is
    ``validation_error - train_error``. Each is "high" when it exceeds ``tolerance``. High
    bias calls for a bigger network or longer training, high variance for more data or
    more regularization; with both, the larger gap comes first.

    Parameters
    ----------
    train_error : float
        Error on the training data, such as ``1 - accuracy``.
    validation_error : float
        Error on held-out data, on the same scale.
    bayes_error : float or None, default=None
        Human-level or best achievable error; 0 when None.
    tolerance : float, default=0.02
        The gap, on the errors' scale, that counts as high.

    Returns
    -------
    diagnosis : Diagnosis
        The gaps, the verdict and the recommended next steps.

    Examples
    --------
    >>> from skreg.inspection import diagnose
    >>> diagnose(0.01, 0.11).verdict
    'high variance'
    >>> diagnose(0.15, 0.16, bayes_error=0.01).verdict
    'high bias'
    """
    numbers = {"train_error": train_error, "validation_error": validation_error,
               "bayes_error": 0.0 if bayes_error is None else bayes_error,
               "tolerance": tolerance}  # fmt: skip
    for name, value in numbers.items():
        if isinstance(value, bool) or not isinstance(value, Real):
            raise TypeError(f"{name} must be a number; got {value!r} ({type(value).__name__}).")
        if not np.isfinite(value):
            raise ValueError(f"{name} must be a finite number; got {value!r}.")
    if tolerance < 0:
        raise ValueError(f"tolerance must be non-negative; got {tolerance!r}.")
    bayes = float(numbers["bayes_error"])
    bias = float(train_error) - bayes
    variance = float(validation_error) - float(train_error)
    high_bias, high_variance = bias > tolerance, variance > tolerance
    if high_bias and high_variance:
        verdict = "high bias and high variance"
        first, second = (_BIAS_STEPS, _VARIANCE_STEPS)
        if variance > bias:
            first, second = second, first
        steps = first + second
    elif high_bias:
        verdict, steps = "high bias", _BIAS_STEPS
    elif high_variance:
        verdict, steps = "high variance", _VARIANCE_STEPS
    else:
        verdict = "neither"
        steps = ("the model is close to the target error; stop here or lower the tolerance",)
    return Diagnosis(
        train_error=float(train_error),
        validation_error=float(validation_error),
        bayes_error=bayes,
        avoidable_bias=bias,
        variance=variance,
        high_bias=high_bias,
        high_variance=high_variance,
        verdict=verdict,
        recommendations=steps,
    )


def diagnose_estimator(
    estimator: Any,
    X_train: Any,
    y_train: Any,
    X_val: Any,
    y_val: Any,
    *,
    scoring: Any = None,
    bayes_error: float | None = None,
    tolerance: float = 0.02,
) -> Diagnosis:
    """:func:`diagnose` a fitted estimator on its training data and held-out data.

    The error is ``1 - score`` (for example ``1 - accuracy`` for classifiers, ``1 - R²`` for
    regressors); for a ``neg_*`` scorer it is the negated score, such as the mean squared
    error.

    Parameters
    ----------
    estimator : estimator
        A fitted estimator or pipeline.
    X_train, y_train : array-like
        The data it was trained on.
    X_val, y_val : array-like
        Held-out (dev) data.
    scoring : str or callable, default=None
        Scorer; the estimator's ``score`` when None.
    bayes_error : float or None, default=None
        Human-level or best achievable error on the same scale.
    tolerance : float, default=0.02
        The gap that counts as high.

    Returns
    -------
    diagnosis : Diagnosis
        The verdict.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import train_test_split
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> from skreg.inspection import diagnose_estimator
    >>> X, y = load_iris(return_X_y=True)
    >>> X_train, X_val, y_train, y_val = train_test_split(X, y, random_state=0)
    >>> model = KNeighborsClassifier(n_neighbors=1).fit(X_train, y_train)
    >>> diagnose_estimator(model, X_train, y_train, X_val, y_val).train_error
    0.0
    """
    scorer = check_scoring(estimator, scoring=scoring)
    negated = isinstance(scoring, str) and scoring.startswith("neg_")

    def error(X, y):
        score = float(scorer(estimator, X, y))
        return -score if negated else 1.0 - score

    return diagnose(
        error(X_train, y_train),
        error(X_val, y_val),
        bayes_error=bayes_error,
        tolerance=tolerance,
    )


def _require_matplotlib(caller: str) -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError as error:
        raise ImportError(
            f"{caller} needs matplotlib: python -m pip install 'skreg[plots]'."
        ) from error


def _final_step(estimator: Any) -> Any:
    return estimator[-1] if isinstance(estimator, Pipeline) else estimator


def _trained_network(estimator: Any) -> Any:
    """The fitted skreg estimator in ``estimator``: itself, a Pipeline's last step, or the
    fitted model a TransformedTargetRegressor or a search holds."""
    current = _final_step(estimator)
    while not hasattr(current, "history_"):
        inner = next(
            (getattr(current, name) for name in _FITTED_INNER if hasattr(current, name)), None
        )
        if inner is None:
            break
        current = _final_step(inner)
    else:
        return current
    check_is_fitted(current)  # an unfitted wrapper or skreg estimator says so
    raise TypeError(
        f"{type(current).__name__} has no training history: pass a fitted skreg estimator, "
        "or a Pipeline, TransformedTargetRegressor or search that holds one."
    )


# Where scikit-learn's wrappers keep their fitted estimator.
_FITTED_INNER = ("regressor_", "best_estimator_", "estimator_")


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
