"""Weight penalties: Keras regularizers from ``l1``/``l2`` and the scikit-learn ``alpha`` bridge.

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
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import _backend


def kernel_regularizer(l1: float, l2: float) -> Any:
    """Return the Keras regularizer for the given penalties, or None when both are zero.

    Parameters
    ----------
    l1 : float
        Coefficient of the sum of absolute weights.
    l2 : float
        Coefficient of the sum of squared weights.

    Returns
    -------
    regularizer : keras.regularizers.Regularizer or None
        ``L1``, ``L2`` or ``L1L2``, so that the saved Keras model names the penalty it uses.

    Examples
    --------
    >>> from skreg.regularizers import kernel_regularizer
    >>> kernel_regularizer(0.0, 1e-3).get_config()
    {'l2': 0.001}
    """
    keras = _backend.keras()
    if l1 and l2:
        return keras.regularizers.L1L2(l1=l1, l2=l2)
    if l1:
        return keras.regularizers.L1(l1)
    if l2:
        return keras.regularizers.L2(l2)
    return None


def weight_penalty(kernels: Sequence[Any], l1: Any, l2: Any) -> Any:
    """``l1 * sum(|W|) + l2 * sum(W**2)`` over ``kernels``, in the active backend's ops.

    This is the penalty skreg's training programs add to every batch's loss (Keras' ``L1L2``
    formula), with ``l1`` and ``l2`` as run-time values.

    Parameters
    ----------
    kernels : sequence of tensors
        The dense layers' weight matrices.
    l1, l2 : float or scalar tensor
        The coefficients.

    Returns
    -------
    penalty : scalar tensor

    Examples
    --------
    >>> import keras, numpy as np
    >>> from skreg.regularizers import weight_penalty
    >>> W = np.array([[1.0, -2.0]], dtype="float32")
    >>> float(keras.ops.convert_to_numpy(weight_penalty([W], 0.5, 0.25)))
    2.75
    """
    ops = _backend.keras().ops
    absolute = sum(ops.sum(ops.abs(kernel)) for kernel in kernels)
    squares = sum(ops.sum(ops.square(kernel)) for kernel in kernels)
    return l1 * absolute + l2 * squares


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
    if alpha < 0:
        raise ValueError(f"alpha must be >= 0; got {alpha}.")
    return alpha / _alpha_per_l2(batch_size, task)


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
    if l2 < 0:
        raise ValueError(f"l2 must be >= 0; got {l2}.")
    return l2 * _alpha_per_l2(batch_size, task)


def _alpha_per_l2(batch_size: int, task: str) -> int:
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}.")
    if task not in ("classification", "regression"):
        raise ValueError(f"task must be 'classification' or 'regression'; got {task!r}.")
    return 2 * batch_size if task == "classification" else batch_size
