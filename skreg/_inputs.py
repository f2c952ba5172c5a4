"""From what the user passes to what the network sees: validation, the table's columns, the
front of the network, and the regressor's target scale."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.utils.validation import column_or_1d, validate_data

from . import _warnings
from ._specs import FrontSpec
from ._tabular import Layout, TablePreprocessor, held_type, holds_numbers

# Bins of numeric_embedding="piecewise_linear": the same count for every table, so that folds
# share one compiled program.
PIECEWISE_BINS = 8


@dataclass(frozen=True)
class TargetScale:
    """The regressor trains on ``(y - shift) / scale`` and predicts ``outputs * scale +
    shift``, per target."""

    shift: np.ndarray
    scale: np.ndarray

    def apply(self, y: np.ndarray) -> np.ndarray:
        return (y - self.shift) / self.scale

    def undo(self, outputs: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            values = outputs * self.scale + self.shift
        if not np.isfinite(values).all():
            raise ValueError(
                "The predictions overflow float64: the network's outputs, in units of the "
                f"target's spread ({np.max(self.scale):.3g}), reach past 1.8e308. Divide the "
                "target by a power of ten before fitting, and multiply the predictions back."
            )
        return values


@dataclass(frozen=True)
class FitData:
    """A fit's data: the ``table`` as validated, its ``matrix`` for the network, the labels
    ``y`` and the network's targets ``Y``, the row ``weights``, the fitted preprocessor
    ``inputs`` and the regressor's target scale (None)."""

    table: Any
    matrix: np.ndarray
    y: np.ndarray
    Y: np.ndarray
    weights: np.ndarray
    inputs: Any
    target: Any


def is_table(X: Any) -> bool:
    """Whether ``X`` is a DataFrame, whose column dtypes say which columns are categorical."""
    return hasattr(X, "dtypes") and hasattr(X, "columns")


def check(estimator: Any, X: Any, y: Any = "no_validation", *, reset: bool, **y_checks: Any):
    """``X`` (and ``y``) checked by scikit-learn's own validation, with its messages: the
    feature names and count, the rows, the finite values (NaN are imputed later); a
    DataFrame is kept as it is, for its column dtypes, a NumPy array becomes float64."""
    X = _unmasked(_as_pandas(X))
    refuse_masked(y, "y")
    params = dict(reset=reset, ensure_all_finite="allow-nan", dtype=np.float64)
    kind = getattr(getattr(X, "dtype", None), "kind", None)
    if kind is None and isinstance(X, (list, tuple)) and not reset:
        kind = _kind_of_rows(X)  # rows as lists read as the array NumPy makes of them
    if kind in ("m", "M"):  # NumPy would read them as counts of the array's own time unit
        raise ValueError(
            f"Input X holds {X.dtype} values, which skreg cannot read: it reads numbers, "
            "booleans, strings and categories. Convert them first (a date to days since a "
            "reference date, a duration to seconds)."
        )
    if not reset and kind in ("O", "U", "S"):
        # An array of objects (strings beside numbers) for a model fitted on a DataFrame
        # with categorical columns: read as its columns (matrix). NumPy makes such an
        # array of strings ("<U32": the numbers as text), unless told dtype=object.
        X = X if kind == "O" else np.asarray(X, dtype=object)
        params["dtype"] = None
    if is_table(X):
        _refuse_unreadable_columns(X)
        # Numbers only: checked as numbers (infinity refused). With categorical columns, as
        # objects, since scikit-learn would try to cast a frame of numbers and categories to
        # float; the matrix the network reads is checked for infinity instead (matrix).
        params["dtype"] = None if all(t.kind in "iuf" for t in X.dtypes) else object
    if isinstance(y, str) and y == "no_validation":  # predicting: X alone
        checked = validate_data(estimator, X, **params)
        return X if is_table(X) else checked
    try:
        checked, y = validate_data(estimator, X, y, **params, **y_checks)
    except ValueError as error:
        if y_checks.get("multi_output") or "y should be a 1d array" not in str(error):
            raise
        # scikit-learn's message, with the way to multilabel targets.
        raise ValueError(
            f"{error} {type(estimator).__name__} predicts one label per row; for "
            "multilabel or multi-output targets, wrap it in "
            "sklearn.multioutput.MultiOutputClassifier."
        ) from error
    if y_checks.get("y_numeric") and y.dtype.kind in "US":
        # Numbers as text: read once here (as Ridge does), so the scorers and the folds
        # see the numbers the network learns.
        y = y.astype(np.float64)
    if y_checks.get("multi_output") and y.ndim == 2 and y.shape[1] == 1:
        y = column_or_1d(y, warn=True)  # scikit-learn's MLPRegressor's warning
    return (X if is_table(X) else checked), y


