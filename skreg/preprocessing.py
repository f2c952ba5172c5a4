"""Transformers that prepare inputs for the networks."""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ._validation import Interval, _fit_context


class ZCAWhitening(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """ZCA whitening: decorrelate the features while staying close to the original ones.

    Centers X and multiplies it by ``W = U diag(1 / sqrt(s + epsilon)) U^T``, where
    ``U diag(s) U^T`` is the covariance of the training data. Of all whitening transforms,
    ZCA's output is the closest to the input in the least-squares sense, so whitened images
    still look like images (edges enhanced). This is ``ImageDataGenerator(zca_whitening=True)``
    as a scikit-learn transformer, to put before a network in a pipeline.

    Parameters
    ----------
    epsilon : float, default=0.1
        Added to the covariance's eigenvalues, in the units of the features' variance. It
        keeps directions with almost no variance (such as always-blank pixels) from being
        blown up into noise; larger values whiten less.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        Per-feature mean of the training data.
    whitening_ : ndarray of shape (n_features, n_features)
        The symmetric whitening matrix ``W``.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features seen during ``fit``, when X has string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from skreg import ZCAWhitening
    >>> X = np.random.default_rng(0).normal(size=(500, 3)) @ [[2, 1, 0], [0, 1, 0], [0, 0, 3]]
    >>> Z = ZCAWhitening(epsilon=1e-6).fit_transform(X)
    >>> np.round(np.cov(Z, rowvar=False, bias=True), 3) + 0.0
    array([[1., 0., 0.],
           [0., 1., 0.],
           [0., 0., 1.]])
    """

    _parameter_constraints: dict = {"epsilon": [Interval(Real, 0, None, closed="neither")]}

    def __init__(self, epsilon=0.1):
        self.epsilon = epsilon

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the mean and the whitening matrix from X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : None
            Ignored.

        Returns
        -------
        self : ZCAWhitening
            The fitted transformer.
        """
        from ._fitted import restore_on_failure

        # A refit that fails keeps the earlier fit.
        with restore_on_failure(self, fitted=lambda name: name.endswith("_")):
            X = validate_data(self, X, dtype=np.float64)
            mean = X.mean(axis=0)
            centered = X - mean
            with np.errstate(over="ignore", invalid="ignore"):
                covariance = centered.T @ centered / len(X)
            if not np.isfinite(covariance).all():
                raise ValueError(
                    "X's covariance overflows float64 (its values reach "
                    f"{np.abs(X).max():.3g}); scale X first, for example with StandardScaler."
                )
            eigenvalues, eigenvectors = np.linalg.eigh(covariance)
            eigenvalues = np.clip(eigenvalues, 0.0, None)
            scale = 1.0 / np.sqrt(eigenvalues + self.epsilon)
            self.mean_, self.whitening_ = mean, (eigenvectors * scale) @ eigenvectors.T
        return self

    def transform(self, X):
        """Center and whiten X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to whiten.

        Returns
        -------
        X_white : ndarray of shape (n_samples, n_features)
            The whitened data.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        # Computed in float64, returned in X's float type (scikit-learn's preserves_dtype).
        return ((X - self.mean_) @ self.whitening_).astype(X.dtype, copy=False)

    def inverse_transform(self, X):
        """Undo :meth:`transform`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Whitened data.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
            The data in the original feature space.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        original = X @ np.linalg.pinv(self.whitening_, hermitian=True) + self.mean_
        return original.astype(X.dtype, copy=False)
