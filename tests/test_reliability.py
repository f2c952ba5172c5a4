"""Bad input and bad training get a clear error, and leave a fitted estimator as it was.

Each case here was found by probing the estimators as a user would (issue 11).
"""

import warnings

import numpy as np
import pytest
from plain import plain
from sklearn.base import is_regressor
from sklearn.neural_network import MLPClassifier

import skreg
from skreg import (
    RegularizedMLPClassifier,
    RegularizedMLPClassifierCV,
    RegularizedMLPRegressor,
    RegularizedMLPRegressorCV,
)


def small(estimator=RegularizedMLPClassifier, **params):
    return estimator((8,), **{**plain(estimator), "max_iter": 5, "random_state": 0, **params})


def test_a_huge_learning_rate_raises_instead_of_replacing_a_good_model(iris):
    # The loss explodes (0.87 -> 1.5e12) while accuracy stays at 0.97 on TensorFlow; on JAX,
    # whose cross-entropy used to clip probabilities, it sat at 7.3 at chance accuracy.
    X, y = iris
    clf = small(max_iter=30).set_params(hidden_layer_sizes=(16,)).fit(X, y)
    before = clf.predict_proba(X)
    clf.set_params(learning_rate=1e6)
    says = r"diverged: the training loss grew from 0.87.*[Ll]ower learning_rate \(now 1e\+06\)"
    with pytest.raises(FloatingPointError, match=says):
        clf.fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), before)


@pytest.mark.parametrize("estimator", [RegularizedMLPClassifier, RegularizedMLPRegressor])
def test_features_that_overflow_the_network_raise_naming_the_features(iris, estimator):
    X, y = iris
    with pytest.raises(FloatingPointError, match="features reach 3.09e\\+30: scale them"):
        small(estimator).fit(X * 1e30, y)


def test_a_target_whose_square_overflows_raises_naming_the_target(iris):
    X, y = iris
    with pytest.raises(FloatingPointError, match="target reaches 2e\\+20: scale it"):
        small(RegularizedMLPRegressor).fit(X, y * 1e20)
    with pytest.raises(ValueError, match="y reaches 2e\\+39, beyond the range of float32"):
        small(RegularizedMLPRegressor).fit(X, y * 1e39)


def test_a_negative_sample_weight_is_refused(iris):
    X, y = iris
    weights = np.ones(len(y))
    weights[0] = -1
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        small().fit(X, y, sample_weight=weights)


@pytest.mark.parametrize(
    ("class_weight", "message"),
    [
        ({0: 0, 1: 0, 2: 0}, "sample_weight times class_weight"),
        ({0: np.nan, 1: 1, 2: 1}, "finite, non-negative weight"),
        ({0: -1.0, 1: 1, 2: 1}, "finite, non-negative weight"),
    ],
)
def test_a_class_weight_that_leaves_nothing_to_learn_is_refused(iris, class_weight, message):
    X, y = iris
    with pytest.raises(ValueError, match=message):
        small(class_weight=class_weight).fit(X, y)


def test_early_stopping_splits_the_rows_of_non_zero_weight(iris):
    # A 50% split of 150 rows of which one weighs: before, each seed left the training rows
    # or the validation rows (whose loss is a weighted mean) without weight, and refused.
    X, y = iris
    weights = np.zeros(len(y))
    weights[0] = 1.0
    clf = small(early_stopping=True, validation_fraction=0.5)
    with pytest.raises(ValueError, match="cannot split 1 rows of non-zero weight with valid"):
        clf.fit(X, y, sample_weight=weights)
    weights[::10] = 1.0  # 15 rows weigh: every seed splits them
    for seed in range(5):
        fitted = clf.set_params(random_state=seed).fit(X, y, sample_weight=weights)
        assert np.isfinite(fitted.validation_scores_).all()


def test_early_stopping_refuses_a_validation_set_of_one_row():
    # With 10 rows, 10% is one validation row: R2 is NaN every epoch, and early stopping
    # used to keep the first epoch silently. scikit-learn's MLPs refuse it too.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(10, 3))
    y = X.sum(axis=1)
    reg = small(RegularizedMLPRegressor, early_stopping=True, scoring="r2")
    with pytest.raises(ValueError, match="validation set would have 1 row.*validation_fraction"):
        reg.fit(X, y)
    assert not hasattr(reg, "n_iter_")


