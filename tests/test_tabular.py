"""Raw tables and RealMLP's ingredients: each checked against its formula or Keras' own."""

import math
import pickle
import warnings

import keras
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler

import skreg
from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor
from skreg._scaling import PiecewiseLinearEncoder, RobustSmoothScaler, smooth_clip
from skreg._specs import LearningRateSchedule
from skreg._tabular import TablePreprocessor


def small(cls=RegularizedMLPClassifier, **params):
    return cls((8,), **{"max_iter": 5, "random_state": 0, **params})


@pytest.fixture
def table():
    rng = np.random.default_rng(0)
    n = 120
    frame = pd.DataFrame(
        {
            "size": rng.lognormal(3, 1, n),
            "age": np.where(rng.random(n) < 0.2, np.nan, rng.normal(40, 10, n)),
            "city": rng.choice(["paris", "lyon", "nice", None], n),
            "zip": pd.Categorical(rng.choice([f"z{i}" for i in range(14)], n)),
            "owner": rng.random(n) < 0.5,
        }
    )
    y = (frame["size"] > 20).astype(int) + (frame["city"] == "paris")
    return frame, y.to_numpy()


@pytest.mark.parametrize("cls", [RegularizedMLPClassifier, RegularizedMLPRegressor])
def test_predict_prepares_a_large_table_in_pieces_with_the_same_result(table, cls, monkeypatch):
    import skreg._fitted

    X, y = table
    model = small(cls).fit(X, y)
    method = "predict_proba" if cls is RegularizedMLPClassifier else "predict"
    whole = getattr(model, method)(X)
    monkeypatch.setattr(skreg._fitted, "PREPARE_ROWS", 7)  # 120 rows: 18 pieces
    np.testing.assert_array_equal(getattr(model, method)(X), whole)


def _edge_table(n=40):
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "x": np.where(rng.random(n) < 0.3, np.nan, rng.normal(size=n)),
            "empty": np.full(n, np.nan),
            "constant": np.where(rng.random(n) < 0.3, np.nan, 5.0),
            "as_objects": pd.Series(rng.normal(size=n), dtype=object),
            "town": rng.choice(["a", "b", None], n),
            "one_level": pd.Categorical(["only"] * n),
            "no_level": pd.Series([None] * n, dtype=object),
            "many": pd.Categorical(rng.choice([f"l{i}" for i in range(12)], n)),
            "flag": rng.random(n) < 0.5,
        }
    )


@pytest.mark.parametrize(
    "params",
    [{}, {"numeric_scaling": "standard", "piecewise_bins": 3}, {"max_onehot_levels": None},
     {"numeric_scaling": None, "missing_indicators": False}],
)  # fmt: skip
def test_fit_transform_is_fit_then_transform(table, params):
    # fit_transform keeps the matrix that ColumnTransformer's fit builds anyway.
    X = pd.concat([table[0], _edge_table(len(table[0]))], axis=1)
    like = TablePreprocessor(**params).fit(X)
    numbers = np.asarray(X[["x", "empty", "constant"]], dtype=float)
    for data, kwargs in [(X, {}), (X.iloc[:90], {"like": like}), (X[["x", "constant"]], {}),
                         (numbers, {})]:  # fmt: skip
        expected = TablePreprocessor(**params).fit(data, **kwargs).transform(data)
        np.testing.assert_array_equal(TablePreprocessor(**params).fit_transform(data, **kwargs),
                                      expected)  # fmt: skip


@pytest.mark.parametrize("cls", [RegularizedMLPClassifier, RegularizedMLPRegressor])
def test_a_fit_prepares_its_rows_once(table, cls, monkeypatch):
    # The one-hot columns, and the whole matrix, were built twice: ColumnTransformer's fit
    # builds them and throws them away; half of a fit on many categorical columns.
    from sklearn.preprocessing import OneHotEncoder

    calls = []
    transform = OneHotEncoder.transform
    monkeypatch.setattr(OneHotEncoder, "transform", lambda *a: calls.append(1) or transform(*a))
    X, y = table
    model = small(cls, max_iter=1).fit(X, y)
    assert len(calls) == 1
    X_objects = X.astype({"size": object})  # numbers held as objects: read as predict reads
    np.testing.assert_array_equal(small(cls, max_iter=1).fit(X_objects, y).predict(X),
                                  model.predict(X))  # fmt: skip


def test_smooth_clipping_is_the_identity_near_zero_and_bounded_by_three():
    x = np.array([-1e9, -30.0, -3.0, 0.0, 0.01, 3.0, 30.0, 1e9])
    np.testing.assert_allclose(smooth_clip(x), x / np.sqrt(1 + (x / 3) ** 2))
    assert np.all(np.abs(smooth_clip(x)) <= 3) and smooth_clip(0.01) == pytest.approx(0.01, 1e-4)
    assert np.all(np.diff(smooth_clip(x)) > 0)  # order kept


def test_smooth_clipping_keeps_values_beyond_1e150_at_the_bound_on_their_side():
    huge = np.array([1e150, 1e160, 1e300, np.finfo(float).max, np.inf])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow on the way
        np.testing.assert_allclose(smooth_clip(huge), 3.0, rtol=1e-15)
        np.testing.assert_allclose(smooth_clip(-huge), -3.0, rtol=1e-15)
    assert np.isnan(smooth_clip(np.array([np.nan])))[0]  # the imputer's to fill


# scikit-learn's finiteness check sums the column, which overflows (its own warning).
@pytest.mark.filterwarnings("ignore:invalid value encountered in reduce:RuntimeWarning")
def test_huge_values_predict_as_the_largest_values_do():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.random(60)})
    reg = small(RegularizedMLPRegressor, max_iter=20).fit(X, 10 * X["a"])
    big = [1e100, 1e160, 1e300, np.finfo(float).max]
    predicted = reg.predict(pd.DataFrame({"a": [*big, *-np.array(big)]}))
    np.testing.assert_array_equal(predicted[:4], predicted[0])  # clipped to +3, not the median
    np.testing.assert_array_equal(predicted[4:], predicted[4])
    assert predicted[0] != predicted[4]


def test_robust_scaling_centres_on_the_median_and_falls_back_to_the_range():
    X = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0], [50.0, 5.0], [4.0, 9.0]])
    scaler = RobustSmoothScaler().fit(X)
    q1, q3 = np.percentile(X[:, 0], [25, 75])
    np.testing.assert_allclose(scaler.center_, [3.0, 5.0])
    np.testing.assert_allclose(scaler.scale_, [q3 - q1, 4.0])  # IQR; range when IQR is 0
    expected = smooth_clip((X - [3.0, 5.0]) / [q3 - q1, 4.0])
    np.testing.assert_allclose(scaler.transform(X), expected)