def _unmasked(X: Any) -> Any:
    """A NumPy masked array's masked entries as missing values (NaN, or None among
    objects), which the estimators impute: scikit-learn's validation would read the values
    under the mask as data."""
    if not isinstance(X, np.ma.MaskedArray):
        return X
    mask = np.ma.getmaskarray(X)
    if X.dtype.kind in "biuf":
        values = X.data.astype(np.float64)  # a copy: the caller's array stays as it was
        values[mask] = np.nan
    else:
        values = X.data.astype(object)
        values[mask] = None
    return values


def refuse_masked(values: Any, name: str) -> None:
    """A masked entry of ``y`` (or ``sample_weight``) has no reading: a row without a
    target cannot train, and the value under the mask is not the user's."""
    if isinstance(values, np.ma.MaskedArray) and np.ma.getmaskarray(values).any():
        raise ValueError(
            f"Input {name} holds {int(np.ma.count_masked(values))} masked value(s), which "
            "skreg cannot read: drop those rows, or fill them (values.filled(...))."
        )


def _kind_of_rows(X: list | tuple) -> str | None:
    """The dtype kind of the array NumPy makes of rows given as lists (None if it makes
    none: ragged rows, left to scikit-learn's message)."""
    try:
        return np.asarray(X).dtype.kind
    except ValueError:
        return None


def _as_pandas(X: Any) -> Any:
    """A polars DataFrame as a pandas one, column by column (polars' own ``to_pandas`` needs
    pyarrow): its ``Categorical`` and ``Enum`` columns as categories, its strings as objects
    (both categorical here, as in HistGradientBoosting), booleans as pandas' ``boolean``;
    other kinds as NumPy gives them, refused later if unreadable (dates, times)."""
    if type(X).__module__.startswith("polars.") and type(X).__name__ == "LazyFrame":
        raise TypeError(
            "X is a polars LazyFrame, a query not yet run: call .collect() to get the "
            "DataFrame of its rows, and pass that."
        )
    if not (type(X).__module__.startswith("polars.") and hasattr(X, "iter_columns")):
        return X
    import pandas as pd
    import polars as pl

    columns = {}
    for name, series in zip(X.columns, X.iter_columns(), strict=True):
        values = series.to_numpy()
        if isinstance(series.dtype, (pl.Categorical, pl.Enum)):
            values = pd.Categorical(values)
        elif isinstance(series.dtype, pl.Boolean):
            values = pd.array(values, dtype="boolean")
        columns[name] = values
    return pd.DataFrame(columns)


# What pandas' infer_dtype names in an object column that has no reading here: Python's
# dates, times, durations and periods, and complex numbers.
_UNREADABLE_OBJECTS = {"complex", "date", "datetime", "datetime64", "time", "timedelta",
                       "timedelta64", "period"}  # fmt: skip


# Python types of pyarrow-backed columns with no reading here (pyarrow's dates, timestamps
# and durations have NumPy's kinds "M" and "m"; its times, lists, structs and maps do not).
_UNREADABLE_ARROW = (datetime.time, list, dict, object)


def _refuse_unreadable_columns(X: Any) -> None:
    """Complex numbers, dates and durations have no reading here: the complex part would be
    dropped, a date read as nanoseconds or refused deep in NumPy. Ask for a conversion."""
    import pandas as pd
    from pandas.api.types import infer_dtype

    unreadable = {
        name: str(dtype)
        for name, dtype in X.dtypes.items()
        if getattr(dtype, "kind", "O") in "cmM"
        or isinstance(dtype, pd.PeriodDtype)
        or held_type(dtype) in _UNREADABLE_ARROW
    }
    mixed = []
    # Only plain object columns can hold mixed kinds (a string dtype holds strings): the
    # others are not looked into (a Series made per column cost a wide table's predict 1 ms).
    objects = [i for i, dtype in enumerate(X.dtypes) if dtype == np.dtype(object)]
    for name, values in ((X.columns[i], X.iloc[:, i]) for i in objects):
        # Missing values aside, NaT too (which infer_dtype's skipna keeps).
        held = infer_dtype(values.dropna(), skipna=True)
        if held in _UNREADABLE_OBJECTS:  # each date would be a level, unseen ever after
            unreadable[name] = f"{held} (as objects)"
        elif held in ("mixed", "mixed-integer") and not holds_numbers(values):
            mixed.append(name)
    if mixed:  # scikit-learn's encoders would refuse them without naming the column
        raise ValueError(
            f"Column(s) {mixed} mix numbers and strings, or hold values such as lists that "
            "are not levels; a categorical column holds strings only, or numbers only. "
            "Convert them first, for example with .astype(str)."
        )
    if unreadable:
        views = [name for name, dtype in unreadable.items() if "string_view" in dtype]
        raise ValueError(
            f"Column(s) {list(unreadable)} hold {sorted(set(unreadable.values()))} values, "
            "which skreg cannot read: it reads numbers, booleans, strings and categories. "
            "Convert them first (a date to days since a reference date, a duration to "
            "seconds, a complex number to its real and imaginary parts) or drop them."
            + (
                f" Column(s) {views} hold strings as pyarrow's string_view, which pandas "
                "cannot hand over as values yet: cast them to pyarrow's large_string (from "
                "polars, to_arrow(compat_level=polars.CompatLevel.oldest()) does)."
                if views
                else ""
            )
        )