def test_a_scorer_returning_nan_stops_with_an_error_naming_scoring(iris):
    X, y = iris

    def nan_scorer(estimator, X, y):
        return float("nan")

    clf = small(early_stopping=True, scoring=nan_scorer)
    with pytest.raises(ValueError, match="cannot rank the epochs: scoring=.*gave nan at epoch 1"):
        clf.fit(X, y)


def test_a_constant_validation_score_warns(iris):
    X, y = iris

    def constant(estimator, X, y):
        return 1.0

    clf = small(early_stopping=True, scoring=constant, n_iter_no_change=3, max_iter=10)
    with pytest.warns(UserWarning, match="kept the weights of epoch 1") as caught:
        clf.fit(X, y)
    assert clf.best_epoch_ == 1 and clf.n_iter_ == 4
    # It points at the line that called fit (it pointed into skreg's engine).
    assert [w.filename for w in caught] == [__file__]


def test_many_classes_of_two_rows_fit_with_early_stopping_as_in_scikit_learn():
    # Stratifying 1000 classes of 2 rows into a 10% split is impossible; the split falls back
    # to a plain random one, as MLPClassifier's always is for more than two classes.
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(1000), 2)
    X = rng.normal(size=(2000, 3)) + y[:, None] / 1000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        MLPClassifier((8,), max_iter=2, early_stopping=True).fit(X, y)
    clf = RegularizedMLPClassifier((8,), max_iter=2, early_stopping=True, random_state=0)
    assert clf.fit(X, y).n_iter_ >= 1
    assert clf.predict_proba(X[:3]).shape == (3, 1000)


@pytest.mark.parametrize(
    ("estimator", "scoring", "message"),
    [
        (RegularizedMLPRegressor, "accuracy", "continuous is not supported"),
        (RegularizedMLPClassifier, "roc_auc", "multi_class"),
        (RegularizedMLPRegressorCV, "accuracy", "continuous is not supported"),
        (RegularizedMLPClassifierCV, "roc_auc", "multi_class"),
    ],
)
def test_a_scoring_that_does_not_fit_the_task_fails_before_training(
    iris, estimator, scoring, message
):
    # The base estimators score for early stopping, the CV estimators to choose a candidate.
    cv = estimator in (RegularizedMLPClassifierCV, RegularizedMLPRegressorCV)
    model = estimator((8,), max_iter=5, random_state=0, scoring=scoring,
                      **({"cv": 2} if cv else {"early_stopping": True}))  # fmt: skip
    X, y = iris
    y = X[:, 0] if is_regressor(model) else y
    before = skreg.program_cache_info()
    with pytest.raises(ValueError, match=f"scoring='{scoring}' cannot score.*{message}"):
        model.fit(X, y)
    after = skreg.program_cache_info()  # nothing trained
    assert not hasattr(model, "n_iter_")
    assert (after.hits, after.misses) == (before.hits, before.misses)


def test_predictions_beyond_float64_raise_instead_of_returning_inf():
    # Finite targets near float64's largest: standardized, the network's outputs scaled back
    # overflowed to inf, which predict returned.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = np.r_[0.0, np.full(39, 1.7e308)]
    reg = RegularizedMLPRegressor((8,), max_iter=10, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="predictions overflow float64.*Divide the target"):
        reg.predict(X)


def test_inputs_that_overflow_at_predict_time_raise_instead_of_a_nan_probability(iris):
    X, y = iris
    clf = small().fit(X, y)
    huge = np.full((3, 4), np.finfo(np.float32).max)
    with pytest.raises(ValueError, match="not finite for 3 of 3 rows.*Scale the inputs"):
        clf.predict(huge)
    reg = small(RegularizedMLPRegressor).fit(X, y)
    with pytest.raises(ValueError, match="not finite"):
        reg.predict(huge)


def test_switching_on_early_stopping_in_a_warm_start_keeps_every_curve_full_length(iris):
    X, y = iris
    clf = small(warm_start=True).fit(X, y)
    clf.set_params(early_stopping=True, n_iter_no_change=2)
    clf.fit(X, y)
    assert len(clf.loss_curve_) == clf.n_iter_ > 5
    assert {k: len(v) for k, v in clf.history_.items()} == {
        "loss": clf.n_iter_,
        "learning_rate": clf.n_iter_,
        "val_loss": clf.n_iter_,
    }
    assert np.isnan(clf.history_["val_loss"][:5]).all()
    assert np.isfinite(clf.history_["val_loss"][5:]).all()
    assert clf.loss_curve_[:5] == small().fit(X, y).loss_curve_