def test_piecewise_linear_encoding_is_its_formula():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=50), rng.integers(0, 3, 50)])  # the second: 3 values
    encoder = PiecewiseLinearEncoder(n_bins=4).fit(X)

    def ramps(rows):
        out = np.zeros((len(rows), 2, 4))
        for j in range(2):
            edges = np.quantile(X[:, j], [0, 0.25, 0.5, 0.75, 1])
            for i, x in enumerate(rows[:, j]):
                for t in range(4):
                    low, high = edges[t], edges[t + 1]
                    if high > low:  # an empty bin stays 0
                        out[i, j, t] = min(max((x - low) / (high - low), 0.0), 1.0)
        return out.reshape(len(rows), 8)

    new = np.array([[-9.0, 0.0], [0.1, 1.0], [9.0, 2.0], [X[7, 0], 1.5]])
    centre = ramps(X).mean(axis=0)  # centred on the training rows
    np.testing.assert_allclose(encoder.transform(new), ramps(new) - centre, atol=1e-12)
    np.testing.assert_allclose(encoder.transform(X).mean(axis=0), 0.0, atol=1e-12)


def test_piecewise_linear_columns_follow_the_numeric_ones_and_count_for_them(table):
    X, y = table
    plain = TablePreprocessor().fit(X)
    piecewise = TablePreprocessor(piecewise_bins=8).fit(X)
    assert piecewise.layout_.n_numeric == plain.layout_.n_numeric == 2
    extra = piecewise.layout_.n_dense - plain.layout_.n_dense
    assert extra == 2 * 8  # the padding of the other columns does not change
    np.testing.assert_array_equal(piecewise.sources_[2:18], np.repeat([0, 1], 8))
    clf = small(numeric_embedding="piecewise_linear").fit(X, y)
    assert clf.feature_importances_.shape == (5,) and np.isfinite(clf.predict_proba(X)).all()


@pytest.mark.parametrize("scaling", ["robust", "standard", None])
@pytest.mark.parametrize("frame", [True, False], ids=["frame", "array"])
def test_numeric_tables_skip_the_column_transformer_with_the_same_matrix(table, scaling, frame):
    """A table of numbers only takes a path without ColumnTransformer (its per-call cost):
    the same matrix, sources and layout as ColumnTransformer's, missing values and an
    all-missing column included."""
    from sklearn.compose import ColumnTransformer

    X = table[0][["size", "age"]].assign(empty=np.nan, flat=1.0)
    X = X if frame else X.to_numpy()
    prep = TablePreprocessor(numeric_scaling=scaling, piecewise_bins=4).fit(X)
    assert not isinstance(prep.columns_, ColumnTransformer)
    reference = ColumnTransformer(prep.columns_.parts, sparse_threshold=0.0).fit(X)
    new = X[::3]
    expected = prep._pad(np.asarray(reference.transform(new), np.float32), 0.0)
    np.testing.assert_array_equal(prep.transform(new), expected)
    assert prep.layout_.n_numeric == 4 and len(prep.sources_) == expected.shape[1]
    # size, age, empty, flat; 4 bins each; the age and empty indicators; padding to 8
    np.testing.assert_array_equal(prep.sources_[:4], [0, 1, 2, 3])
    np.testing.assert_array_equal(prep.sources_[20:22], [1, 2])
    names = getattr(prep.columns_, "feature_names_in_", None)
    assert (names is not None) == frame


@pytest.mark.parametrize("with_categories", [False, True])
def test_nullable_dtypes_missing_values_are_missing_values(table, with_categories):
    """pandas' nullable Int64 / Float64 columns hold pd.NA: read as NaN (imputed, with an
    indicator), with or without categorical columns beside them."""
    X, y = table
    columns = ["size", "age", "city"] if with_categories else ["size", "age"]
    nullable = X[columns].astype({"size": "Float64", "age": "Float64"})
    nullable["count"] = pd.array(np.where(X["age"].isna(), None, 3), dtype="Int64")
    as_nan = nullable.astype({"size": float, "age": float, "count": float})
    prep, reference = TablePreprocessor().fit(nullable), TablePreprocessor().fit(as_nan)
    np.testing.assert_array_equal(prep.transform(nullable), reference.transform(as_nan))
    clf = small().fit(nullable, y)
    assert np.isfinite(clf.predict_proba(nullable)).all()


@pytest.mark.parametrize("cls", [RegularizedMLPClassifier, RegularizedMLPRegressor])
def test_masked_entries_of_an_array_are_missing_values(table, cls):
    """A NumPy masked array's masked entries are missing (imputed, with an indicator), not
    the values under the mask, at fit and at predict; the caller's array is left as it was.
    A masked target or weight is refused."""
    X, y = table
    values = X[["size", "age"]].to_numpy()
    masked = np.ma.masked_invalid(values)
    masked.data[masked.mask] = 1e6  # what lies under the mask: not data
    before = masked.data.copy()
    clf, reference = small(cls).fit(masked, y), small(cls).fit(values, y)
    predict = clf.predict_proba if cls is RegularizedMLPClassifier else clf.predict
    np.testing.assert_array_equal(predict(masked), predict(values))
    np.testing.assert_array_equal(predict(values), getattr(reference, predict.__name__)(values))
    np.testing.assert_array_equal(masked.data, before)
    y_masked = np.ma.masked_array(y.astype(float), mask=np.arange(len(y)) == 3)
    with pytest.raises(ValueError, match="y holds 1 masked value"):
        small(cls).fit(values, y_masked)
    weights = np.ma.masked_array(np.ones(len(y)), mask=np.arange(len(y)) < 2)
    with pytest.raises(ValueError, match="sample_weight holds 2 masked value"):
        small(cls).fit(values, y, sample_weight=weights)


def test_the_cv_estimator_reads_masked_entries_as_missing_and_refuses_masked_weights(table):
    X, y = table
    values = X[["size", "age"]].to_numpy()
    masked = np.ma.masked_invalid(values)
    masked.data[masked.mask] = 1e6
    cv = skreg.RegularizedMLPClassifierCV((8,), l2s=[0.0], dropouts=[0.0], cv=2, max_iter=3,
                                          random_state=0)  # fmt: skip
    expected = clone(cv).fit(values, y).predict_proba(values)
    np.testing.assert_array_equal(cv.fit(masked, y).predict_proba(masked), expected)
    weights = np.ma.masked_array(np.ones(len(y)), mask=np.arange(len(y)) == 0)
    with pytest.raises(ValueError, match="sample_weight holds 1 masked value"):
        clone(cv).fit(values, y, sample_weight=weights)


def test_integer_column_names_are_names_not_positions(table):
    """A DataFrame whose column names are integers, in another order than their positions,
    beside a categorical column: each column is read by its name."""
    X, y = table
    frame = pd.DataFrame({1: X["size"], 0: X["age"], 2: X["city"]})
    named = X[["size", "age", "city"]]
    prep, reference = TablePreprocessor().fit(frame), TablePreprocessor().fit(named)
    np.testing.assert_array_equal(prep.transform(frame), reference.transform(named))
    np.testing.assert_array_equal(prep.sources_, reference.sources_)


def test_an_array_after_a_dataframe_with_categories_is_read_as_its_columns(table):
    X, y = table
    clf = small().fit(X, y)
    with pytest.warns(UserWarning, match="feature names"):
        from_array = clf.predict_proba(X.to_numpy())
    np.testing.assert_array_equal(from_array, clf.predict_proba(X))
    with pytest.warns(UserWarning, match="feature names"):  # rows as lists, too
        np.testing.assert_array_equal(clf.predict_proba(X.to_numpy().tolist()), from_array)
    # A frame whose names became integers, as an array: it failed inside ColumnTransformer
    # ("'NoneType' object is not iterable").
    renamed = X.set_axis(range(X.shape[1]), axis=1)
    with pytest.warns(UserWarning, match="feature names"):
        np.testing.assert_array_equal(clf.predict_proba(renamed), from_array)
    bad = X.to_numpy()
    bad[0, 0] = "large"  # a string in the numeric column "size"
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="size"):
        clf.predict(bad)


