"""What the estimators do to raw columns: a table in, one float32 matrix out. No Keras here.

A DataFrame's columns are read by their dtype, as ``HistGradientBoosting*`` does with
``categorical_features="from_dtype"``: ``category``, ``object``, string and ``bool`` columns
are categorical, every other column numeric; a NumPy array is all numeric. Then:

- **Numeric columns** are centred on their median, divided by their interquartile range (by
  their range when that is 0) and clipped smoothly, ``x / sqrt(1 + (x / 3)**2)`` (RealMLP's
  robust scaling and smooth clipping): an outlier keeps its side and order but cannot reach
  beyond 3. Missing values take the median (0 after centring) and, for the columns that had
  any in training, an indicator column says where they were. A column that held one value
  wherever it was not missing in training is read as that value at transform (its scaled
  value was 0 in every training row), one missing in every training row as missing.
- **Piecewise-linear encoding** (``piecewise_bins``, Gorishniy et al. 2022, "On Embeddings
  for Numerical Features in Tabular Deep Learning"): each scaled numeric column also becomes
  ``piecewise_bins`` columns, one per bin between quantiles of its training values, each 0
  below its bin, 1 above it and rising linearly across it; the network learns a function of
  the column per bin. Done here, on the host, since the bins come from the training rows.
- **Categorical columns** with at most ``max_onehot_levels`` levels (a missing value
  counting as one) are one-hot encoded; those with more become one integer code each, which
  the network embeds (:class:`Layout`): 0 for a level unseen in training, 1 to ``L`` for
  its ``L`` levels, ``L + 1`` for a missing value. A column of one level in training (or
  missing in every row) is read as that level at transform, whatever it holds then.

The matrix comes in that order: numeric, piecewise-linear, indicators, one-hot, zero columns
that pad the indicators and one-hot columns to a round count (:func:`_padding`: folds that
miss a level then share one compiled program), codes, described by :class:`Layout`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from numbers import Number

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import MissingIndicator
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder
from sklearn.utils.validation import check_is_fitted

# _columns' classes were defined here: models pickled before read them from this module.
from ._columns import _AsFloats, _AsObject, _isna, _NumericColumns, _Shift
from ._scaling import (
    PiecewiseLinearEncoder,
    PowerOfTwo,
    all_nan_ok,
    as_floats,
    numeric_steps,
)

_PowerOfTwo = PowerOfTwo  # its name in the models pickled before it moved to _scaling


@dataclass(frozen=True)
class Layout:
    """How the preprocessed matrix's columns are laid out: ``n_numeric`` scaled numeric
    columns first, then the dense rest (indicators, one-hot, padding) up to ``n_dense``, then one
    code column per embedded categorical, with ``levels`` rows in its embedding table (codes
    for unseen, the training levels and missing, rounded up to a multiple of 8)."""

    n_numeric: int
    n_dense: int
    levels: tuple[int, ...] = ()


class TablePreprocessor(TransformerMixin, BaseEstimator):
    """Raw columns to the network's float32 matrix (see the module docstring).

    Parameters
    ----------
    numeric_scaling : {"robust", "standard"} or None, default="robust"
        ``"robust"``: median, interquartile range and smooth clipping; ``"standard"``: mean
        and standard deviation; None: the values as they are (missing ones still imputed).
    max_onehot_levels : int or None, default=9
        Categorical columns with more levels are embedded; None one-hot encodes them all.
    missing_indicators : bool, default=True
        Add a column per numeric column that had missing values in training.
    piecewise_bins : int, default=0
        Add each scaled numeric column's piecewise-linear encoding in this many bins
        (:class:`PiecewiseLinearEncoder`); 0 adds none.
    """

    def __init__(
        self,
        *,
        numeric_scaling="robust",
        max_onehot_levels=9,
        missing_indicators=True,
        piecewise_bins=0,
    ):
        self.numeric_scaling = numeric_scaling
        self.max_onehot_levels = max_onehot_levels
        self.missing_indicators = missing_indicators
        self.piecewise_bins = piecewise_bins

    def fit(self, X, y=None, like=None):
        """Fit on ``X``; with ``like``, a preprocessor of these settings fitted on rows that
        include ``X``'s (a search's whole training data), embed the columns it embeds and
        pad to its layout, so that every fold's network is ``like``'s: one compiled program
        for a search, also when a column's level count crosses ``max_onehot_levels``
        between folds."""
        self._fit(X, like, transform=False)
        return self

    def fit_transform(self, X, y=None, like=None):
        """``fit(X, like=like).transform(X)`` from the matrix that fitting builds anyway
        (ColumnTransformer's fit is its fit_transform): built twice, it took half of a fit
        on a table of many categorical columns."""
        out = self._fit(X, like, transform=True)
        return self.transform(X) if self._as_in_training(X) is not X else self._matrix(out)

    def _fit(self, X, like, transform: bool):
        # Columns by position: ColumnTransformer reads an integer as a position, also in a
        # DataFrame whose column names are integers.
        numeric, categorical = (_positions(X, c) for c in _columns(X))
        # A numeric column missing in every training row tells nothing: at transform its
        # values are read as missing too, as they were in training (SimpleImputer drops it).
        missing = np.asarray(_isna(_safe_columns(X, numeric))).all(axis=0)
        self.empty_ = [p for p, empty in zip(numeric, missing) if empty]
        # Columns holding one value in every training row, or none: the network learns
        # nothing from them, whatever weights leave them (feature_importances_ gives 0).
        # A numeric column holding one value wherever it is not missing reads as that value
        # at transform (constants_): its scaled value was 0 in every training row, so its
        # first-layer weights stayed as drawn, and another value would move predictions by
        # those random weights. A categorical column of one level (or missing in every
        # row) reads as it (single_levels_): its one-hot column was 1 in every training row,
        # so another level's zeros would move predictions by that column's weights.
        self.still_, self.constants_ = _still(X, numeric, categorical)
        self.single_levels_ = {p: X.iloc[0, p] for p in categorical if p in self.still_}
        if like is not None:
            embedded = like._positions_of("codes")
        else:
            limit = self.max_onehot_levels
            embedded = [
                p for p in categorical if limit is not None and _n_levels(X, p) > limit
            ]  # fmt: skip
        onehot = [p for p in categorical if p not in embedded]
        parts = []
        if numeric:
            steps = numeric_steps(self.numeric_scaling)
            if self.piecewise_bins:  # the scaled columns, then their encoding: scaled once
                encoder = PiecewiseLinearEncoder(self.piecewise_bins)
                pieces = FeatureUnion([("scaled", "passthrough"), ("piecewise", encoder)])
                steps = make_pipeline(steps, pieces)
            parts.append(("numeric", steps, numeric))
            if self.missing_indicators:
                indicator = MissingIndicator(error_on_new=False)
                parts.append(("missing", make_pipeline(_AsFloats(), indicator), numeric))
        if onehot:
            encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
            parts.append(("onehot", make_pipeline(_AsObject(), encoder), onehot))
        if embedded:
            codes = OrdinalEncoder(
                handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-2
            )
            parts.append(("codes", make_pipeline(_AsObject(), codes, _Shift()), embedded))
        with _arrays():
            if categorical:
                self.columns_ = ColumnTransformer(parts, sparse_threshold=0.0)
            else:
                self.columns_ = _NumericColumns(parts)
            out = self.columns_.fit_transform(X) if transform else self.columns_.fit(X)
        sources = self._sources()  # one per output column
        codes = self.columns_.named_transformers_["codes"][1] if embedded else None
        n_dense = len(sources) - len(embedded)
        # The piecewise-linear columns' count is the same in every fold: not padded.
        n_piecewise = len(numeric) * self.piecewise_bins
        self.n_padding_ = _padding(n_dense - len(numeric) - n_piecewise)
        levels = tuple(_table_rows(len(c) + 2) for c in codes.categories_) if codes else ()
        if like is not None and n_dense <= like.layout_.n_dense:
            # X's rows are some of like's: no more one-hot levels, indicators or codes.
            self.n_padding_ = like.layout_.n_dense - n_dense
            levels = tuple(map(max, levels, like.layout_.levels))
        self.layout_ = Layout(
            n_numeric=len(numeric), n_dense=n_dense + self.n_padding_, levels=levels
        )
        # Padding columns come from no input column: they count as one past the last.
        self.sources_ = self._pad(sources, np.shape(X)[1])
        return out

    def transform(self, X):
        check_is_fitted(self)
        X = self._as_in_training(X)
        with _arrays():
            return self._matrix(self.columns_.transform(X))

    def _matrix(self, values) -> np.ndarray:
        """The transformers' output as the network's float32 matrix with its padding columns,
        in one copy (``np.insert`` copied it again: a third of a large transform)."""
        values, at, n = np.asarray(values), self.layout_.n_dense - self.n_padding_, self.n_padding_
        with np.errstate(over="ignore"):  # beyond float32: the caller says where
            if not n:
                return values.astype(np.float32, copy=False)
            out = np.zeros((values.shape[0], values.shape[1] + n), dtype=np.float32)
            out[:, :at], out[:, at + n :] = values[:, :at], values[:, at:]
        return out

    def _as_in_training(self, X):
        """``X`` (a copy where it changes) with the numeric columns read as in training: those
        missing in every training row missing (``empty_``), and those holding one value
        wherever not missing holding it (``constants_``), their missing values kept."""
        empty = getattr(self, "empty_", [])  # absent from models pickled before it
        varied = self._varied(X)
        constants = {p: self.constants_[p] for p in varied}
        levels = {p: v for p, v in getattr(self, "single_levels_", {}).items()
                  if not _all_equal(X.iloc[:, p], v)}  # fmt: skip
        if not (empty or constants or levels):
            return X
        if hasattr(X, "iloc"):
            X = X.copy()
            for p in empty:
                X[X.columns[p]] = np.nan
            for p, value in constants.items():
                X.isetitem(p, np.where(_isna(X.iloc[:, p]), np.nan, value))
            for p, level in levels.items():
                X.isetitem(p, np.full(len(X), level, dtype=object))
            return X
        X = np.asarray(X)
        X = X.astype(object if X.dtype == object else np.float64)  # a copy
        X[:, empty] = np.nan
        for p, value in constants.items():
            X[:, p] = np.where(_isna(X[:, p]), np.nan, value)
        return X

    def _varied(self, X) -> list[int]:
        """The positions of the ``constants_`` columns whose values in ``X`` are not all
        the training value (missing values aside)."""
        constants = getattr(self, "constants_", {})
        if not constants:
            return []
        positions = list(constants)
        with np.errstate(invalid="ignore"):
            values = as_floats(_safe_columns(X, positions))
            differs = ~np.isnan(values) & (values != np.array([constants[p] for p in positions]))
        return [p for p, d in zip(positions, differs.any(axis=0)) if d]

    def input_columns(self, outputs: np.ndarray) -> list:
        """The input columns (names, or positions for an array) that the output columns
        selected by the boolean mask ``outputs`` come from."""
        return self._named(sorted(set(self.sources_[outputs].tolist())))

    def revived_columns(self, X) -> list:
        """The numeric input columns (names, or positions) that were missing in every
        training row (``empty_``, read as missing at transform) and hold a value in ``X``."""
        empty = getattr(self, "empty_", [])
        present = ~np.asarray(_isna(_safe_columns(X, empty))).all(axis=0) if empty else []
        return self._named([p for p, seen in zip(empty, present) if seen])

    def varied_columns(self, X) -> list:
        """The numeric input columns (names, or positions) that held one value in every
        training row where not missing (``constants_``, read as that value at transform)
        and hold another in ``X``."""
        return self._named(self._varied(X))

    def unseen_levels(self, X) -> list:
        """The categorical input columns (names, or positions) of ``X`` holding a level
        that the fit did not see (a missing value is not a level here)."""
        check_is_fitted(self)
        unseen = []
        for steps, positions in self._encoders():
            values = steps[0].transform(_safe_columns(X, positions))
            for j, levels in enumerate(steps[1].categories_):
                seen = set(levels.tolist())
                if any(v is not None and v not in seen for v in set(values[:, j].tolist())):
                    unseen.append(positions[j])
        return self._named(sorted(unseen))

    def retyped_columns(self, X) -> list:
        """The categorical columns (names) whose training levels were all text and that
        hold numbers in the DataFrame ``X`` (digit codes "1", "2" read back as integers,
        say): every value there reads as an unseen level. A prediction's cost: a look at
        the dtypes, and at the levels only of a column that holds numbers."""
        if not hasattr(X, "dtypes"):
            return []
        kinds = [dtype.kind for dtype in X.dtypes]
        single = getattr(self, "single_levels_", {})  # read as their level, whatever they hold
        retyped = []
        for steps, positions in self._encoders():
            for p, levels in zip(positions, steps[1].categories_):
                if kinds[p] not in "iuf" or p in single or not X.iloc[:, p].notna().any():
                    continue
                if all(isinstance(v, str) for v in levels if v is not None):
                    retyped.append(p)
        return self._named(retyped)

    def _encoders(self):
        """The categorical columns' steps (to objects, then the encoder holding their levels
        in ``categories_``) with their positions: one-hot and embedded alike."""
        return [
            (steps, positions)
            for name, steps, positions in self.columns_.transformers_
            if name in ("onehot", "codes")
        ]

    def _named(self, positions: list[int]) -> list:
        """The input columns at ``positions``: their names, or the positions for an array."""
        names = getattr(self.columns_, "feature_names_in_", None)
        return list(positions) if names is None else [names[p] for p in positions]

    def numeric_positions(self) -> list[int]:
        """The positions of the numeric input columns."""
        return self._positions_of("numeric")

    def _positions_of(self, part: str) -> list[int]:
        """The positions of the input columns of ``part`` ("numeric", "codes", ...)."""
        check_is_fitted(self)
        return [p for name, _, ps in self.columns_.transformers_ if name == part for p in ps]

    def _pad(self, values: np.ndarray, fill) -> np.ndarray:
        """``values`` (a matrix, or the sources of its columns) with the padding columns of
        zeros inserted after the dense columns, ahead of the embedded codes."""
        if not self.n_padding_:
            return values
        at = self.layout_.n_dense - self.n_padding_
        return np.insert(values, [at] * self.n_padding_, fill, axis=values.ndim - 1)

    def inert_outputs(self) -> np.ndarray:
        """For each output column, whether it holds one number in every row the network
        sees (0 once scaled): the values (not the indicators) of the numeric columns read
        as one value (``constants_``) or as missing (``empty_``)."""
        inert = [*getattr(self, "constants_", {}), *getattr(self, "empty_", [])]
        outputs = np.isin(self.sources_, inert)
        outputs[self.layout_.n_numeric * (1 + self.piecewise_bins) :] = False  # the values first
        return outputs

    def _sources(self) -> np.ndarray:
        """For each output column, the position of the input column it comes from."""
        sources: list[int] = []
        for name, transformer, positions in self.columns_.transformers_:
            if name in ("numeric", "codes"):
                sources += positions
            if name == "numeric":
                sources += [p for p in positions for _ in range(self.piecewise_bins)]
            elif name == "missing":
                sources += [positions[i] for i in transformer[-1].features_]
            elif name == "onehot":
                categories = transformer[-1].categories_
                sources += [i for i, levels in zip(positions, categories) for _ in levels]
        return np.asarray(sources, dtype=np.int64)


def _safe_columns(X, positions: list[int]):
    """The columns of ``X`` at ``positions``."""
    return X.iloc[:, positions] if hasattr(X, "iloc") else np.asarray(X)[:, positions]


def _positions(X, columns: list) -> list[int]:
    """The positions of ``columns`` (names of a DataFrame's columns, or positions already)."""
    if not hasattr(X, "columns"):
        return list(columns)
    return [X.columns.get_loc(c) for c in columns]


def _padding(n_extra: int) -> int:
    """Zero columns to add after the one-hot and missing-indicator columns: their count
    rounded up to a multiple of 8 (of 16 from 64, of 32 from 128, ...), so that folds whose
    training rows miss a level or a missing value share one compiled program. Numeric
    columns alone get none (the plain network is unchanged). Measured on ames (40 string
    columns): 23 programs for a 5 x 5-fold nested search before this."""
    if n_extra <= 0:
        return 0
    step = max(8, 2 ** (int(np.log2(n_extra)) - 2))
    return -(-n_extra // step) * step - n_extra


def _table_rows(codes: int) -> int:
    """An embedding table's rows: its codes rounded up to a multiple of 8, so that folds
    whose training rows miss a rare level share one compiled program (the extra rows are
    never looked up)."""
    return -(-codes // 8) * 8


# What pandas infers for an object column that holds numbers only (Decimal too): such a
# column is numeric, as HistGradientBoosting reads it, not one level per value.
NUMBERS = ("integer", "floating", "mixed-integer-float", "decimal")


def _columns(X) -> tuple[list, list]:
    """Numeric and categorical columns, by dtype (a NumPy array: all numeric); an object
    column is categorical unless it holds numbers only (a frame built from an object array,
    ``Decimal`` values from a database)."""
    if not hasattr(X, "dtypes"):
        return list(range(np.shape(X)[1])), []
    categorical = [
        c for (c, dtype), (_, values) in zip(X.dtypes.items(), X.items(), strict=True)
        if (dtype.kind in "OSUb" or str(dtype) in ("category", "string", "str"))
        and not (dtype == np.dtype(object) and holds_numbers(values))
        and held_type(dtype) is not Decimal  # pyarrow's decimals: SQL's NUMERIC columns
    ]  # fmt: skip
    numeric = [c for c in X.columns if c not in categorical]
    return numeric, categorical


def held_type(dtype) -> type | None:
    """The Python type of a pyarrow-backed column's values (``datetime.time``, ``Decimal``,
    ``list``...), or None for other dtypes, whose kind says what they hold."""
    if not hasattr(dtype, "pyarrow_dtype"):
        return None
    try:
        return dtype.type
    except NotImplementedError:  # pandas has no Python type for some (intervals)
        return object


def holds_numbers(values) -> bool:
    """Whether an object column holds numbers only (``Decimal`` too, mixed with floats),
    missing values aside."""
    from pandas.api.types import infer_dtype

    held = infer_dtype(values, skipna=True)
    if held in ("mixed", "mixed-integer"):
        return all(
            isinstance(v, Number) and not isinstance(v, (bool, np.bool_, complex))
            for v in values.dropna()
        )
    return held in NUMBERS


def _all_equal(values, level) -> bool:
    """Whether every value of the column ``values`` is ``level`` (missing if it is)."""
    if _isna(level):
        return bool(values.isna().all())
    return bool((values.notna() & (values.astype(object) == level)).all())


def _still(X, numeric: list[int], categorical: list[int]) -> tuple[list[int], dict]:
    """The columns (positions) that hold one value in every row, or are missing in every
    row (a column with some missing values varies: its missing indicator does); and the
    numeric ones holding one value wherever not missing, by position, with that value."""
    still, constants = [], {}
    if numeric:
        values = as_floats(_safe_columns(X, numeric))
        with np.errstate(invalid="ignore"), all_nan_ok():
            low = np.nanmin(values, axis=0)
            spread = np.nanmax(values, axis=0) - low
        missing = np.isnan(values)
        constants = {p: float(v) for p, v, s in zip(numeric, low, spread == 0) if s}
        one_value = (spread == 0) & ~missing.any(axis=0)
        still += [p for p, s in zip(numeric, one_value | missing.all(axis=0)) if s]
    still += [p for p in categorical if X.iloc[:, p].nunique(dropna=False) <= 1]
    return sorted(still), constants


def _n_levels(X, column: int) -> int:
    """A categorical column's (by position) levels in training, a missing value counting as one."""
    values = X.iloc[:, column]
    return int(values.nunique(dropna=True) + values.isna().any())


def _arrays():
    """Arrays from the transformers inside, whatever the user's
    ``set_config(transform_output=...)``: their outputs are stacked by position; as
    DataFrames, ColumnTransformer would join them on a table's index (and fail on a fold's)."""
    from sklearn import config_context

    return config_context(transform_output="default")