def test_a_row_predicts_the_same_bits_alone_or_among_many(iris):
    X, y = iris
    clf = RegularizedMLPClassifier((64,), max_iter=5, random_state=0).fit(X, y)
    many = np.tile(X, (61, 1))  # 9150 rows: more than any single chunk
    alone = clf.predict_proba(X[:1])
    np.testing.assert_array_equal(clf.predict_proba(many)[:1], alone)
    np.testing.assert_array_equal(clf.predict_proba(many)[-150:-149], alone)
    np.testing.assert_array_equal(clf.predict_proba(X[:70])[:1], alone)


BAD_FITS = {
    "huge learning rate": (dict(learning_rate=1e6, max_iter=30), lambda X, y: (X, y, None)),
    "negative weight": ({}, lambda X, y: (X, y, -np.ones(len(y)))),
    "one validation row": (dict(early_stopping=True), lambda X, y: (X[::15], y[::15], None)),
    "overflowing features": ({}, lambda X, y: (X * 1e30, y, None)),
    "unknown label": ({}, lambda X, y: (X, np.where(y == 2, 7, y), None)),
}


BAD_FITS_SAY = {
    "huge learning rate": "diverged",
    "negative weight": "Negative values",
    "one validation row": "validation set would have 1 row",
    "overflowing features": "features reach",
    "unknown label": "labels not in classes_",
}


@pytest.mark.parametrize("case", list(BAD_FITS))
def test_a_failed_refit_leaves_the_fitted_estimator_unchanged(iris, case):
    X, y = iris
    params, make = BAD_FITS[case]
    clf = small(warm_start=case == "unknown label").fit(X, y)
    before = (clf.predict_proba(X), list(clf.loss_curve_), clf.n_iter_)
    clf.set_params(**params)
    with pytest.raises((ValueError, FloatingPointError), match=BAD_FITS_SAY[case]):
        X_bad, y_bad, weights = make(X, y)
        clf.fit(X_bad, y_bad, sample_weight=weights)
    np.testing.assert_array_equal(clf.predict_proba(X), before[0])
    assert (list(clf.loss_curve_), clf.n_iter_) == before[1:]


def test_a_penalty_beyond_float32_diverges_without_numpy_warnings(iris):
    X, y = iris
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no "overflow encountered in cast"
        with pytest.raises(FloatingPointError, match="diverged"):
            small(l2=1e300).fit(X, y)


def test_fits_in_threads_equal_fits_in_a_row(iris):
    # The programs are shared by threads: a TensorFlow program runs one fit at a time under
    # its lock, and JAX programs keep no state.
    from concurrent.futures import ThreadPoolExecutor

    X, y = iris

    def fit(seed):
        model = RegularizedMLPClassifier((8,), dropout=0.2, max_iter=5, random_state=seed)
        return model.fit(X, y).predict_proba(X)

    in_a_row = [fit(seed) for seed in range(4)]
    with ThreadPoolExecutor(2) as pool:
        in_threads = list(pool.map(fit, range(4)))
    for serial, threaded in zip(in_a_row, in_threads):
        np.testing.assert_array_equal(threaded, serial)


def test_an_interrupted_refit_leaves_the_fitted_estimator_unchanged(iris):
    X, y = iris
    clf = small().fit(X, y)
    before = clf.predict_proba(X)
    calls = []

    def interrupt_at_epoch_three(estimator, X, y):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return 0.5

    clf.set_params(early_stopping=True, scoring=interrupt_at_epoch_three, max_iter=10)
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    assert len(calls) == 3
    np.testing.assert_array_equal(clf.predict_proba(X), before)
    assert clf.validation_scores_ is None and clf.n_iter_ == 5


def test_weights_that_are_not_finite_raise_even_when_the_loss_is(iris, monkeypatch):
    from skreg import _engine

    X, y = iris
    clf = small().fit(X, y)
    before = clf.predict_proba(X)
    real_fit = _engine.fit

    def fit_leaving_an_inf_weight(request):
        outcome = real_fit(request)
        outcome.network.trainable[0][0, 0] = np.inf
        return outcome

    monkeypatch.setattr(_engine, "fit", fit_leaving_an_inf_weight)
    with pytest.raises(FloatingPointError, match="trained weights are not finite"):
        clf.fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), before)


