"""RegularizedMLPRegressor: target shapes and regression quality."""

import numpy as np
import pytest
from plain import plain
from sklearn.base import is_regressor
from sklearn.model_selection import KFold, check_cv, cross_val_score

from skreg import RegularizedMLPRegressor, RegularizedMLPRegressorCV


def small(**params):
    defaults = dict(hidden_layer_sizes=(32,), learning_rate=1e-2, max_iter=60, random_state=0)
    return RegularizedMLPRegressor(**{**plain(RegularizedMLPRegressor), **defaults, **params})


def test_is_regressor_and_cross_validates(regression_data):
    X, y = regression_data
    reg = small(max_iter=20)
    assert is_regressor(reg)
    assert isinstance(check_cv(3, y, classifier=False), KFold)
    assert cross_val_score(reg, X, y[:, 0], cv=3).mean() > 0.8


@pytest.mark.parametrize(
    "make",
    [
        lambda: small(max_iter=3, early_stopping=True, scoring="r2"),
        lambda: RegularizedMLPRegressorCV(
            (4,), l2s=2, dropouts=[0.0], cv=2, max_iter=2, random_state=0
        ),
    ],
    ids=["early_stopping_on_r2", "cv"],
)
def test_targets_given_as_numbers_in_text_are_read_as_the_numbers(regression_data, make):
    # As Ridge reads them; the scorer's check (a dummy regressor on the raw targets) and
    # the CV estimator's refused them, while the network learned the numbers.
    X, y = regression_data
    as_text = y[:, 0].round(3).astype(str)
    expected = make().fit(X, as_text.astype(np.float64)).predict(X)
    np.testing.assert_array_equal(make().fit(X, as_text).predict(X), expected)
    with pytest.raises(ValueError, match="could not convert string to float"):
        make().fit(X, np.array(["a", "b"] * (len(X) // 2)))


def test_multi_output_targets(regression_data):
    X, y = regression_data
    reg = small().fit(X, y)
    assert reg.n_outputs_ == 2
    assert reg.predict(X).shape == y.shape
    assert reg.score(X, y) > 0.9


def test_single_target_predictions_are_one_dimensional(regression_data):
    # A column vector: the same, with scikit-learn's warning (test_containers).
    X, y = regression_data
    reg = small(max_iter=5).fit(X, y[:, 0])
    assert reg.n_outputs_ == 1
    assert reg.predict(X).shape == (200,)


def test_partial_fit_rejects_a_different_number_of_targets(regression_data):
    X, y = regression_data
    reg = small().partial_fit(X, y)
    with pytest.raises(ValueError, match="targets"):
        reg.partial_fit(X, y[:, 0])


@pytest.mark.parametrize(
    ("first", "then"),
    [
        ({"loss": "squared_error"}, {"loss": "poisson"}),
        ({"loss": "poisson"}, {"loss": "squared_error"}),
        ({"target_scaling": True}, {"target_scaling": False}),
        ({"target_scaling": False}, {"target_scaling": True}),
    ],
)
@pytest.mark.parametrize("continued", ["warm_start", "partial_fit"])
def test_a_continued_fit_refuses_a_new_loss_or_target_scaling(
    regression_data, first, then, continued
):
    # The fitted network's targets were scaled for its loss: a Poisson loss continued on
    # standardized targets (below 0) trained silently, predicting no lower than the old mean.
    X, y = regression_data
    y = y[:, 0] - y[:, 0].min() + 1.0  # counts-like: every loss accepts it
    reg = small(max_iter=3, warm_start=continued == "warm_start", **first).fit(X, y)
    before = reg.predict(X)
    reg.set_params(**then)
    with pytest.raises(ValueError, match=f"change them \\({next(iter(then))} -> "):
        reg.fit(X, y) if continued == "warm_start" else reg.partial_fit(X, y)
    np.testing.assert_array_equal(reg.predict(X), before)


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_a_missing_target_read_as_objects_is_refused_as_missing(regression_data, loss):
    # A CSV column with a blank reads as objects holding None, which scikit-learn's check
    # lets through (it becomes NaN later): the fit said "Training diverged ... lower
    # learning_rate".
    import pandas as pd

    X, y = regression_data
    target = pd.Series([*np.abs(y[:-1, 0]), None], dtype=object)
    with pytest.raises(ValueError, match="Input y contains NaN"):
        small(loss=loss, max_iter=2).fit(X, target)
