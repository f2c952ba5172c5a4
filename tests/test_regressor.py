"""RegularizedMLPRegressor: target shapes and regression quality."""

import pytest
from plain import plain
from sklearn.base import is_regressor
from sklearn.model_selection import KFold, check_cv, cross_val_score

from skreg import RegularizedMLPRegressor


def small(**params):
    defaults = dict(hidden_layer_sizes=(32,), learning_rate=1e-2, max_iter=60, random_state=0)
    return RegularizedMLPRegressor(**{**plain(RegularizedMLPRegressor), **defaults, **params})


def test_is_regressor_and_cross_validates(regression_data):
    X, y = regression_data
    reg = small(max_iter=20)
    assert is_regressor(reg)
    assert isinstance(check_cv(3, y, classifier=False), KFold)
    assert cross_val_score(reg, X, y[:, 0], cv=3).mean() > 0.8


def test_multi_output_targets(regression_data):
    X, y = regression_data
    reg = small().fit(X, y)
    assert reg.n_outputs_ == 2
    assert reg.predict(X).shape == y.shape
    assert reg.score(X, y) > 0.9


@pytest.mark.parametrize("shape", [(200,), (200, 1)])
def test_single_target_predictions_are_one_dimensional(regression_data, shape):
    X, y = regression_data
    reg = small(max_iter=5).fit(X, y[:, 0].reshape(shape))
    assert reg.n_outputs_ == 1
    assert reg.predict(X).shape == (200,)


def test_partial_fit_rejects_a_different_number_of_targets(regression_data):
    X, y = regression_data
    reg = small().partial_fit(X, y)
    with pytest.raises(ValueError, match="targets"):
        reg.partial_fit(X, y[:, 0])
