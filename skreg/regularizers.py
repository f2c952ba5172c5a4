"""Weight penalties: what ``l1`` and ``l2`` mean, and the bridge to scikit-learn's ``alpha``.

skreg follows Keras' semantics: the penalty is added to the loss of every mini-batch,

.. math::

    \\text{batch loss} = \\text{mean data loss} + l_1 \\sum |W| + l_2 \\sum W^2,

summed over the kernel (weight matrix) of every dense layer, the output layer included;
biases are not penalized. scikit-learn's MLPs add ``alpha / 2 * sum(W**2) / batch_size`` to
each batch's loss. For the classifier both libraries use the mean cross-entropy, so
``l2 = alpha / (2 * batch_size)`` trains the same objective. ``MLPRegressor`` uses half the
mean squared error where skreg uses the mean squared error, so the regressor's objective is
matched by ``l2 = alpha / batch_size``. (Exactly so for full batches; a smaller
last batch is weighted slightly differently by the two libraries.)

The engine computes the penalty with one Keras regularizer, for training and for the
exported ``model_`` (``skreg._engine._penalty.Penalty``, Keras' ``L1L2`` formula); this
module needs no backend.
"""

from __future__ import annotations

from numbers import Integral, Real

from sklearn.utils._param_validation import Interval, StrOptions, validate_params

_CONVERSION = {
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "task": [StrOptions({"classification", "regression"})],
}


@validate_params(
    {"alpha": [Interval(Real, 0, None, closed="left")], **_CONVERSION},
    prefer_skip_nested_validation=True,
)
def l2_from_sklearn_alpha(alpha: float, batch_size: int, *, task: str = "classification") -> float:
    """Convert scikit-learn's MLP ``alpha`` into skreg's ``l2`` for the same objective.

    Parameters
    ----------
    alpha : float
        The ``alpha`` of :class:`~sklearn.neural_network.MLPClassifier` or
        :class:`~sklearn.neural_network.MLPRegressor`.
    batch_size : int
        The mini-batch size both models train with (for ``batch_size="auto"`` use
        ``min(200, n_samples)``).
    task : {"classification", "regression"}, default="classification"
        Which pair of estimators to match; see the module docstring for why they differ.

    Returns
    -------
    l2 : float
        ``alpha / (2 * batch_size)`` for classification, ``alpha / batch_size`` for regression.

    Examples
    --------
    >>> from skreg.regularizers import l2_from_sklearn_alpha
    >>> l2_from_sklearn_alpha(1e-4, batch_size=200)
    2.5e-07
    >>> l2_from_sklearn_alpha(1e-4, batch_size=200, task="regression")
    5e-07
    """
    return alpha / _alpha_per_l2(batch_size, task)


@validate_params(
    {"l2": [Interval(Real, 0, None, closed="left")], **_CONVERSION},
    prefer_skip_nested_validation=True,
)
def sklearn_alpha_from_l2(l2: float, batch_size: int, *, task: str = "classification") -> float:
    """Inverse of :func:`l2_from_sklearn_alpha`: the ``alpha`` matching an ``l2``.

    Parameters
    ----------
    l2 : float
        skreg's L2 coefficient.
    batch_size : int
        The mini-batch size.
    task : {"classification", "regression"}, default="classification"
        Which pair of estimators to match.

    Returns
    -------
    alpha : float
        ``2 * batch_size * l2`` for classification, ``batch_size * l2`` for regression.

    Examples
    --------
    >>> from skreg.regularizers import sklearn_alpha_from_l2
    >>> sklearn_alpha_from_l2(1e-4, batch_size=50)
    0.01
    """
    return l2 * _alpha_per_l2(batch_size, task)


def _alpha_per_l2(batch_size: int, task: str) -> float:
    try:
        return float(2 * batch_size if task == "classification" else batch_size)
    except OverflowError:  # an int beyond the floats: no batch is that large
        raise ValueError(
            f"batch_size has {len(str(batch_size))} digits, beyond the range of a float."
        ) from None