def matrix(preprocessor: TablePreprocessor, X: Any) -> np.ndarray:
    """The network's float32 input for the rows of ``X``. An array passed to a model fitted on
    a DataFrame (scikit-learn warned already) is read as the fitted columns, in order."""
    retyped = preprocessor.retyped_columns(X)
    if retyped:
        _warnings.warn(
            f"Column(s) {retyped} held text levels in training and hold numbers now, so "
            "every value there reads as a level the fit did not see (a code '2' is not the "
            "number 2). Convert them as they were in training (.astype(str)).",
            UserWarning,
        )
    return _finite(preprocessor, preprocessor.transform(_readable(preprocessor, X)))


def fitted_matrix(
    estimator: Any, table: Any, kept: TablePreprocessor | bool | None, weights: Any = None
) -> tuple[TablePreprocessor, np.ndarray]:
    """:func:`fitted` and :func:`matrix` of ``table``, in one pass over the columns when the
    preprocessor is fitted on every row of ``table`` as :func:`matrix` reads them."""
    if kept or weighted_rows(table, weights) is not table:
        columns = fitted(estimator, table, kept, weights)
        return columns, matrix(columns, table)
    columns = preprocessor(estimator)
    out = columns.fit_transform(table, like=getattr(estimator, "_table_like", None))
    readable = _readable(columns, table)
    if readable is not table:  # numbers held as objects: read as a prediction reads them
        out = columns.transform(readable)
    return columns, _finite(columns, out)


def _readable(preprocessor: TablePreprocessor, X: Any) -> Any:
    """``X`` as the fitted columns (a copy where it changes)."""
    names = getattr(preprocessor.columns_, "feature_names_in_", None)
    if names is not None:
        import pandas as pd

        if not is_table(X):
            X = pd.DataFrame(X, columns=names)
        elif list(X.columns) != list(names):
            # Names that are not strings (scikit-learn warned that X has no valid feature
            # names): the columns are read by position, as an array's are.
            X = X.set_axis(names, axis=1)
        # Numeric columns held as objects (an array of numbers and strings, a frame cast to
        # object) as float64, their pd.NA and None as NaN, as the fit read them.
        numeric = [names[i] for i in preprocessor.numeric_positions()]
        held_as_objects = {  # one pass over the dtypes; strings too (pandas 3's "str")
            c
            for c, dtype in X.dtypes.items()
            if dtype == np.dtype(object) or isinstance(dtype, pd.StringDtype)
        }
        objects = [name for name in numeric if name in held_as_objects]
        if objects:
            X = X.copy()
            held = X[objects]  # cast by name: a string among them names its column
            X[objects] = held.where(held.notna(), np.nan).astype(dict.fromkeys(objects, float))
    return X


def _finite(preprocessor: TablePreprocessor, out: np.ndarray) -> np.ndarray:
    """``out``, or the error naming the input columns whose values are beyond float32."""
    beyond = ~np.isfinite(out).all(axis=0)
    if beyond.any():
        raise ValueError(
            "Input X contains infinity or a value too large for dtype('float32') (the "
            f"network computes in float32) in column(s) {preprocessor.input_columns(beyond)} "
            f"after numeric_scaling={preprocessor.numeric_scaling!r}. Rescale them, or use "
            "numeric_scaling='robust', which bounds every value."
        )
    return out