def test_pandas_na_in_numbers_held_as_objects_reads_as_missing():
    X = pd.DataFrame(
        {"n": pd.array([1, None, 3, 4, 2, 5, 1, 2], dtype="Int64"), "city": list("abababab")}
    )
    clf = small().fit(X, [0, 1] * 4)
    expected = clf.predict_proba(X)
    np.testing.assert_array_equal(clf.predict_proba(X.astype(object)), expected)
    with pytest.warns(UserWarning, match="feature names"):
        np.testing.assert_array_equal(clf.predict_proba(X.to_numpy()), expected)


def test_nat_among_strings_held_as_objects_reads_as_missing():
    # pandas counts NaT as missing; infer_dtype does not skip it, so such a column read as
    # numbers mixed with strings and was refused.
    strings = pd.Series([None, "a", "b", "a", "b", "a", "b", "b"], dtype=object)
    clf = small().fit(pd.DataFrame({"s": strings, "x": np.arange(8.0)}), [0, 1] * 4)
    with_nat = pd.DataFrame({"s": strings.where(strings.notna(), pd.NaT), "x": np.arange(8.0)})
    assert with_nat["s"].iloc[0] is pd.NaT
    np.testing.assert_array_equal(
        small().fit(with_nat, [0, 1] * 4).predict_proba(with_nat),
        clf.predict_proba(with_nat),
    )


@pytest.mark.parametrize(
    "values",
    [
        np.arange(8) + 1j,
        pd.date_range("2020-01-01", periods=8),
        pd.date_range("2020-01-01", periods=8, tz="UTC"),
        pd.to_timedelta(np.arange(8), unit="D"),
        # The same as Python objects (from a database, say): each would be a level.
        pd.Series(pd.date_range("2020-01-01", periods=8)).dt.date,
        pd.Series(pd.date_range("2020-01-01", periods=8)).astype(object),
        pd.Series(pd.date_range("2020-01-01 10:00", periods=8, freq="h")).dt.time,
        pd.Series(pd.to_timedelta(np.arange(8), unit="D")).astype(object),
        pd.period_range("2020-01", periods=8, freq="M"),
    ],
    ids=[
        "complex",
        "datetime",
        "datetime-tz",
        "timedelta",
        "date-objects",
        "timestamp-objects",
        "time-objects",
        "timedelta-objects",
        "period",
    ],  # fmt: skip
)
def test_columns_of_complex_numbers_dates_or_durations_are_refused_by_name(values):
    X = pd.DataFrame({"a": np.arange(8.0), "when": values})
    with pytest.raises(ValueError, match=r"Column\(s\) \['when'\] hold .*Convert them first"):
        small().fit(X, [0, 1] * 4)
    clf = small().fit(X.assign(when=np.arange(8.0)), [0, 1] * 4)
    with pytest.raises(ValueError, match=r"\['when'\]"):
        clf.predict(X)


def test_columns_are_one_hot_below_the_level_count_and_embedded_above(table):
    X, _ = table
    prep = TablePreprocessor().fit(X)
    layout = prep.layout_
    assert layout.n_numeric == 2
    # size, age, the age indicator, city (4 levels with missing), owner (2): one-hot; the
    # 7 indicator and one-hot columns are padded with a zero column to 8
    assert layout.n_dense == 2 + 1 + 4 + 2 + 1 and prep.n_padding_ == 1
    assert layout.levels == (14 + 2,)  # zip: 14 levels, plus unseen and missing
    out = prep.transform(X)
    assert out.shape == (len(X), layout.n_dense + 1) and np.isfinite(out).all()
    np.testing.assert_array_equal(out[:, layout.n_dense - 1], 0.0)
    assert prep.sources_[layout.n_dense - 1] == X.shape[1]  # from no input column
    missing = X["age"].isna().to_numpy()
    np.testing.assert_array_equal(out[:, 2], missing)  # the indicator
    np.testing.assert_array_equal(out[missing, 1], 0.0)  # the median, after centring
    assert set(out[:, -1]) <= set(range(1, 15))  # the known levels' codes
    assert TablePreprocessor(max_onehot_levels=None).fit(X).layout_.levels == ()


