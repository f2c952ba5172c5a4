"""Penalty translation and the scikit-learn alpha bridge."""

import keras
import numpy as np
import pytest
from sklearn.neural_network import MLPClassifier

from skreg.regularizers import kernel_regularizer, l2_from_sklearn_alpha, sklearn_alpha_from_l2


@pytest.mark.parametrize(
    "l1, l2, kind",
    [
        (0.0, 0.0, type(None)),
        (1e-3, 0.0, keras.regularizers.L1),
        (0.0, 1e-3, keras.regularizers.L2),
        (1e-3, 1e-3, keras.regularizers.L1L2),
    ],
)
def test_kernel_regularizer_kinds_and_values(l1, l2, kind):
    regularizer = kernel_regularizer(l1, l2)
    assert isinstance(regularizer, kind)
    if regularizer is not None:
        w = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
        expected = l1 * np.abs(w).sum() + l2 * np.square(w).sum()
        np.testing.assert_allclose(float(regularizer(w)), expected, rtol=1e-5)


def test_alpha_conversion_matches_sklearn_penalty_per_batch():
    # scikit-learn adds 0.5 * alpha * sum(W**2) / batch_size to each batch's loss.
    alpha, batch_size = 1e-2, 32
    rng = np.random.default_rng(0)
    X = rng.normal(size=(batch_size, 3))
    y = rng.integers(0, 2, batch_size)
    mlp = MLPClassifier((4,), alpha=alpha, max_iter=1, batch_size=batch_size).fit(X, y)
    squared = sum(np.square(w).sum() for w in mlp.coefs_)
    sklearn_penalty = 0.5 * alpha * squared / batch_size
    skreg_penalty = l2_from_sklearn_alpha(alpha, batch_size) * squared
    np.testing.assert_allclose(skreg_penalty, sklearn_penalty)
    assert sklearn_alpha_from_l2(
        l2_from_sklearn_alpha(alpha, batch_size), batch_size
    ) == pytest.approx(alpha)


def test_regression_conversion_accounts_for_half_squared_error():
    # MLPRegressor minimizes 0.5 * MSE + alpha / (2 b) * sum(W**2); skreg minimizes
    # MSE + l2 * sum(W**2), which is twice that objective when l2 = alpha / b.
    alpha, batch_size = 1e-2, 32
    l2 = l2_from_sklearn_alpha(alpha, batch_size, task="regression")
    mse, squared = 0.7, 12.0
    sklearn_objective = 0.5 * mse + 0.5 * alpha * squared / batch_size
    np.testing.assert_allclose(mse + l2 * squared, 2 * sklearn_objective)
    assert sklearn_alpha_from_l2(l2, batch_size, task="regression") == pytest.approx(alpha)


def test_alpha_conversion_rejects_negative_values():
    with pytest.raises(ValueError):
        l2_from_sklearn_alpha(-1.0, 10)
    with pytest.raises(ValueError):
        sklearn_alpha_from_l2(1.0, 0)
    with pytest.raises(ValueError, match="task"):
        l2_from_sklearn_alpha(1.0, 10, task="ranking")
