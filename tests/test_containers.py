"""Tables as users hold them: polars frames, pyarrow-backed columns, NumPy dates, objects with
pandas' missing values. Each is read as the same values in a plain pandas frame are read, or
refused by name, as scikit-learn's own estimators read or refuse them."""

import datetime
import re
import warnings
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import DataConversionWarning

from skreg import (
    RegularizedMLPClassifier,
    RegularizedMLPClassifierCV,
    RegularizedMLPRegressor,
)


def small(cls=RegularizedMLPClassifier, **params):
    return cls((8,), **{"max_iter": 5, "random_state": 0, **params})


@pytest.fixture
def frame():
    rng = np.random.default_rng(0)
    n = 60
    return pd.DataFrame({
        "size": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
        "city": pd.Series(rng.choice(["paris", "lyon", None], n), dtype=object),
        "zip": pd.Categorical(rng.choice(["z1", "z2", "z3"], n)),
        "owner": pd.array(rng.choice([True, False, None], n), dtype="boolean"),
    })  # fmt: skip


def test_a_polars_frame_trains_and_predicts_as_the_same_pandas_frame(frame):
    import polars as pl

    polars_frame = pl.DataFrame({
        "size": pl.Series(frame["size"].tolist(), dtype=pl.Float64),
        "city": frame["city"].tolist(),
        "zip": pl.Series(frame["zip"].astype(str).tolist(), dtype=pl.Categorical),
        "owner": frame["owner"].astype(object).where(frame["owner"].notna(), None).tolist(),
    })  # fmt: skip
    y = np.arange(len(frame)) % 2
    expected = small().fit(frame, y)
    for model in (small(), small(RegularizedMLPClassifierCV, l2s=[0.0, 1e-3], dropouts=[0.0])):
        model.fit(polars_frame, y)
        np.testing.assert_array_equal(model.feature_names_in_, frame.columns)
        if isinstance(model, RegularizedMLPClassifier):  # the same columns, the same network
            assert model._fitted.inputs.layout_ == expected._fitted.inputs.layout_
            np.testing.assert_array_equal(
                model.predict_proba(polars_frame), expected.predict_proba(frame)
            )
    # predicting on one kind of frame after fitting on the other: the same answers
    np.testing.assert_array_equal(
        expected.predict_proba(polars_frame), expected.predict_proba(frame)
    )


def test_pyarrow_decimals_are_numeric_and_pyarrow_times_and_lists_are_refused_by_name():
    import pyarrow as pa

    x = np.linspace(0, 9, 60).round(2)
    y = 3 * x
    decimals = [Decimal(str(v)) for v in x]
    as_objects = pd.DataFrame({"price": pd.Series(decimals, dtype=object)})
    as_arrow = pd.DataFrame(
        {"price": pd.Series(decimals, dtype=pd.ArrowDtype(pa.decimal128(10, 2)))}
    )
    expected = small(RegularizedMLPRegressor).fit(as_objects, y)
    model = small(RegularizedMLPRegressor).fit(as_arrow, y)
    assert model._fitted.inputs.layout_ == expected._fitted.inputs.layout_  # one numeric column
    np.testing.assert_array_equal(model.predict(as_arrow), expected.predict(as_objects))
    unreadable = {
        "time64[us][pyarrow]": pd.Series([datetime.time(i % 24) for i in range(60)],
                                         dtype=pd.ArrowDtype(pa.time64("us"))),
        "list<item: int64>[pyarrow]": pd.Series([[i] for i in range(60)],
                                                dtype=pd.ArrowDtype(pa.list_(pa.int64()))),
    }  # fmt: skip
    for dtype, column in unreadable.items():
        with pytest.raises(
            ValueError, match=rf"\[.when.\] hold \[.{re.escape(dtype)}.\].*Convert"
        ):
            small().fit(pd.DataFrame({"x": x, "when": column}), np.arange(60) % 2)


def test_pyarrow_string_views_are_refused_with_how_to_cast_them():
    pa = pytest.importorskip("pyarrow")
    if not hasattr(pa, "string_view"):
        pytest.skip("pyarrow without string_view (before 16)")
    # What polars' newest Arrow export and DuckDB give; pandas cannot turn it into values.
    text = pd.arrays.ArrowExtensionArray(pa.array(["p", "q", None] * 20, type=pa.string_view()))
    X = pd.DataFrame({"x": np.arange(60.0), "s": text})
    with pytest.raises(ValueError, match=r"\['s'\] hold strings as pyarrow's string_view.*"):
        small().fit(X, np.arange(60) % 2)


def test_a_polars_lazy_frame_is_refused_with_what_to_call():
    pl = pytest.importorskip("polars")
    lazy = pl.DataFrame({"x": np.arange(60.0), "c": ["a", "b", "c"] * 20}).lazy()
    with pytest.raises(TypeError, match=r"LazyFrame.*\.collect\(\)"):
        small().fit(lazy, np.arange(60) % 2)


@pytest.mark.parametrize("dtype", ["datetime64[D]", "timedelta64[s]"])
def test_an_array_of_dates_or_durations_is_refused_as_a_frame_of_them_is(dtype):
    # NumPy reads them as counts of the array's own unit: another unit at predict time gave
    # other numbers for the same dates, silently.
    X = np.arange(40).astype(dtype).reshape(20, 2)
    with pytest.raises(
        ValueError, match=rf"Input X holds {re.escape(dtype)} values.*Convert them"
    ):
        small().fit(X, np.arange(20) % 2)
    clf = small().fit(np.arange(40.0).reshape(20, 2), np.arange(20) % 2)
    with pytest.raises(ValueError, match="Input X holds"):
        clf.predict(X)


def test_an_object_column_of_numbers_with_pandas_na_fits_as_its_nullable_column():
    counts = pd.array([pd.NA if i % 7 == 0 else i % 5 for i in range(60)], dtype="Int64")
    nullable = pd.DataFrame({"k": counts, "c": ["x", "y", "z"] * 20})
    y = np.arange(60) % 2
    expected = small().fit(nullable, y).predict_proba(nullable)
    for objects in (
        nullable.astype(object),
        pd.DataFrame(nullable.to_numpy(), columns=["k", "c"]),
    ):
        # fit raised "float() argument must be ... not 'NAType'"; predict read them already
        np.testing.assert_array_equal(small().fit(objects, y).predict_proba(objects), expected)


def test_a_column_vector_target_warns_as_scikit_learns_regressors_do():
    X = np.arange(40.0).reshape(20, 2)
    y = np.arange(20.0)
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        model = small(RegularizedMLPRegressor).fit(X, y[:, None])
    assert model.predict(X).shape == (20,)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        two = small(RegularizedMLPRegressor).fit(X, np.c_[y, y])  # two targets: no warning
    assert two.predict(X).shape == (20, 2)