def test_standard_scaling_of_values_near_1e300_is_their_standardized_values():
    x = np.array([1e300, -1e300, 5e299, 0.0, 2e299])
    X = np.column_stack([x, np.arange(5.0)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow on the way
        out = TablePreprocessor(numeric_scaling="standard").fit(X).transform(X)
    expected = StandardScaler().fit_transform(X / [1e300, 1.0])
    np.testing.assert_allclose(out, expected, rtol=1e-6)


@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1e200, 1e300])
def test_the_regressor_predicts_targets_of_any_scale_on_their_scale(scale):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = X @ [1.0, -2.0, 0.5] + 1.0
    expected = small(RegularizedMLPRegressor).fit(X, y).predict(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or underflow on the way
        predicted = small(RegularizedMLPRegressor).fit(X, y * scale).predict(X)
    np.testing.assert_allclose(predicted / scale, expected, rtol=1e-5)
    # And a feature column of tiny values standardizes to the same numbers as its ones.
    prep = TablePreprocessor(numeric_scaling="standard")
    np.testing.assert_allclose(
        prep.fit_transform(X * [scale, 1, 1]), prep.fit_transform(X), rtol=1e-6
    )


def test_values_beyond_float32_without_scaling_are_refused_by_column_name():
    X = pd.DataFrame({"small": np.arange(6.0), "huge": [1e39, 0, 1, 2, 3, 4]})
    y = np.array([0, 1] * 3)
    beyond = r"too large for dtype\('float32'\).*column\(s\) \['huge'\]"
    with pytest.raises(ValueError, match=beyond):
        small(numeric_scaling=None).fit(X, y)
    assert np.isfinite(small().fit(X, y).predict_proba(X)).all()  # robust scaling bounds them


def test_folds_missing_a_level_or_a_missing_value_share_one_program(table):
    X = table[0].drop(columns="zip")
    widths, layouts = set(), set()
    for seed in range(8):  # six rows each: some miss a city or a missing age
        part = X.iloc[np.random.default_rng(seed).permutation(len(X))[:6]]
        prep = TablePreprocessor().fit(part)
        widths.add(prep.layout_.n_dense - prep.n_padding_)
        layouts.add(prep.layout_)
    assert len(widths) > 1 and len(layouts) == 1


def test_a_dataframe_with_missing_values_and_unseen_levels_fits_and_predicts(table):
    X, y = table
    clf = small().fit(X, y)
    new = X.iloc[:6].copy()
    new["city"] = ["marseille", None, "paris", "lyon", "nice", "brest"]
    new["zip"] = pd.Categorical(["z99", "z1", "z2", "z3", "z4", "z5"])
    new.loc[new.index[0], "size"] = np.nan
    proba = clf.predict_proba(new)
    assert np.isfinite(proba).all() and np.allclose(proba.sum(axis=1), 1)
    assert list(clf.feature_names_in_) == list(X.columns)
    assert clf.feature_importances_.shape == (5,)
    with pytest.raises(ValueError, match="infinity"):
        clf.predict(X.assign(size=np.inf))


def test_text_codes_read_back_as_numbers_warn_that_they_read_as_unseen():
    # Digit codes fitted as text and predicted as integers (another CSV read) match no
    # level: predicted as unseen levels are, which the user is told.
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=60), "code": rng.choice(["1", "2", "3"], 60)})
    y = np.arange(60) % 2
    clf = small().fit(X, y)
    rows = X.iloc[:4]
    with pytest.warns(UserWarning, match=r"\['code'\] held text levels .* hold numbers now"):
        as_numbers = clf.predict_proba(rows.assign(code=rows["code"].astype(int)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        unseen = clf.predict_proba(rows.assign(code="9"))
        clf.predict_proba(rows)  # as fitted: no warning
        clf.predict_proba(rows.assign(code=np.nan))  # missing, as a float column: none
        # A column of one level in training reads as it, whatever it holds: no warning.
        one_level = small().fit(X.assign(code="1"), y)
        same = one_level.predict_proba(rows.assign(code="1"))
        np.testing.assert_array_equal(one_level.predict_proba(rows.assign(code=7)), same)
    np.testing.assert_array_equal(as_numbers, unseen)


def test_the_users_pandas_output_setting_changes_nothing(table):
    # set_config(transform_output="pandas") made the inner ColumnTransformer join its parts
    # on the rows' index: a table whose index is not 0..n-1 (any fold) failed to fit.
    import sklearn

    X, y = table
    X = X.set_axis(np.arange(len(X)) + 1000)
    expected = small().fit(X, y).predict_proba(X)
    with sklearn.config_context(transform_output="pandas"):
        got = small().fit(X, y).predict_proba(X)
        search = skreg.RegularizedMLPClassifierCV((8,), l2s=1, dropouts=[0.0], cv=2, max_iter=2)
        search.fit(X, y)
    np.testing.assert_array_equal(got, expected)
    assert search.predict(X).shape == (len(X),)


def test_a_continued_fit_warns_of_levels_the_first_fit_did_not_see(table):
    X, y = table
    clf = small().partial_fit(X, y, classes=np.unique(y))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.partial_fit(X.iloc[:30], y[:30])  # known levels (and missing ones): no warning
    new = X.iloc[:30].copy()
    new["city"] = "marseille"
    new["zip"] = pd.Categorical(["z99"] * 30)
    with pytest.warns(UserWarning, match=r"\['city', 'zip'\] hold categorical levels"):
        clf.partial_fit(new, y[:30])
    with pytest.warns(UserWarning, match=r"\['city'\] hold categorical levels"):
        clf.set_params(warm_start=True, max_iter=1).fit(new.assign(zip=X["zip"][:30]), y[:30])


@pytest.mark.parametrize("frame", [True, False])
def test_a_column_missing_in_every_training_row_is_ignored_at_predict(table, frame):
    X, y = table
    X = X[["size", "age"]].assign(empty=np.nan)
    given = X.assign(empty=np.linspace(-50, 50, len(X)))
    if not frame:
        X, given = X.to_numpy(), given.to_numpy()
    clf = small().fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(given), clf.predict_proba(X))


@pytest.mark.parametrize("frame", [True, False])
@pytest.mark.parametrize(
    "params",
    [{}, {"numeric_scaling": "standard"}, {"numeric_scaling": None},
     {"numeric_embedding": "piecewise_linear"}],
)  # fmt: skip
def test_a_column_of_one_value_in_training_is_read_as_that_value_at_predict(table, frame, params):
    # Its scaled value was 0 in every training row, so its first-layer weights kept their
    # random draws: another value at predict would move the predictions by them.
    X, y = table
    site = np.where(np.arange(len(X)) % 7 == 0, np.nan, 2.0)  # one value, some rows missing
    X = X[["size", "age"]].assign(constant=5.0, site=site)
    given = X.assign(
        constant=np.linspace(-50, 50, len(X)), site=np.where(np.isnan(site), np.nan, -3.0)
    )
    if not frame:
        X, given = X.to_numpy(), given.to_numpy()
    for cls in (RegularizedMLPClassifier, RegularizedMLPRegressor):
        target = y if cls is RegularizedMLPClassifier else y.astype(float)
        est = small(cls, **params).fit(X, target)
        np.testing.assert_array_equal(est.predict(given), est.predict(X))
        assert np.array_equal(est.network_inputs(given), est.network_inputs(X))
    # where the training rows were missing, the indicator still tells the rows apart
    filled = given.copy()
    if frame:
        filled["site"] = -3.0
    else:
        filled[:, 3] = -3.0
    assert not np.array_equal(est.network_inputs(filled), est.network_inputs(X))


def test_a_categorical_column_of_one_level_in_training_is_read_as_it_at_predict(table):
    # Its one-hot column was 1 in every training row: another level's zeros would move the
    # predictions by that column's weights.
    X, y = table
    X = X[["size", "age", "city"]].assign(
        country="fr", flag=True, kind=pd.Categorical(["a"] * len(X)), never=None
    )
    given = X.assign(
        country=np.where(np.arange(len(X)) % 2, "de", None),
        flag=False,
        kind=pd.Categorical(["b"] * len(X)),
        never="seen",
    )
    clf = small().fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(given), clf.predict_proba(X))
    changed = X.assign(city="paris")  # a column that varied in training still counts
    assert not np.array_equal(clf.network_inputs(changed), clf.network_inputs(X))


def test_pickled_tabular_model_predicts_the_same(table):
    X, y = table
    clf = small().fit(X, y)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(clf)).predict_proba(X),
                                  clf.predict_proba(X))  # fmt: skip


def test_label_smoothing_is_keras_own(iris):
    from skreg._engine._cache import PROGRAMS
    from skreg._engine._network import initial_state
    from skreg._engine._program import objective
    from skreg._specs import NetworkSpec, ProgramKey

    spec = NetworkSpec(n_features=4, n_outputs=3, hidden_layer_sizes=(5,),
                       output_activation="softmax")  # fmt: skip
    X, labels = iris
    x, y = X[:20].astype(np.float32), np.eye(3, dtype=np.float32)[labels[:20]]
    w = np.ones(20, np.float32)
    with PROGRAMS.lease(ProgramKey(spec, "adam", "categorical_crossentropy", ())) as program:
        state = initial_state(program.network, (0.0,), np.random.SeedSequence(0))
        ours, _ = objective(program, list(state.trainable), list(state.non_trainable), x, y, w,
                            np.zeros(2, np.float32), training=False, smoothing=0.2)  # fmt: skip
        logits, _ = program.linear.stateless_call(
            list(state.trainable), list(state.non_trainable), x, training=False
        )
    keras_own = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2)
    np.testing.assert_allclose(float(ours), float(keras_own(y, logits)), rtol=1e-5)


