"""Penalty translation and the scikit-learn alpha bridge."""

import warnings

import keras
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor

from skreg.regularizers import l2_from_sklearn_alpha, sklearn_alpha_from_l2


@pytest.mark.parametrize(("l1", "l2"), [(1e-3, 0.0), (0.0, 1e-3), (1e-3, 2e-3)])
def test_the_penalty_is_keras_l1l2_formula(l1, l2):
    from skreg._engine._penalty import Penalty, kernel_penalty

    w = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    expected = l1 * np.abs(w).sum() + l2 * np.square(w).sum()
    np.testing.assert_allclose(float(Penalty(l1, l2)(w)), expected, rtol=1e-5)
    keras_own = keras.regularizers.L1L2(l1=l1, l2=l2)(w)
    np.testing.assert_allclose(float(kernel_penalty(l1, l2)(w)), float(keras_own), rtol=1e-6)
    assert kernel_penalty(0.0, 0.0) is None
    assert kernel_penalty(l1, l2).get_config() == {"l1": l1, "l2": l2}


def _sklearn_penalty(estimator, alpha, X, y):
    """The penalty scikit-learn adds to a batch's loss, read from its own ``loss_``: the
    loss of one full batch with ``alpha`` minus the same without, at the same initial
    weights (a learning rate too small to move them), and those weights."""
    losses = []
    for a in (alpha, 0.0):
        mlp = estimator(
            hidden_layer_sizes=(4,), alpha=a, solver="sgd", learning_rate_init=1e-12,
            batch_size=len(y), max_iter=1, shuffle=False, random_state=0,
        )  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            losses.append(mlp.fit(X, y).loss_)
    return losses[0] - losses[1], sum(np.square(w).sum() for w in mlp.coefs_), losses[1]


def test_alpha_conversion_matches_scikit_learns_classifier_loss():
    # skreg's batch loss is mean cross-entropy + l2 * sum(W**2); scikit-learn's the same
    # cross-entropy plus its alpha penalty, so the penalties must be equal.
    alpha, rng = 0.3, np.random.default_rng(0)
    X, y = rng.normal(size=(32, 3)), rng.integers(0, 2, 32)
    penalty, squared, _ = _sklearn_penalty(MLPClassifier, alpha, X, y)
    np.testing.assert_allclose(l2_from_sklearn_alpha(alpha, 32) * squared, penalty, rtol=1e-6)
    assert sklearn_alpha_from_l2(l2_from_sklearn_alpha(alpha, 32), 32) == pytest.approx(alpha)


def test_regression_conversion_accounts_for_half_squared_error():
    # MLPRegressor's batch loss is half the squared error plus its penalty; skreg's is the
    # squared error plus l2 * sum(W**2): with l2 = alpha / b, exactly twice scikit-learn's.
    alpha, rng = 0.3, np.random.default_rng(1)
    X = rng.normal(size=(32, 3))
    y = X @ np.array([1.0, -1.0, 0.5])
    penalty, squared, half_mse = _sklearn_penalty(MLPRegressor, alpha, X, y)
    l2 = l2_from_sklearn_alpha(alpha, 32, task="regression")
    np.testing.assert_allclose(2 * half_mse + l2 * squared, 2 * (half_mse + penalty), rtol=1e-6)
    assert sklearn_alpha_from_l2(l2, 32, task="regression") == pytest.approx(alpha)


def test_alpha_conversion_rejects_negative_values():
    with pytest.raises(ValueError):
        l2_from_sklearn_alpha(-1.0, 10)
    with pytest.raises(ValueError):
        sklearn_alpha_from_l2(1.0, 0)
    with pytest.raises(ValueError, match="task"):
        l2_from_sklearn_alpha(1.0, 10, task="ranking")


def test_alpha_conversion_refuses_a_batch_size_beyond_the_floats():
    # Python's ints have no bound; the division raised a bare OverflowError.
    for convert in (l2_from_sklearn_alpha, sklearn_alpha_from_l2):
        with pytest.raises(ValueError, match="batch_size has 401 digits"):
            convert(1e-4, 10**400)
    assert sklearn_alpha_from_l2(1e-4, 10**300) == pytest.approx(2e296)


@pytest.mark.parametrize(
    ("alpha", "batch_size", "name"),
    [(float("nan"), 10, "alpha"), (np.ones(2), 10, "alpha"), ("0.1", 10, "alpha"),
     (None, 10, "alpha"), (1e-4, 2.5, "batch_size"), (1e-4, float("nan"), "batch_size")],
)  # fmt: skip
def test_alpha_conversion_names_the_argument_it_cannot_take(alpha, batch_size, name):
    # NaN used to pass through, an array or a string failed inside a comparison.
    with pytest.raises(ValueError, match=f"The '{name}' parameter of l2_from_sklearn_alpha"):
        l2_from_sklearn_alpha(alpha, batch_size)
    with pytest.raises(ValueError, match=f"'{name if name != 'alpha' else 'l2'}' parameter"):
        sklearn_alpha_from_l2(alpha, batch_size)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_no_hidden_layer_with_l2_is_scikit_learns_penalized_linear_model(task):
    # hidden_layer_sizes=() (accepted by MLPClassifier, refused here before) is a linear
    # model. Its objective, mean loss + l2 * sum(W**2) with the bias free, is
    # LogisticRegression's at C = 1 / (2 n l2) and Ridge's at alpha = n * l2 (skreg's
    # squared error is not halved), so full-batch training converges to their solutions.
    from plain import plain
    from sklearn.datasets import load_diabetes, load_iris
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.preprocessing import StandardScaler

    from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor

    classify = task == "classification"
    X, y = (load_iris if classify else load_diabetes)(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    n, l2 = len(X), 1e-2
    if classify:
        cls, reference = RegularizedMLPClassifier, LogisticRegression(C=1 / (2 * n * l2))
        reference.set_params(tol=1e-10, max_iter=10_000)
    else:
        y = (y - y.mean()) / y.std()
        cls, reference = RegularizedMLPRegressor, Ridge(alpha=n * l2)
    reference.fit(X, y)
    est = cls(**{**plain(cls), "hidden_layer_sizes": (), "l2": l2, "batch_size": n,
                 "learning_rate": 5e-2, "max_iter": 1000, "random_state": 0})  # fmt: skip
    est.fit(X, y)
    assert [w.shape for w in est.coefs_] == [(X.shape[1], 3 if classify else 1)]
    coef = est.coefs_[0] if classify else est.coefs_[0][:, 0]
    np.testing.assert_allclose(coef, reference.coef_.T, atol=1e-5)
    if classify:
        np.testing.assert_allclose(est.predict_proba(X), reference.predict_proba(X), atol=1e-5)
    else:
        np.testing.assert_allclose(est.predict(X), reference.predict(X), atol=1e-5)
