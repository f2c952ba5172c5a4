"""ZCAWhitening: whitened covariance, closeness to the input, use in a pipeline."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline

from skreg import RegularizedMLPClassifier, ZCAWhitening


@pytest.fixture(scope="module")
def correlated():
    rng = np.random.default_rng(0)
    mixing = np.array([[2.0, 1.0, 0.0], [0.0, 1.0, 0.5], [0.0, 0.0, 3.0]])
    return rng.normal(size=(2_000, 3)) @ mixing + [1.0, -2.0, 5.0]


def test_whitened_data_have_identity_covariance(correlated):
    Z = ZCAWhitening(epsilon=1e-9).fit_transform(correlated)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(np.cov(Z, rowvar=False, bias=True), np.eye(3), atol=1e-6)


def test_zca_is_the_whitening_closest_to_the_centered_input(correlated):
    centered = correlated - correlated.mean(axis=0)
    zca = ZCAWhitening(epsilon=1e-9).fit(correlated)
    np.testing.assert_allclose(zca.whitening_, zca.whitening_.T)
    pca = PCA(whiten=True).fit(correlated).transform(correlated)
    # Both whiten; of all whitening matrices, ZCA's keeps the output nearest the input.
    zca_distance = np.linalg.norm(zca.transform(correlated) - centered)
    assert zca_distance < np.linalg.norm(pca - centered)
    rotation, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(3, 3)))
    assert zca_distance < np.linalg.norm(zca.transform(correlated) @ rotation - centered)


def test_epsilon_shrinks_low_variance_directions():
    X = load_digits().data
    strong = ZCAWhitening(epsilon=1e-6).fit_transform(X)
    mild = ZCAWhitening(epsilon=10.0).fit_transform(X)
    assert np.abs(mild).max() < np.abs(strong).max()


def test_inverse_transform_recovers_the_data(correlated):
    zca = ZCAWhitening(epsilon=0.5).fit(correlated)
    np.testing.assert_allclose(zca.inverse_transform(zca.transform(correlated)), correlated)


def test_zca_before_the_network_in_a_pipeline():
    X, y = load_digits(return_X_y=True)
    pipe = make_pipeline(
        ZCAWhitening(),
        RegularizedMLPClassifier((32,), max_iter=15, learning_rate=1e-2, random_state=0),
    )
    assert pipe.fit(X[:1200], y[:1200]).score(X[1200:], y[1200:]) > 0.85


def test_float32_data_stay_float32(correlated):
    # scikit-learn's transformers keep float32 (the preserves_dtype tag): the whitening came
    # back as float64, twice the memory of an image set.
    zca = ZCAWhitening().fit(correlated)
    single = correlated.astype(np.float32)
    white = zca.transform(single)
    assert white.dtype == np.float32 and zca.inverse_transform(white).dtype == np.float32
    np.testing.assert_allclose(white, zca.transform(correlated), rtol=1e-4, atol=1e-4)
    assert zca.transform(correlated).dtype == np.float64


def test_a_failed_refit_keeps_the_earlier_fit(correlated):
    # The covariance of rows near 1e160 overflows: eigh failed (3 columns) or gave NaN
    # (2); the mean was already stored, so the earlier whitening was applied around the
    # failed fit's mean.
    zca = ZCAWhitening().fit(correlated)
    before = zca.transform(correlated)
    for X in (correlated * 1e160, correlated[:, :2] * 1e160):
        with pytest.raises(ValueError, match="covariance overflows float64"):
            zca.fit(X)
    assert zca.n_features_in_ == correlated.shape[1]
    np.testing.assert_array_equal(zca.transform(correlated), before)