def test_weight_decay_is_keras_adamw():
    from skreg._engine._network import make_optimizer

    kernel = keras.Variable(np.ones((3, 2), np.float32), name="kernel")
    bias = keras.Variable(np.ones(2, np.float32), name="bias")
    gradients = [np.full((3, 2), 0.5, np.float32), np.full(2, 0.5, np.float32)]
    ours = make_optimizer("adam", 0.1)
    ours.build([kernel, bias])
    names = [v.name for v in ours.variables]
    ours.variables[names.index("weight_decay")].assign(0.3)
    ours.variables[names.index("beta_2")].assign(0.95)
    ours.apply_gradients(zip(gradients, [kernel, bias]))
    kernel2 = keras.Variable(np.ones((3, 2), np.float32), name="kernel")
    bias2 = keras.Variable(np.ones(2, np.float32), name="bias")
    adamw = keras.optimizers.AdamW(learning_rate=0.1, weight_decay=0.3, beta_2=0.95)
    adamw.exclude_from_weight_decay(var_names=["bias"])
    adamw.apply_gradients(zip(gradients, [kernel2, bias2]))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(kernel),
                               keras.ops.convert_to_numpy(kernel2), rtol=1e-6)  # fmt: skip
    np.testing.assert_allclose(keras.ops.convert_to_numpy(bias),
                               keras.ops.convert_to_numpy(bias2), rtol=1e-6)  # fmt: skip


def test_weight_decay_leaves_the_prelu_slopes_alone(iris):
    # The decay is of the dense kernels (as l1 and l2 are): one step of SGD at a decay of 100
    # moved each slope by learning_rate * 100 * slope, as it does a kernel's weights.
    X, y = iris

    def slopes_after_one_step(decay):
        clf = small(activation="prelu", optimizer="sgd", weight_decay=decay, max_iter=1,
                    batch_size=len(X), numeric_embedding=None).fit(X, y)  # fmt: skip
        slopes = [v for v in clf.model_.trainable_variables if "alpha" in v.path]
        kernels = [v for v in clf.model_.trainable_variables if "kernel" in v.path]
        assert slopes and kernels
        return [keras.ops.convert_to_numpy(v) for v in slopes + kernels[:1]]

    (slope, kernel), (decayed_slope, decayed_kernel) = (
        slopes_after_one_step(0.0),
        slopes_after_one_step(100.0),
    )
    np.testing.assert_array_equal(decayed_slope, slope)
    assert not np.allclose(decayed_kernel, kernel)  # the decay did apply, to the kernel


@pytest.mark.parametrize("optimizer, own", [("adam", 0.0), ("adamw", 0.004)])
def test_a_continued_fit_with_weight_decay_none_decays_by_the_optimizers_own(iris, optimizer, own):
    # A warm start after weight_decay=0.5 kept decaying at 0.5 when set back to None.
    X, y = iris
    fits = []
    for then in (None, own):
        clf = small(optimizer=optimizer, weight_decay=0.5, warm_start=True, max_iter=3).fit(X, y)
        fits.append(clf.set_params(weight_decay=then).fit(X, y).predict_proba(X))
    np.testing.assert_array_equal(fits[0], fits[1])
    assert keras.optimizers.get(optimizer).weight_decay in (None, own)  # Keras' own default


def test_coslog4_follows_its_formula(iris):
    X, y = iris
    clf = small(learning_rate_schedule="coslog4", learning_rate=0.01, max_iter=12).fit(X, y)
    t = (np.arange(12) + 0.5) / 12
    expected = 0.01 * 0.5 * (1 - np.cos(2 * math.pi * np.log2(1 + 15 * t)))
    np.testing.assert_allclose(clf.history_["learning_rate"], expected, rtol=1e-4, atol=1e-9)


@pytest.mark.parametrize("horizon", [60, 200, 1000])
def test_coslog4_low_points_follow_the_epochs_of_its_lowest_rates(horizon):
    t = (np.arange(horizon) + 0.5) / horizon
    rates = 0.5 * (1 - np.cos(2 * math.pi * np.log2(1 + 15 * t)))
    points = LearningRateSchedule(name="coslog4", horizon=horizon).low_points()
    assert len(points) == 3  # the ends of the first three of four cycles
    for k, point in enumerate(points, start=1):
        epoch = point - 1  # 0-based: the epoch just run
        assert rates[epoch] <= min(rates[epoch - 1], rates[epoch + 1])  # a low point
        assert abs((epoch + 0.5) - (2**k - 1) * horizon / 15) <= 0.5  # of cycle k's end
    assert LearningRateSchedule(name="coslog4", horizon=200).low_points() == (14, 41, 94)
    assert LearningRateSchedule(name="cosine", horizon=horizon).low_points() == ()


@pytest.mark.parametrize(
    "early_stopping, expected",
    [("auto", "coslog4"), ("best_epoch", "coslog4"), (False, "coslog4"), (True, "constant"),
     (np.True_, "constant"), (np.False_, "coslog4"),  # a grid of np.array([True, False])
     ("train_loss", "constant")],
)  # fmt: skip
def test_auto_schedule_is_coslog4_unless_a_patience_rule_may_stop_the_fit(
    iris, early_stopping, expected
):
    X, y = iris
    params = {"early_stopping": early_stopping, "max_iter": 12, "n_iter_no_change": 20}
    auto = small(**params).fit(X, y)
    named = small(**params, learning_rate_schedule=expected).fit(X, y)
    assert auto.learning_rate_schedule == "auto"  # the parameter is left as given
    np.testing.assert_array_equal(auto.history_["learning_rate"], named.history_["learning_rate"])
    np.testing.assert_array_equal(auto.predict_proba(X), named.predict_proba(X))
    rates = np.unique(auto.history_["learning_rate"])
    assert (len(rates) == 1) == (expected == "constant")


def test_auto_schedule_is_constant_in_partial_fit(iris):
    X, y = iris
    auto, named = small(), small(learning_rate_schedule="constant")
    for _ in range(3):
        auto.partial_fit(X, y, classes=[0, 1, 2])
        named.partial_fit(X, y, classes=[0, 1, 2])
    assert auto.history_["learning_rate"] == named.history_["learning_rate"]
    np.testing.assert_array_equal(auto.predict_proba(X), named.predict_proba(X))


def test_flat_cosine_is_its_formula():
    from skreg._engine import load

    load()
    from skreg._engine._program import regularization_multiplier
    from skreg._specs import ScheduleClock

    horizon = 20
    inputs = (0, 0.0, 0.0, 0, 0.0, np.float32(horizon), 0.0)  # LearningRateSchedule.inputs()
    for epoch in range(horizon):
        clock = ScheduleClock.start()._replace(epoch=np.int32(epoch))
        t = epoch / horizon
        expected = 1.0 if t < 0.5 else 0.5 * (1 + math.cos(math.pi * (2 * t - 1)))
        flat_cosine = regularization_multiplier(clock, inputs, np.bool_(True))
        constant = regularization_multiplier(clock, inputs, np.bool_(False))
        assert float(keras.ops.convert_to_numpy(flat_cosine)) == pytest.approx(expected, abs=1e-6)
        assert float(keras.ops.convert_to_numpy(constant)) == 1.0


