"""Learning-rate schedules: each follows its reference, runs in one compiled program, and
carries over partial_fit and warm_start as documented."""

import warnings

import numpy as np
import pytest
from plain import plain
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier
from sklearn.neural_network._stochastic_optimizers import SGDOptimizer

import skreg
from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor


def small(**params):
    params = {
        **plain(RegularizedMLPClassifier),
        "learning_rate": 1e-2,
        "random_state": 0,
        **params,
    }
    return RegularizedMLPClassifier((8,), **params)


def test_invscaling_follows_scikit_learns_schedule_over_the_training_rows(iris):
    X, y = iris
    clf = small(learning_rate_schedule="invscaling", power_t=0.3, max_iter=6)
    clf.set_params(early_stopping=True, validation_fraction=0.2).fit(X, y)
    n_train = len(y) - 30  # the early-stopping rows are not training rows
    reference = SGDOptimizer(
        [np.zeros(1)], learning_rate_init=1e-2, lr_schedule="invscaling", momentum=0.0,
        power_t=0.3,
    )  # fmt: skip
    rates = []
    for epoch in range(6):
        rates.append(reference.learning_rate)
        reference.iteration_ends((epoch + 1) * n_train)
    np.testing.assert_allclose(clf.history_["learning_rate"], rates, rtol=1e-5)
    assert clf.t_ == 6 * n_train


@pytest.mark.parametrize("early_stopping", [False, True])
def test_t_counts_the_training_rows_as_scikit_learn_does(iris, early_stopping):
    X, y = iris
    params = dict(max_iter=4, early_stopping=early_stopping, n_iter_no_change=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference = MLPClassifier((8,), solver="sgd", random_state=0, **params).fit(X, y)
    assert small(**params).fit(X, y).t_ == reference.t_


def test_cosine_follows_keras_cosine_decay(iris):
    import keras

    X, y = iris
    clf = small(learning_rate_schedule="cosine", max_iter=7).fit(X, y)
    decay = keras.optimizers.schedules.CosineDecay(1e-2, decay_steps=7)
    rates = [float(keras.ops.convert_to_numpy(decay(step))) for step in range(7)]
    np.testing.assert_allclose(clf.history_["learning_rate"], rates, rtol=1e-5)


def test_adaptive_divides_by_five_after_n_iter_no_change_epochs_without_progress(iris):
    X, y = iris
    # tol=0.02 on this loss curve makes some epochs count as progress and others not.
    clf = small(learning_rate_schedule="adaptive", n_iter_no_change=2, tol=0.02, max_iter=30)
    clf.fit(X, y)
    rates, losses = np.array(clf.history_["learning_rate"]), clf.history_["loss"]
    # The documented rule, applied to the recorded training losses.
    expected, rate, best, bad = [], 1e-2, np.inf, 0
    for loss in losses:
        expected.append(rate)
        bad = 0 if loss < best - 0.02 else bad + 1
        best = min(best, loss)
        if bad >= 2:
            rate, bad = rate / 5, 0
    np.testing.assert_allclose(rates, expected, rtol=1e-5)
    assert 1e-2 > rates[-1]  # the rule fired on this curve


def test_power_t_zero_is_the_constant_schedule_bitwise(iris):
    X, y = iris
    constant = small(max_iter=5).fit(X, y)
    flat = small(learning_rate_schedule="invscaling", power_t=0.0, max_iter=5).fit(X, y)
    np.testing.assert_array_equal(constant.predict_proba(X), flat.predict_proba(X))
    assert constant.history_["learning_rate"] == pytest.approx([1e-2] * 5)


def test_a_decaying_schedule_takes_smaller_steps_late_in_training(iris):
    X, y = iris

    def last_step(schedule):
        clf = small(learning_rate_schedule=schedule, max_iter=9).fit(X, y)
        before = [w.copy() for w in clf.coefs_]
        # One more epoch, at the schedule's last rate: a partial_fit continues the schedule.
        clf.partial_fit(X, y)
        return sum(np.abs(a - b).sum() for a, b in zip(clf.coefs_, before))

    assert last_step("cosine") < last_step("constant") / 5


def test_a_grid_over_schedules_compiles_nothing_new(iris):
    X, y = iris
    small(max_iter=2).fit(X, y)
    before = skreg.program_cache_info().epoch_compiles
    grid = {
        "learning_rate_schedule": ["constant", "invscaling", "adaptive", "cosine"],
        "power_t": [0.25, 0.5],
    }
    search = GridSearchCV(small(max_iter=2), grid, cv=2).fit(X, y)
    assert len(search.cv_results_["params"]) == 8
    assert skreg.program_cache_info().epoch_compiles == before


def test_partial_fit_continues_the_schedule_where_fit_would(iris):
    X, y = iris
    fitted = small(learning_rate_schedule="cosine", max_iter=4, shuffle=False).fit(X, y)
    stepwise = small(learning_rate_schedule="cosine", max_iter=4, shuffle=False)
    for _ in range(6):
        stepwise.partial_fit(X, y, classes=np.unique(y))
    rates = stepwise.history_["learning_rate"]
    np.testing.assert_allclose(rates[:4], fitted.history_["learning_rate"], rtol=1e-6)
    assert rates[4] == rates[5] == rates[3]  # past max_iter, the last rate stays
    assert stepwise.t_ == 6 * len(y)


def test_warm_start_runs_the_schedule_again_and_keeps_the_rows_seen(iris):
    X, y = iris
    clf = small(learning_rate_schedule="cosine", max_iter=3, warm_start=True).fit(X, y)
    first = list(clf.history_["learning_rate"])
    clf.fit(X, y)
    np.testing.assert_allclose(clf.history_["learning_rate"], first * 2, rtol=1e-6)
    inverse = small(learning_rate_schedule="invscaling", max_iter=2, warm_start=True)
    inverse.fit(X, y).fit(X, y)
    expected = [1e-2 / (k * len(y) + 1) ** 0.5 for k in range(4)]
    np.testing.assert_allclose(inverse.history_["learning_rate"], expected, rtol=1e-5)
    assert inverse.t_ == 4 * len(y)


def test_the_regressor_schedules_too(regression_data):
    X, y = regression_data
    reg = RegularizedMLPRegressor((8,), learning_rate_schedule="cosine", max_iter=3,
                                  random_state=0).fit(X, y)  # fmt: skip
    assert reg.history_["learning_rate"][0] > reg.history_["learning_rate"][-1] > 0


def test_an_unknown_schedule_is_refused(iris):
    X, y = iris
    with pytest.raises(ValueError, match="learning_rate_schedule"):
        small(learning_rate_schedule="step").fit(X, y)
