"""The numeric columns' scalers of :mod:`skreg._tabular` (RealMLP's robust scaling and
smooth clipping; the standard scaling, with extreme columns first divided by exact powers of
two; piecewise-linear encoding), and reading a table's numbers as floats."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

# Smooth clipping's bound: |x| / sqrt(1 + (x / 3)**2) < 3.
CLIP = 3.0
# smooth_clip reads larger inputs as this one: its square still fits in float64.
_CLIP_INPUT = 1e150


def smooth_clip(x: np.ndarray, in_place: bool = False) -> np.ndarray:
    """``x / sqrt(1 + (x / 3)**2)``: the identity near 0, bounded by 3.

    Beyond 1e150 the square would overflow (to 0 for the whole, a huge value read as the
    median), so larger values, infinities from scaling included, count as 1e150: the formula
    gives 3 there to float64's precision. NaN stays NaN.
    """
    if not isinstance(x, np.ndarray) or x.ndim == 0:
        x = np.clip(x, -_CLIP_INPUT, _CLIP_INPUT)
        return x / np.sqrt(1.0 + (x / CLIP) ** 2)
    # Worked on in place (``in_place``: in ``x`` itself), with one array more: a table of
    # 50 million values made five.
    x = np.clip(x, -_CLIP_INPUT, _CLIP_INPUT, out=x if in_place else None)
    denominator = np.divide(x, CLIP)
    np.square(denominator, out=denominator)
    denominator += 1.0
    np.sqrt(denominator, out=denominator)
    x /= denominator
    return x


class RobustSmoothScaler(TransformerMixin, BaseEstimator):
    """Median-centre, scale by the interquartile range (or the range when it is 0), clip
    smoothly. Columns may hold NaN, which stay NaN (the imputer after it fills them)."""

    def fit(self, X, y=None):
        X = as_floats(X)
        with np.errstate(all="ignore"), all_nan_ok():
            self.center_ = np.nan_to_num(np.nanmedian(X, axis=0))
            low, high = np.nanpercentile(X, [25, 75], axis=0)
            spread = np.nan_to_num(high - low)
            full = np.nan_to_num(np.nanmax(X, axis=0) - np.nanmin(X, axis=0))
        scale = np.where(spread > 0, spread, np.where(full > 0, full, 1.0))
        self.scale_ = scale
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        check_is_fitted(self)
        # NaN stay NaN, for the imputer after; a value beyond float64 once centred clips to 3.
        with np.errstate(invalid="ignore", over="ignore"):
            centred = as_floats(X) - self.center_  # a new array: divided in place
            centred /= self.scale_
            return smooth_clip(centred, in_place=True)


class PiecewiseLinearEncoder(TransformerMixin, BaseEstimator):
    """Each column as ``n_bins`` values: bin ``t``, between the training values' quantiles
    ``e[t]`` and ``e[t + 1]``, gives ``clip((x - e[t]) / (e[t + 1] - e[t]), 0, 1)``. A bin of
    width 0 (quantiles that fall on one value: a column with few distinct values, or mostly
    zeros) gives 0: its neighbours' ramps already meet at that value. Each value is then
    centred on its mean over the training rows (``offsets_``), as the scaled numeric columns
    are: a change of the first layer then moves its units by about as much as with scaled
    columns, where uncentred values in [0, 1] add up (on digits' 64 pixels, a (32,) network
    at ``learning_rate=1e-2`` lost every unit in its first epoch). Columns hold no NaN.
    """

    def __init__(self, n_bins=8):
        self.n_bins = n_bins

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=np.float64)
        self.edges_ = np.quantile(X, np.linspace(0.0, 1.0, self.n_bins + 1), axis=0).T
        self.n_features_in_ = X.shape[1]
        self.offsets_ = self._ramps(X).mean(axis=0)
        return self

    def transform(self, X):
        check_is_fitted(self)
        return self._ramps(np.asarray(X, dtype=np.float64)) - self.offsets_

    def _ramps(self, X: np.ndarray) -> np.ndarray:
        x = X[:, :, None]
        low, high = self.edges_[:, :-1], self.edges_[:, 1:]
        width = high - low
        with np.errstate(divide="ignore", invalid="ignore"):
            ramp = np.clip((x - low) / width, 0.0, 1.0)
        return np.where(width > 0, ramp, 0.0).reshape(len(X), -1)


def numeric_steps(scaling):
    """The numeric columns' steps for ``numeric_scaling``, missing values imputed."""
    impute = SimpleImputer(strategy="median", keep_empty_features=True)
    if scaling == "robust":  # the median fills a missing value: 0 after centring
        fill = SimpleImputer(strategy="constant", fill_value=0.0, keep_empty_features=True)
        return make_pipeline(RobustSmoothScaler(), fill)
    if scaling == "standard":
        return make_pipeline(impute, PowerOfTwo(), StandardScaler())
    return impute


def extreme_exponents(X: np.ndarray) -> np.ndarray:
    """Per column, the power of two at its largest magnitude where that is beyond about
    1e77 or below about 1e-77 (not 0), else 0: dividing by it (exactly, ``np.ldexp(X,
    -exponents)``) lets sums of squares of values near 1e300 stay finite, and those of
    values near 1e-300 not vanish (a standard deviation of 0), and leaves ordinary columns
    untouched."""
    with np.errstate(all="ignore"), all_nan_ok():
        top = np.nan_to_num(np.nanmax(np.abs(X), axis=0))
    exponent = np.frexp(top)[1]
    return np.where((exponent > 256) | ((exponent < -256) & (top > 0)), exponent, 0)


class PowerOfTwo(TransformerMixin, BaseEstimator):
    """Each column beyond about 1e77 or below about 1e-77 divided by the power of two at its
    largest magnitude, so that the standard scaling after it cannot overflow (values near
    1e300) or underflow (near 1e-300) in its sum of squares, and gives the same scaled values
    (the division is exact; the other columns are left as they are)."""

    def fit(self, X, y=None):
        self.exponent_ = extreme_exponents(as_floats(X))
        return self

    def transform(self, X):
        return np.ldexp(as_floats(X), -self.exponent_)


def as_floats(X) -> np.ndarray:
    """A numeric table's values as float64, pandas' missing values (``pd.NA`` of the nullable
    dtypes, ``pd.NA`` and None among objects) as NaN."""
    if hasattr(X, "to_numpy"):
        if hasattr(X, "where") and np.dtype(object) in set(np.atleast_1d(X.dtypes)):
            X = X.where(X.notna(), np.nan)  # na_value does not reach inside object columns
        return X.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.asarray(X, dtype=np.float64)


class all_nan_ok:
    """NumPy's warnings for columns missing in every row (their statistics are NaN, then 0)."""

    def __enter__(self):
        import warnings

        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._catch.__exit__(*exc)