def test_flat_cosine_eases_dropout_and_weight_decay_late_and_keeps_the_rates_given(iris):
    X, y = iris
    plain = {"max_iter": 40, "early_stopping": False, "learning_rate": 1e-2}
    dropout = {"dropout": 0.5, **plain}
    constant = small(**dropout).fit(X, y)
    eased = small(regularization_schedule="flat_cosine", **dropout).fit(X, y)
    # The first half is the same fit; in the last epochs, less dropout: a lower training loss.
    np.testing.assert_allclose(eased.history_["loss"][:20], constant.history_["loss"][:20],
                               rtol=1e-5)  # fmt: skip
    assert np.mean(eased.history_["loss"][-5:]) < np.mean(constant.history_["loss"][-5:])
    rates = [v for v in eased.model_.non_trainable_weights if v.path.endswith("rate")]
    assert [float(keras.ops.convert_to_numpy(v)) for v in rates] == [0.5]
    decay = {"weight_decay": 0.2, "optimizer": "adam", **plain}
    constant = small(**decay).fit(X, y)
    eased = small(regularization_schedule="flat_cosine", **decay).fit(X, y)
    norm = [sum(float((w**2).sum()) for w in m.coefs_) for m in (constant, eased)]
    assert norm[1] > norm[0]  # less decay in the second half: larger weights


def test_best_epoch_runs_the_whole_budget_and_keeps_the_best(iris):
    X, y = iris
    clf = small(early_stopping="best_epoch", max_iter=25, learning_rate=0.05).fit(X, y)
    assert clf.n_iter_ == 25
    assert clf.best_epoch_ == 1 + int(np.argmax(clf.validation_scores_))
    assert clf.best_validation_score_ == max(clf.validation_scores_)


def test_auto_early_stopping_keeps_the_best_epoch_from_a_hundred_rows(iris):
    from skreg._base import AUTO_BEST_EPOCH_ROWS

    X, y = iris
    rng = np.random.default_rng(0)
    rows = rng.permutation(len(y))
    few = rows[: AUTO_BEST_EPOCH_ROWS - 1]  # every row trains, every epoch, the last kept
    assert small(max_iter=6).fit(X[few], y[few]).validation_scores_ is None
    enough = rows[:AUTO_BEST_EPOCH_ROWS]  # a 10% validation split, the best of 6 epochs
    clf = small(max_iter=6).fit(X[enough], y[enough])
    assert clf.n_iter_ == 6 and len(clf.validation_scores_) == 6
    assert clf.best_epoch_ == 1 + int(np.argmax(clf.validation_scores_))
    assert small(max_iter=6, early_stopping=False).fit(X, y).validation_scores_ is None
    # validation_fraction=0, as scikit-learn's MLPs take it: "auto" holds out nothing.
    clf = small(max_iter=6, validation_fraction=0.0).fit(X, y)
    assert clf.validation_scores_ is None and clf.best_epoch_ == clf.n_iter_ == 6
    with pytest.raises(ValueError, match="validation_fraction=0.0"):
        small(max_iter=6, validation_fraction=0.0, early_stopping=True).fit(X, y)
    # Nor with a fraction that would hold out a single row of 150: only asked for, it fails.
    clf = small(max_iter=6, validation_fraction=0.005).fit(X, y)
    assert clf.validation_scores_ is None and clf.best_epoch_ == clf.n_iter_ == 6
    with pytest.raises(ValueError, match="would have 1 row"):
        small(max_iter=6, validation_fraction=0.005, early_stopping=True).fit(X, y)