@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
def test_divergence_is_judged_across_the_calls_of_a_run(iris, how):
    # Each call's one epoch used to be compared with itself only: 15 partial_fit calls at
    # learning_rate=1e6 reached a loss of 3e12 without a word.
    X, y = iris
    clf = RegularizedMLPClassifier((8,), max_iter=1, warm_start=True, random_state=0)

    def step():
        if how == "partial_fit":
            clf.partial_fit(X, y, classes=[0, 1, 2])
        else:
            clf.fit(X, y)

    step()  # a good start, the run's first epoch
    before = clf.predict_proba(X)
    clf.set_params(learning_rate=1e6)
    says = (
        r"grew from 1\.\d+ at the first epoch to .* after the epoch's last step \(this call "
        r"started from \d\.\d+ on its rows\)\. Lower learning"
    )
    with pytest.raises(FloatingPointError, match=says):
        for _ in range(15):
            step()
    # The failed call changed nothing.
    assert clf.n_iter_ == 1
    np.testing.assert_array_equal(clf.predict_proba(X), before)


@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
def test_a_stream_whose_targets_drift_away_and_back_is_no_divergence(how):
    # The batch that came back started its call far from the model (a loss 2,000 times the
    # run's first) and trained it down; it was refused as "Training diverged", where
    # scikit-learn's MLPRegressor.partial_fit continues.
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(100, 3))
    low, high = X[:, 0] + 0.1 * rng.normal(size=100), 100 + 10 * X[:, 0]
    reg = RegularizedMLPRegressor((8,), learning_rate=1e-2, max_iter=1, random_state=0)
    reg.set_params(warm_start=how == "warm_start", early_stopping=False)
    step = reg.partial_fit if how == "partial_fit" else reg.fit
    step(X, low)
    first = reg.loss_curve_[0]
    if how == "partial_fit":
        for _ in range(60):
            step(X, high)
    else:
        reg.set_params(max_iter=300).fit(X, high)
        reg.set_params(max_iter=1)
    far = ((reg.predict(X) - low) / reg._fitted.target.scale) ** 2
    assert far.mean() > 1e3 * first  # the case: beyond the run's bound
    before = reg.predict(X)
    step(X, low)  # raised FloatingPointError
    assert reg.n_iter_ == (62 if how == "partial_fit" else 302)
    assert not np.array_equal(reg.predict(X), before)


@pytest.mark.parametrize("cls", [RegularizedMLPClassifier, RegularizedMLPRegressor])
def test_the_loss_after_a_one_epoch_calls_last_step_is_the_objective_on_its_first_rows(iris, cls):
    # The compiled program computes it (it used to be computed eagerly, half of a small
    # partial_fit call's time): the same objective, penalty and label smoothing included.
    from skreg import _engine
    from skreg._specs import PROBE_ROWS

    X, y = iris
    X = np.repeat(X, 5, axis=0)[: PROBE_ROWS + 100]  # more rows than the probe reads
    y = np.repeat(y, 5)[: PROBE_ROWS + 100].astype(float)
    est = cls((8,), max_iter=1, l2=1e-2, early_stopping=False, random_state=0)
    seen = {}
    original = skreg._base.check_trained

    def record(request, outcome):
        seen["request"], seen["outcome"] = request, outcome
        return original(request, outcome)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(skreg._base, "check_trained", record)
        est.fit(X, y)
    request, outcome = seen["request"], seen["outcome"]
    rows = request.train_rows[:PROBE_ROWS]
    eager = _engine.loss(
        request.key, outcome.network, request.X[rows], request.Y[rows],
        request.train_weights[:PROBE_ROWS], request.penalty, request.label_smoothing,
    )  # fmt: skip
    assert outcome.probe_loss == pytest.approx(eager, rel=1e-5)


@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
def test_later_batches_with_larger_targets_are_no_divergence(how):
    # Rows arriving sorted by target: the target scaling is the first batch's, so a later
    # batch starts with a loss hundreds of times the first epoch's, at any learning rate.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = np.exp(1.5 * X[:, 0]) * 10
    reg = RegularizedMLPRegressor((8,), max_iter=1, warm_start=True, random_state=0)
    chunks = np.array_split(np.argsort(y), 10)
    for rows in chunks:
        reg.partial_fit(X[rows], y[rows]) if how == "partial_fit" else reg.fit(X[rows], y[rows])
    assert reg.n_iter_ == 10
    assert max(reg.history_["loss"]) > 1e3 * reg.history_["loss"][0]
    # A real divergence on the same batches is still caught.
    reg = RegularizedMLPRegressor((8,), max_iter=1, random_state=0).partial_fit(X, y)
    reg.set_params(learning_rate=1e6)
    with pytest.raises(FloatingPointError, match="Training diverged"):
        for _ in range(15):
            reg.partial_fit(X[chunks[-1]], y[chunks[-1]])


