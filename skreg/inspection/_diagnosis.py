"""The bias/variance diagnosis: name the problem of a model from its errors."""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np
from sklearn.metrics import check_scoring


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
_BOTH_STEP = "then tune the regularization (l2, dropout) on the validation error"


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
    more regularization; with both, the steps that narrow both gaps (a bigger network,
    longer training, more data), the larger gap's first, then tuning the regularization,
    which pulls the two gaps apart.

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
    # A gap exceeds the tolerance by more than float rounding: 0.10 - 0.08 is
    # 0.020000000000000004, a gap equal to the default tolerance, not above it.
    margin = tolerance + 1e-12
    high_bias, high_variance = bias > margin, variance > margin
    if high_bias and high_variance:
        verdict = "high bias and high variance"
        # The steps that serve both: a bigger network, longer training and more data; the
        # regularization's strength and the network's size pull the two gaps apart.
        first, second = (_BIAS_STEPS[:2], _VARIANCE_STEPS[:1])
        if variance > bias:
            first, second = second, first
        steps = first + second + (_BOTH_STEP,)
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
    regressors); for a ``neg_*`` scorer, or one made with ``greater_is_better=False``, it is
    the negated score, such as the mean squared error.

    Parameters
    ----------
    estimator : estimator
        A fitted estimator or pipeline.
    X_train, y_train : array-like
        The data it was trained on.
    X_val, y_val : array-like
        Held-out (dev) data.
    scoring : str or callable, default=None
        Scorer; the estimator's ``score`` when None. A plain function
        ``scoring(estimator, X, y)`` counts as negated when its name starts with ``neg_``.
    bayes_error : float or None, default=None
        Human-level or best achievable error on the same scale.
    tolerance : float, default=0.02
        The gap that counts as high, in the error's units: with
        ``scoring="neg_mean_squared_error"`` a squared target's, so choose it (and
        ``bayes_error``) on that scale.

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
    if isinstance(scoring, (list, tuple, set, dict)):
        raise ValueError(
            f"scoring must name one metric (a string or a callable); got {scoring!r}."
        )
    scorer = check_scoring(estimator, scoring=scoring)
    # A scorer object carries its sign (make_scorer(..., greater_is_better=False), the
    # "neg_*" scorers); a plain callable's name is all there is to go on.
    sign = getattr(scorer, "_sign", None)
    name = getattr(scoring, "__name__", "")
    negated = sign < 0 if sign is not None else name.startswith("neg_")

    def error(X, y):
        score = float(scorer(estimator, X, y))
        return -score if negated else 1.0 - score

    return diagnose(
        error(X_train, y_train),
        error(X_val, y_val),
        bayes_error=bayes_error,
        tolerance=tolerance,
    )