def test_target_scaling_trains_on_the_standardized_target(regression_data):
    X, y = regression_data
    y = 1000 + 300 * y
    ours = small(RegularizedMLPRegressor, max_iter=8).fit(X, y)
    theirs = TransformedTargetRegressor(
        small(RegularizedMLPRegressor, max_iter=8, target_scaling=False),
        transformer=StandardScaler(),
    ).fit(X, y)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-4)
    assert abs(ours.predict(X).mean() - y.mean()) < y.std()


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_target_scaling_is_exact_for_targets_near_1e300(regression_data, loss):
    X, y = regression_data
    y = np.exp(y[:, 0] / 4) if loss == "poisson" else y[:, 0]
    reg = small(RegularizedMLPRegressor, max_iter=8, loss=loss)
    unit = reg.fit(X, y).predict(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow in the target's moments
        huge = reg.fit(X, y * 2.0**990).predict(X)  # about 1e298
    np.testing.assert_allclose(huge / 2.0**990, unit, rtol=1e-6)


def test_a_grid_over_the_numeric_ingredients_compiles_once(iris):
    X, y = iris
    grid = {
        "label_smoothing": [0.0, 0.1],
        "beta_2": [0.95, 0.999],
        "weight_decay": [0.0, 0.01],
        "regularization_schedule": ["constant", "flat_cosine"],
    }
    skreg.clear_program_cache()  # an earlier test may have compiled this network
    before = skreg.program_cache_info().epoch_compiles
    GridSearchCV(small(max_iter=2), grid, cv=2).fit(X, y)  # 33 fits
    assert skreg.program_cache_info().epoch_compiles - before == 1


def test_the_periodic_features_are_their_formula():
    from skreg._engine._front import PERIODIC_FACTOR, TableFront
    from skreg._specs import FrontSpec

    spec = FrontSpec(n_numeric=2, n_dense=3, periodic=True)
    front = TableFront(spec)
    front.build((None, 3))
    values = front.initial_values(np.random.default_rng(0))
    for variable in front.weights:
        variable.assign(values[id(variable)].astype(np.float32))
    x = np.array([[0.5, -1.0, 1.0], [2.0, 0.0, 0.0]], np.float32)
    out = keras.ops.convert_to_numpy(front(x))
    w, b, W, c = (PERIODIC_FACTOR * values[id(v)] for v in
                  (front.frequencies, front.phases, front.projection, front.offsets))  # fmt: skip
    waves = np.cos(2 * np.pi * x[:, :2, None] * w + b)
    expected = np.einsum("bjk,jkd->bjd", waves, W) + c
    np.testing.assert_allclose(out[:, :3], x, rtol=1e-6)  # the columns themselves
    np.testing.assert_allclose(out[:, 3:], expected.reshape(2, -1), rtol=1e-5, atol=1e-6)


def test_training_steps_embed_each_distinct_value_once_with_the_same_numbers():
    from skreg._engine._front import TableFront, level_codes, levels
    from skreg._specs import FrontSpec

    rng = np.random.default_rng(0)
    spec = FrontSpec(n_numeric=3, n_dense=4, periodic=True, scale=True)
    X = np.column_stack([rng.integers(0, 17, (300, 3)), rng.integers(0, 2, 300)])
    X = (X / 3.0).astype(np.float32)  # 17 values (and -0.0) a column: a table of 32
    X[4, 0] = -0.0  # a training row's -0.0 finds the 0.0 of the table
    train = np.arange(0, 300, 2)
    table, codes = level_codes(spec, X, train, step=128)
    assert table.shape == (3, 32)
    np.testing.assert_array_equal(np.take_along_axis(table, codes[train].T, 1).T, X[train, :3])
    assert level_codes(spec, X, train, step=16) is None  # a table of 32 for 16-row steps
    assert level_codes(spec, X, train[:100], step=128) is None  # values repeat too little
    assert level_codes(FrontSpec(3, 4), X, train, step=128) is None  # no periodic features

    front = TableFront(spec)
    front.build((None, 4))
    values = front.initial_values(np.random.default_rng(1))
    for variable in front.weights:
        variable.assign(values[id(variable)].astype(np.float32))
    batch = X[train[:64]]

    def run(table_and_codes):
        with levels(*table_and_codes):
            return front(keras.ops.convert_to_tensor(batch), training=True)

    each_row = keras.ops.convert_to_numpy(run((None, None)))
    from_table = keras.ops.convert_to_numpy(run((table, codes[train[:64]])))
    # The same operations on each value; only the sum over the 16 frequencies may be
    # ordered otherwise.
    np.testing.assert_allclose(from_table, each_row, rtol=1e-6, atol=1e-7)
    # Outside training (prediction, the validation loss) every row is embedded: values
    # unseen in training have no place in the table.
    with levels(table, codes[train[:64]]):
        unseen = keras.ops.convert_to_numpy(front(batch + 0.5, training=False))
    np.testing.assert_array_equal(unseen, keras.ops.convert_to_numpy(front(batch + 0.5)))


@pytest.mark.parametrize("augmentation", [None, "noise"])
def test_a_fit_through_the_table_of_distinct_values_trains_the_same_network(
    augmentation, monkeypatch
):
    from skreg import GaussianNoise
    from skreg._engine import _session

    rng = np.random.default_rng(0)
    X = rng.integers(0, 12, (240, 6)).astype(float)  # 12 values a column
    y = (X[:, 0] + X[:, 1] > 11).astype(int)
    noise = GaussianNoise(0.1) if augmentation else None
    model = small(max_iter=3, early_stopping=False, augmentation=noise)
    used, level_codes = [], _session.level_codes

    def recording(*args):
        used.append(level_codes(*args))
        return used[-1]

    monkeypatch.setattr(_session, "level_codes", recording)
    through_table = clone(model).fit(X, y).predict_proba(X)
    if augmentation:
        assert used == []  # noise makes every value new: no table
    else:
        assert used[0] is not None and used[0][0].shape == (6, 16)
    monkeypatch.setattr(_session, "level_codes", lambda *args: None)
    each_row = clone(model).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(through_table, each_row, atol=1e-6)


def test_the_periodic_features_cosine_is_numpys_to_float32_rounding():
    from skreg._engine._front import cos_of_turns

    turns = np.linspace(-40.0, 40.0, 200_001).astype(np.float32)  # ~0.4 ms steps of a turn
    out = keras.ops.convert_to_numpy(cos_of_turns(keras.ops.convert_to_tensor(turns)))
    # float32 holds these turns to 4e-6 of a turn near +-40, so the cosine of the float32
    # number is the reference (to float64), not the cosine of the decimal.
    np.testing.assert_allclose(out, np.cos(2 * np.pi * turns.astype(np.float64)), atol=2e-6)


def test_prelu_is_relu_with_a_learned_slope_for_negative_inputs(iris):
    X, y = iris
    plain = {"numeric_scaling": None, "numeric_embedding": None, "scaling_layer": False}
    clf = small(activation="prelu", max_iter=20, **plain).fit(X, y)
    slopes = clf.model_.get_layer("activation_0").get_weights()[0]
    assert slopes.shape == (8,) and not np.allclose(slopes, 0.25)  # learned from 0.25
    (W1, W2), (b1, b2) = clf.coefs_, clf.intercepts_
    z = X @ W1 + b1
    logits = (np.maximum(z, 0) + slopes * np.minimum(z, 0)) @ W2 + b2
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(clf.predict_proba(X), expected, rtol=1e-4, atol=1e-6)


def test_an_embedded_level_no_training_row_holds_adds_nothing_to_the_prediction():
    # The unseen code, the missing code of a column without missing values, and a level
    # whose rows weigh 0: vectors of zeros, as an unseen level's one-hot is, not random draws
    # that would push an unseen level's prediction anywhere.
    rng = np.random.default_rng(0)
    levels = rng.integers(0, 20, 200)
    frame = pd.DataFrame({"x": rng.normal(size=200), "c": [f"L{v}" for v in levels]})
    y = levels % 2
    weights = np.where(levels == 3, 0.0, 1.0)
    model = small(max_iter=20, early_stopping=False).fit(frame, y, sample_weight=weights)
    (table,) = [keras.ops.convert_to_numpy(w) for w in model.model_.weights
                if "embedding" in w.path]  # fmt: skip

    def code(level):  # the code column is the network input's last
        return int(model.network_inputs(frame.head(1).assign(c=level))[0, -1])

    for level in ("never seen", "L3", None):
        assert not table[code(level)].any(), level
    trained = [code(f"L{v}") for v in range(20) if v != 3]
    assert len(set(trained)) == 19 and np.linalg.norm(table[trained], axis=1).min() > 0.1
    # So an unseen level reads as the vector of zeros: the same prediction as a level
    # whose vector is zero.
    np.testing.assert_allclose(
        model.predict_proba(frame.assign(c="never seen")),
        model.predict_proba(frame.assign(c="L3")),
        rtol=1e-6,
    )


def test_adams_first_step_moves_each_embedding_weight_by_the_learning_rate():
    # Adam's first step is lr * g / (|g| + eps): about lr for every weight with a gradient,
    # the same on both backends. TensorFlow hands an embedding table's gradient over as one
    # slice per row; squared before summing (Keras' sparse path), steps reached 2.4 lr.
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"x": rng.normal(size=120), "city": rng.choice([f"c{i}" for i in range(12)], 120)}
    )
    y = (frame["x"] > 0).to_numpy(int)

    def tables(learning_rate):
        model = RegularizedMLPClassifier(
            (4,), max_iter=1, learning_rate=learning_rate, learning_rate_schedule="constant",
            early_stopping=False, dropout=0.0, random_state=0,
        ).fit(frame, y)  # fmt: skip
        weights = model.model_.weights
        return [keras.ops.convert_to_numpy(w) for w in weights if "embedding" in w.path]

    (before,), (after,) = tables(1e-12), tables(1e-3)
    steps = np.abs(after - before)[np.abs(after - before) > 1e-9] / 1e-3
    assert steps.size >= 8 * 8  # the vectors of the levels seen moved
    assert steps.max() <= 1 + 1e-4
    assert np.mean(steps > 0.95) > 0.9


def test_an_object_column_of_numbers_is_numeric_as_gradient_boosting_reads_it():
    from decimal import Decimal

    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, 120).round(3)
    floats = pd.DataFrame({"x": x, "g": rng.choice(["u", "v"], 120)})
    y = 2 * x + rng.normal(scale=0.1, size=120)
    as_objects = floats.assign(x=floats["x"].astype(object))
    as_decimals = floats.assign(x=[Decimal(str(v)) for v in x])
    expected = small(RegularizedMLPRegressor).fit(floats, y).predict(floats)
    for frame in (as_objects, as_decimals):  # not one level per value
        predicted = small(RegularizedMLPRegressor).fit(frame, y).predict(frame)
        np.testing.assert_array_equal(predicted, expected)
    with pytest.raises(ValueError, match=r"\['x'\] hold \['complex \(as objects\)'\]"):
        small(RegularizedMLPRegressor).fit(floats.assign(x=x.astype(object) + 1j), y)
    # Beside a nullable column with pd.NA and a category, the table is read as objects:
    # its missing values are still found, as with NaN in floats.
    counts = pd.array([1, None, 3, 4] * 30, dtype="Int64")
    nullable = as_decimals.assign(n=counts)
    plain = floats.assign(n=np.array([1, np.nan, 3, 4] * 30))
    fitted = small(RegularizedMLPRegressor).fit(nullable, y)
    np.testing.assert_array_equal(fitted.network_inputs(nullable), fitted.network_inputs(plain))
    np.testing.assert_array_equal(
        fitted.predict(nullable), small(RegularizedMLPRegressor).fit(plain, y).predict(plain)
    )


