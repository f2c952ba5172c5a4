"""The transformers :class:`~skreg._tabular.TablePreprocessor` assembles: numeric columns as
floats, categorical values as objects, the ordinal codes as embedding indices, and the
numeric-only table's stand-in for ColumnTransformer. No Keras here."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ._scaling import as_floats


class _AsFloats(TransformerMixin, BaseEstimator):
    """Numeric columns as float64, every missing value as NaN: ``pd.NA`` in a nullable column
    or among objects (``Decimal`` values beside an ``Int64`` column), which scikit-learn's
    missing-value mask cannot test."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return as_floats(X)


class _AsObject(TransformerMixin, BaseEstimator):
    """Categorical values as Python objects, missing ones as None: one level whatever the
    column's dtype (``category``, ``bool``, strings with NaN)."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        values = np.array(X, dtype=object)  # a copy: the caller's table stays as it was
        mask = np.asarray(_isna(X))
        values[mask] = None
        return values


class _Shift(TransformerMixin, BaseEstimator):
    """The ordinal encoder's codes as the embedding's indices: its unseen -1 becomes 0, its
    levels 0..L-1 become 1..L, its missing -2 becomes L + 1."""

    def fit(self, X, y=None):
        self.n_levels_ = np.asarray(X).max(axis=0, initial=-1) + 1
        return self

    def transform(self, X):
        X = np.asarray(X, dtype=np.float64)
        return np.where(X == -2, self.n_levels_ + 1, X + 1)


class _NumericColumns:
    """ColumnTransformer's work on a table of numeric columns only: each part's transformer
    on its columns of one float64 array, side by side. The same matrix, without
    ColumnTransformer's per-call cost (its dispatch and checks took about 10 ms a fit and
    4 ms a transform, a third of a small network's fit in a grid search). Exposes the
    attributes :class:`TablePreprocessor` reads: ``transformers_`` and, for a DataFrame,
    ``feature_names_in_``."""

    def __init__(self, parts: list) -> None:
        self.parts = parts

    def fit_transform(self, X) -> np.ndarray:
        return self.fit(X).transform(X)

    def fit(self, X) -> _NumericColumns:
        if hasattr(X, "columns"):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        values = as_floats(X)
        self.transformers_ = [
            (name, transformer.fit(values[:, positions]), positions)
            for name, transformer, positions in self.parts
        ]  # fmt: skip
        return self

    def transform(self, X) -> np.ndarray:
        values = as_floats(X)
        outputs = [
            np.asarray(transformer.transform(_column_block(values, positions)))
            for _, transformer, positions in self.transformers_
        ]  # fmt: skip
        return np.hstack(outputs) if len(outputs) > 1 else outputs[0]


def _column_block(values: np.ndarray, positions: list[int]) -> np.ndarray:
    """``values[:, positions]``, without the copy when they are every column in order."""
    if list(positions) == list(range(values.shape[1])):
        return values
    return values[:, positions]


def _isna(X):
    import pandas as pd

    return pd.isna(X)