def front(estimator: Any, layout: Layout) -> FrontSpec | None:
    """The network's front for a table laid out as ``layout``, or None when it has nothing to
    do (no embedded column, no periodic embedding, no scale): the plain network."""
    periodic = estimator.numeric_embedding == "periodic" and layout.n_numeric > 0
    if not (layout.levels or periodic or estimator.scaling_layer):
        return None
    return FrontSpec(
        n_numeric=layout.n_numeric,
        n_dense=layout.n_dense,
        levels=layout.levels,
        embedding_dim=estimator.embedding_dim,
        periodic=periodic,
        scale=bool(estimator.scaling_layer),
    )


def fitted(
    estimator: Any, table: Any, kept: TablePreprocessor | bool | None, weights: Any = None
) -> TablePreprocessor:
    """The preprocessor of a fit: fitted on the rows of ``table`` whose weight is not 0 (a
    row of weight 0 has no say in the model, also through the scaling or the levels), or
    the one a continued fit (``warm_start``, ``partial_fit``) keeps, refused when the
    estimator's parameters now ask for another one: the network was trained on the columns
    as ``kept`` prepares them. A continued fit warns of categorical levels ``kept`` did not
    see, which it reads as unseen."""
    if not kept:  # None or False: a fit that starts anew
        # A search's fold models read their columns as its whole data's (``_cv``).
        like = getattr(estimator, "_table_like", None)
        return preprocessor(estimator).fit(weighted_rows(table, weights), like=like)
    wanted, had = preprocessor(estimator).get_params(), kept.get_params()
    changed = [name for name in wanted if wanted[name] != had[name]]
    if changed:
        # By the estimator's parameter names: piecewise_bins is numeric_embedding's.
        old = {name: repr(value) for name, value in had.items()}
        new = {name: repr(value) for name, value in wanted.items()}
        piecewise = "'piecewise_linear'"
        old["piecewise_bins"] = piecewise if had["piecewise_bins"] else f"not {piecewise}"
        new["piecewise_bins"] = repr(estimator.numeric_embedding)
        shown = {"piecewise_bins": "numeric_embedding"}
        raise ValueError(
            "warm_start and partial_fit continue the fitted network on its input columns as "
            "they were prepared, but the new parameters change their preparation ("
            + ", ".join(f"{shown.get(n, n)}: {old[n]} -> {new[n]}" for n in changed)
            + "). Set warm_start=False to train a new network."
        )
    rows = weighted_rows(table, weights)
    unseen = kept.unseen_levels(rows)
    if unseen:
        _warnings.warn(
            f"Column(s) {unseen} hold categorical levels that the first fit did not see. A "
            "continued fit (partial_fit, warm_start) keeps the first fit's preparation of "
            "the columns (their levels and scaling), so these levels read as unseen and "
            "the network cannot learn them apart. Start with a batch that holds every "
            "level, or encode the columns yourself.",
            UserWarning,
        )
    revived = kept.revived_columns(rows)
    if revived:
        _warnings.warn(
            f"Column(s) {revived} were missing in every row of the first fit and hold values "
            "now. A continued fit (partial_fit, warm_start) keeps the first fit's "
            "preparation of the columns, which reads them as missing: the network cannot "
            "learn from them. Start with a batch where they have values, or fit anew.",
            UserWarning,
        )
    varied = kept.varied_columns(rows)
    if varied:
        _warnings.warn(
            f"Column(s) {varied} held one value in every row of the first fit and hold "
            "others now. A continued fit (partial_fit, warm_start) keeps the first fit's "
            "preparation of the columns, which reads them as that value: the network "
            "cannot learn from them. Start with a batch where they vary, or fit anew.",
            UserWarning,
        )
    return kept


def weighted_rows(table: Any, weights: np.ndarray | None) -> Any:
    """The rows of ``table`` whose weight is not 0: those whose columns' statistics (medians,
    quantiles, levels) the preprocessor learns, as only they train the network."""
    if weights is None or np.all(weights > 0):
        return table
    rows = np.flatnonzero(weights > 0)
    return table.iloc[rows] if hasattr(table, "iloc") else table[rows]


def preprocessor(estimator: Any) -> TablePreprocessor:
    piecewise = estimator.numeric_embedding == "piecewise_linear"
    return TablePreprocessor(
        numeric_scaling=estimator.numeric_scaling,
        max_onehot_levels=estimator.max_onehot_levels,
        missing_indicators=estimator.missing_indicators,
        piecewise_bins=PIECEWISE_BINS if piecewise else 0,
    )