def test_a_column_that_never_varied_in_training_has_no_importance():
    from sklearn.feature_selection import SelectFromModel

    rng = np.random.default_rng(0)
    signal = rng.normal(size=150)
    frame = pd.DataFrame({
        "signal": signal, "empty": np.nan, "constant": 3.0, "one_level": "a",
        "noise": rng.normal(size=150),
    })  # fmt: skip
    y = (signal > 0).astype(int)
    importances = small(max_iter=10).fit(frame, y).feature_importances_
    np.testing.assert_array_equal(importances[1:4], 0.0)
    assert importances.sum() == pytest.approx(1.0)
    kept = SelectFromModel(small(max_iter=10)).fit(frame, y).get_feature_names_out()
    assert set(kept) <= {"signal", "noise"}


@pytest.mark.parametrize("embedding", [None, "periodic", "piecewise_linear"])
def test_a_column_of_one_value_or_missing_counts_its_missing_indicator_only(embedding):
    rng = np.random.default_rng(0)
    signal = rng.normal(size=150)
    site = np.where(signal > 1, np.nan, 2.0)  # one value; missing where the label is 1
    frame = pd.DataFrame({"signal": signal, "site": site, "noise": rng.normal(size=150)})
    est = small(max_iter=10, numeric_embedding=embedding).fit(frame, (signal > 1).astype(int))
    kernel = est.model_.get_layer("hidden_0").get_weights()[0]
    inputs = est.network_inputs(frame)
    # the first layer's inputs that vary with the site column: its indicator's only
    varied = np.ptp(est.network_inputs(frame.assign(site=np.nan)) - inputs, axis=0) > 0
    mixed = est._fitted.key.network.front
    rows = mixed.sources() if mixed is not None else np.arange(inputs.shape[1])
    norms = np.abs(kernel).sum(axis=1)
    site_norm = norms[np.isin(rows, np.flatnonzero(varied))].sum()
    signal_norm = norms[est._fitted.inputs.sources_[rows] == 0].sum()
    importances = est.feature_importances_
    assert varied.sum() == 1 and importances[1] > 0
    np.testing.assert_allclose(importances[1] / importances[0], site_norm / signal_norm,
                               rtol=1e-5)  # fmt: skip


@pytest.mark.parametrize(
    "first_x, message, quiet_x",
    [
        ([np.nan] * 20, "were missing in every row", [np.nan] * 20),  # still missing
        ([1.0] * 20, "held one value in every row", [1.0, np.nan] * 10),  # the same, or missing
    ],
)
def test_a_continued_fit_warns_of_a_column_its_first_batch_read_as_one_value(
    first_x, message, quiet_x
):
    first = pd.DataFrame({"x": first_x, "z": np.arange(20.0)})
    later = first.assign(x=np.arange(20.0))
    y = np.arange(20) % 2
    clf = small().partial_fit(first, y, classes=[0, 1])
    with pytest.warns(UserWarning, match=r"Column\(s\) \['x'\] " + message):
        clf.partial_fit(later, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.partial_fit(first.assign(x=quiet_x), y)  # nothing to say


@pytest.mark.parametrize(
    "values", [[[1, 2], [3]] * 30, [1, "a"] * 30], ids=["lists", "numbers-and-strings"]
)
def test_a_column_of_mixed_kinds_is_named(values):
    frame = pd.DataFrame({"x": np.arange(60.0), "odd": pd.Series(values, dtype=object)})
    with pytest.raises(ValueError, match=r"Column\(s\) \['odd'\] mix numbers and strings"):
        small().fit(frame, np.arange(60) % 2)


def test_numbers_mixed_with_decimals_are_numeric_and_an_array_of_text_reads_as_columns():
    from decimal import Decimal

    frame = pd.DataFrame({"x": np.arange(40.0) / 10, "city": ["a", "b"] * 20})
    y = np.arange(40) % 2
    mixed = frame.assign(x=[Decimal(str(v)) if i % 2 else v for i, v in enumerate(frame.x)])
    clf = small().fit(frame, y)
    np.testing.assert_array_equal(small().fit(mixed, y).predict_proba(frame),
                                  clf.predict_proba(frame))  # fmt: skip
    text = np.array([[0.3, "a"], [1.2, "b"]])  # NumPy's "<U32": the numbers as text
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        np.testing.assert_array_equal(clf.predict(text), clf.predict(text.astype(object)))


@pytest.mark.subprocess
def test_a_saved_keras_model_loads_in_a_new_process_and_reads_network_inputs(
    table, tmp_path, run_python
):
    # keras.models.load_model alone failed in a new process (skreg's layers unregistered),
    # and model_ fed X gave other numbers than predict_proba, silently. On JAX before 0.6,
    # Keras' predict in batches then overwrote the loaded variables after its first steps:
    # predicting twice, in many batches, is what caught it.
    X, y = table
    clf = RegularizedMLPClassifier((8,), max_iter=3, random_state=0).fit(X, y)
    path = tmp_path / "model.keras"
    clf.model_.save(path)
    inputs = clf.network_inputs(X)
    assert inputs.shape == (len(X), clf.model_.input_shape[1]) and inputs.dtype == np.float32
    for _ in range(2):
        np.testing.assert_allclose(
            clf.model_.predict(inputs, batch_size=8, verbose=0), clf.predict_proba(X),
            rtol=1e-5, atol=1e-6,
        )  # fmt: skip
    np.save(tmp_path / "inputs.npy", inputs)
    code = f"""
        import json
        import numpy as np
        import skreg
        model = skreg.load_keras_model({str(path)!r})
        inputs = np.load({str(tmp_path / "inputs.npy")!r})
        outputs = [model.predict(inputs, batch_size=8, verbose=0) for _ in range(2)]
        print(json.dumps([o.tolist() for o in outputs]))
        """
    for loaded in run_python(code):
        np.testing.assert_allclose(loaded, clf.predict_proba(X), rtol=1e-5, atol=1e-6)


def test_the_regressors_keras_model_outputs_the_targets_it_learned(table):
    X, y = table
    target = 300.0 + 40.0 * X["size"].to_numpy()
    reg = RegularizedMLPRegressor((8,), max_iter=3, random_state=0).fit(X, target)
    scaled = reg.model_.predict(reg.network_inputs(X), verbose=0)[:, 0]
    predicted = reg.predict(X)
    # Standardized units: an affine map of predict's, far from the targets' own scale.
    slope, intercept = np.polyfit(scaled, predicted, 1)
    np.testing.assert_allclose(slope * scaled + intercept, predicted, rtol=1e-4)
    assert np.abs(scaled).max() < 20 < target.min()