def test_a_single_step_that_diverges_raises(iris):
    X, y = iris
    clf = small(learning_rate=1e6, max_iter=1)
    with pytest.raises(FloatingPointError, match="grew from 1.39\\d* at the first epoch to"):
        clf.fit(X, y)


def test_a_healthy_run_of_single_epochs_trains_on(iris):
    X, y = iris
    clf = small(learning_rate=1e-2)
    for _ in range(30):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    assert clf.n_iter_ == 30 and clf.score(X, y) > 0.8


def test_an_extreme_penalty_is_named_when_training_diverges(iris):
    X, y = iris
    with pytest.raises(
        FloatingPointError, match="penalty is extreme.*l2=1e\\+30.*lower l1 and l2"
    ):
        small(l2=1e30).fit(X, y)


def test_adams_beta_2_near_0_is_named_when_training_diverges():
    # The advice was to lower learning_rate, which does not help: with the squared
    # gradients averaged over one step, a gradient falling to 0 still makes a large step.
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = 3 * X[:, 0] - X[:, 1]
    reg = RegularizedMLPRegressor((4,), beta_2=0.0, batch_size=1, max_iter=3, random_state=0)
    with pytest.raises(FloatingPointError, match="beta_2=0 averages .* about 1 step.* 0.9 or"):
        reg.fit(X, y)


def test_poisson_divergence_advice_keeps_the_target_positive(iris):
    X, y = iris
    reg = small(RegularizedMLPRegressor, loss="poisson", learning_rate=1e3)
    with pytest.raises(FloatingPointError) as error:
        reg.fit(X, (y + 1) * 1e4)
    assert "divide it by a positive constant" in str(error.value)
    assert "StandardScaler" not in str(error.value)
    with pytest.raises(ValueError, match="divide it by a positive constant"):
        reg.fit(X, y * 1e39)


def _in_a_new_thread(task):
    """``task()`` run in a thread of its own, where Keras' dtype policy starts unset (as
    in a new process) and follows floatx; returns its result or raises its error."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(task).result()


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("floatx", "float64"),
        ("floatx", "float16"),
        ("floatx", "bfloat16"),
        ("dtype_policy", "mixed_float16"),
        ("dtype_policy", "mixed_bfloat16"),
    ],
)
def test_keras_global_float_type_or_policy_does_not_reach_skreg(iris, setting, value):
    # Set for the user's own models, they reached skreg's: on TensorFlow a new network's
    # fit failed inside Keras (and its broken program stayed in the disk cache, for every
    # later process); on JAX it trained in float16 or mixed precision, other predictions.
    import keras

    X, y = iris

    def fit():
        model = RegularizedMLPClassifier((7, 3), dropout=0.1, max_iter=3, random_state=0)
        return model.fit(X, y)

    def fit_under_setting():
        getattr(keras.config, f"set_{setting}")(value)
        try:
            model = fit()
            exported = model.model_  # under mixed_float16 a LossScaleOptimizer refused it
            kept = keras.config.floatx(), keras.config.dtype_policy().name
            return model.predict_proba(X), model.network_inputs(X), exported, kept
        finally:
            keras.config.set_floatx("float32")

    proba, inputs, exported, kept = _in_a_new_thread(fit_under_setting)
    assert kept == ((value, value) if setting == "floatx" else ("float32", value))
    reference = fit().predict_proba(X)
    np.testing.assert_array_equal(proba, reference)
    assert {variable.dtype for variable in exported.weights} == {"float32"}
    np.testing.assert_allclose(exported.predict(inputs, verbose=0), reference, atol=1e-6)


@pytest.mark.skipif(skreg._engine.backend_name() != "jax", reason="JAX's own settings")
@pytest.mark.parametrize("flag", ["jax_debug_nans", "jax_disable_jit"])
def test_jax_debugging_settings_for_ones_own_code_do_not_stop_a_fit(iris, flag):
    # jax_debug_nans failed every fit on a NaN skreg's program kept in an epoch record it
    # never read; jax_disable_jit failed every fit ("not supported in the AOT path").
    import jax

    X, y = iris
    reference = small().fit(X, y).predict_proba(X)
    previous = getattr(jax.config, flag)
    jax.config.update(flag, True)
    try:
        proba = small().fit(X, y).predict_proba(X)
        assert getattr(jax.config, flag)  # the user's setting, kept
    finally:
        jax.config.update(flag, previous)
    np.testing.assert_array_equal(proba, reference)
