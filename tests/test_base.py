"""Behaviour shared by both estimators: seeds, persistence, penalties, dropout, warm start."""

import copy
import io
import os
import pickle
import random
import re
import subprocess
import sys
import textwrap
import warnings

import joblib
import keras
import numpy as np
import pytest
from plain import plain
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

import skreg
from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor


@pytest.fixture(params=["classifier", "regressor"])
def case(request, classification_data, regression_data):
    if request.param == "classifier":
        X, y = classification_data
        return RegularizedMLPClassifier, X, y, "predict_proba"
    X, y = regression_data
    return RegularizedMLPRegressor, X, y, "predict"


def make(cls, **params):
    defaults = dict(hidden_layer_sizes=(16,), learning_rate=1e-2, max_iter=10, random_state=0)
    return cls(**{**plain(cls), **defaults, **params})


def test_same_random_state_same_predictions_without_global_seeding(case):
    cls, X, y, method = case
    np_state, py_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    first = getattr(make(cls, dropout=0.2).fit(X, y), method)(X)
    second = getattr(make(cls, dropout=0.2).fit(X, y), method)(X)
    np.testing.assert_array_equal(first, second)
    assert random.getstate() == py_state
    after = np.random.get_state()  # noqa: NPY002
    assert after[0] == np_state[0] and np.array_equal(after[1], np_state[1])
    other = getattr(make(cls, dropout=0.2, random_state=1).fit(X, y), method)(X)
    assert not np.allclose(first, other)


@pytest.mark.slow
@pytest.mark.subprocess
def test_same_random_state_same_predictions_across_processes(classification_data, tmp_path):
    X, y = classification_data
    script = textwrap.dedent(
        """
        import os, sys, numpy as np
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        from skreg import RegularizedMLPClassifier
        data = np.load(sys.argv[1])
        X, y = data["X"], data["y"]
        clf = RegularizedMLPClassifier((16,), dropout=0.2, learning_rate=1e-2, max_iter=10,
                                       random_state=0).fit(X, y)
        sys.stdout.write(clf.predict_proba(X).tobytes().hex())
        """
    )
    np.savez(tmp_path / "data.npz", X=X, y=y)

    def fit_in_a_new_process(hash_seed):
        # Each process its own hash seed: nothing may depend on Python's hash randomization.
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        command = [sys.executable, "-c", script, str(tmp_path / "data.npz")]
        out = subprocess.run(command, capture_output=True, check=True, env=env).stdout
        return np.frombuffer(bytes.fromhex(out.decode()), dtype=np.float64).reshape(len(X), -1)

    # Fresh processes: on TensorFlow, whether a network runs on XLA depends on the networks
    # a process compiled before (program_cache_size), which the rounding follows.
    np.testing.assert_array_equal(fit_in_a_new_process("1"), fit_in_a_new_process("2"))


@pytest.mark.parametrize(
    "round_trip",
    [
        lambda est: pickle.loads(pickle.dumps(est)),
        lambda est: copy.deepcopy(est),
        lambda est: joblib.load(_joblib_dump(est)),
    ],
    ids=["pickle", "deepcopy", "joblib"],
)
def test_round_trips_give_identical_predictions(case, round_trip):
    cls, X, y, method = case
    est = make(cls, dropout=0.1, l2=1e-3).fit(X, y)
    restored = round_trip(est)
    np.testing.assert_array_equal(getattr(restored, method)(X), getattr(est, method)(X))
    assert restored.get_params() == est.get_params()
    # The restored estimator keeps training from where the original stopped.
    restored.partial_fit(X, y)
    assert restored.n_iter_ == est.n_iter_ + 1


def _joblib_dump(est):
    buffer = io.BytesIO()
    joblib.dump(est, buffer)
    buffer.seek(0)
    return buffer


def test_unfitted_clone_of_fitted_estimator_is_unfitted(case):
    cls, X, y, _ = case
    fitted = make(cls).fit(X, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(clone(fitted))


def _kernels(model):
    return [layer.kernel.numpy() for layer in model.layers if hasattr(layer, "kernel")]


@pytest.mark.parametrize("l1, l2", [(0.0, 1e-3), (1e-3, 0.0), (1e-3, 2e-3)])
def test_regularization_loss_equals_numpy_formula(case, l1, l2):
    cls, X, y, _ = case
    est = make(cls, hidden_layer_sizes=(8, 4), l1=l1, l2=l2).fit(X, y)
    kernels = _kernels(est.model_)
    assert len(kernels) == 3  # two hidden layers and the output layer
    expected = sum(l1 * np.abs(w).sum() + l2 * np.square(w).sum() for w in kernels)
    actual = float(keras.ops.sum(keras.ops.stack(est.model_.losses)))
    np.testing.assert_allclose(actual, expected, rtol=1e-5)


@pytest.mark.parametrize("l1, l2", [(0.0, 0.0), (2e-3, 0.0), (0.0, 5e-3), (1e-3, 1e-2)])
def test_validation_loss_is_the_data_loss_plus_the_numpy_penalty(classification_data, l1, l2):
    # One compiled engine serves every penalty: the coefficients must still reach the loss.
    from sklearn.metrics import log_loss

    X, y = classification_data
    seen = {}

    def record(estimator, X_val, y_val):
        seen["X"], seen["y"] = X_val, y_val
        return 0.0

    est = make(
        RegularizedMLPClassifier, l1=l1, l2=l2, early_stopping=True, scoring=record,
        max_iter=1, validation_fraction=0.3,
    ).fit(X, y)  # fmt: skip
    penalty = sum(l1 * np.abs(w).sum() + l2 * np.square(w).sum() for w in _kernels(est.model_))
    data_loss = log_loss(seen["y"], est.predict_proba(seen["X"]), labels=est.classes_)
    assert est.history_["val_loss"][0] == pytest.approx(data_loss + penalty, rel=1e-4)


def test_no_penalty_means_no_regularization_loss(case):
    cls, X, y, _ = case
    assert make(cls, max_iter=1).fit(X, y).model_.losses == []


def test_larger_l2_shrinks_weight_norm(case):
    cls, X, y, _ = case
    norms = [
        sum(np.square(w).sum() for w in _kernels(make(cls, l2=l2, max_iter=30).fit(X, y).model_))
        for l2 in (0.0, 1e-3, 1e-2)
    ]
    assert norms[0] > norms[1] > norms[2]


def test_larger_l1_zeroes_more_first_layer_weights(case):
    cls, X, y, _ = case

    def near_zero_share(l1):
        est = make(cls, hidden_layer_sizes=(32,), l1=l1, max_iter=60).fit(X, y)
        return np.mean(np.abs(_kernels(est.model_)[0]) < 1e-2)

    assert near_zero_share(1e-2) > near_zero_share(1e-4) + 0.2


def test_dropout_is_off_at_predict_time(case, numpy_forward):
    cls, X, y, method = case
    est = make(cls, dropout=0.5).fit(X, y)
    # The weights' own forward pass, computed without skreg or Keras: no unit dropped.
    np.testing.assert_allclose(getattr(est, method)(X), numpy_forward(est, X), rtol=1e-4,
                               atol=1e-6)  # fmt: skip
    inference = np.asarray(est.model_(X.astype(np.float32), training=False))
    training = np.asarray(est.model_(X.astype(np.float32), training=True))
    np.testing.assert_allclose(est._predict_outputs(X), inference, rtol=1e-5, atol=1e-6)
    assert not np.allclose(training, inference)


def test_one_dropout_rate_per_hidden_layer(case):
    cls, X, y, _ = case
    est = make(cls, hidden_layer_sizes=(16, 8), dropout=(0.5, 0.1), max_iter=1).fit(X, y)
    rates = [layer.rate for layer in est.model_.layers if isinstance(layer, keras.layers.Dropout)]
    assert rates == [0.5, 0.1]
    with pytest.raises(ValueError, match="one rate per hidden layer"):
        make(cls, hidden_layer_sizes=(16, 8), dropout=(0.5,)).fit(X, y)


def test_batch_normalization_adds_a_layer_per_hidden_layer(case):
    cls, X, y, _ = case
    est = make(cls, hidden_layer_sizes=(16, 8), batch_normalization=True, max_iter=3).fit(X, y)
    norms = [
        layer for layer in est.model_.layers if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert len(norms) == 2
    assert not np.allclose(norms[0].moving_mean.numpy(), 0.0)  # statistics were learned


def test_sample_weight_equals_repetition(case):
    cls, X, y, method = case
    X, y = X[:60], y[:60]
    weights = np.ones(len(X))
    weights[:10] = 2
    X_repeated = np.concatenate([X, X[:10]])
    y_repeated = np.concatenate([y, y[:10]])
    full_batch = dict(batch_size=200, shuffle=False, max_iter=20)
    weighted = make(cls, **full_batch).fit(X, y, sample_weight=weights)
    repeated = make(cls, **full_batch).fit(X_repeated, y_repeated)
    np.testing.assert_allclose(
        getattr(weighted, method)(X), getattr(repeated, method)(X), rtol=1e-4, atol=1e-5
    )


@pytest.mark.parametrize("factor", [2.0**-70, 1e-30, 1e30])
def test_weights_scaled_by_any_constant_train_the_same_model(case, factor):
    # Each batch's loss is a weighted mean: only the weights' ratios matter, also where
    # float32 cannot hold the weights themselves (a batch summing below 1e-12 lost its loss).
    cls, X, y, method = case
    weights = np.random.default_rng(0).uniform(0.5, 2.0, len(X))
    params = dict(max_iter=4, early_stopping=False)
    plain = getattr(make(cls, **params).fit(X, y, sample_weight=weights), method)(X)
    scaled = getattr(make(cls, **params).fit(X, y, sample_weight=weights * factor), method)(X)
    if factor == 2.0**-70:  # a power of two changes no digit: the same network, exactly
        np.testing.assert_array_equal(scaled, plain)
    np.testing.assert_allclose(scaled, plain, rtol=1e-4, atol=1e-5)


def test_rows_of_weight_zero_have_no_say_in_the_model(case):
    # Placeholder values in rows of weight zero (shifted columns, a new level, missing
    # values, huge targets) must not move the model through the columns' scaling, the
    # levels or the target scaling: the tabular defaults on a DataFrame.
    import pandas as pd

    cls, X, y, method = case
    table = pd.DataFrame(X[:80], columns=[f"x{i}" for i in range(X.shape[1])])
    table["kind"] = np.where(np.arange(80) % 2, "u", "v")
    y = y[:80]
    weights = np.ones(80)
    weights[:20] = 0
    placeholders = table.copy()
    placeholders.iloc[:20, 0] = np.nan
    placeholders.iloc[:20, 1] += 100.0
    placeholders.loc[:19, "kind"] = "only in rows of weight zero"
    y_placeholders = y.copy()
    y_placeholders[:20] = 1e5 if cls is RegularizedMLPRegressor else y[20:40]
    params = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    clean = getattr(cls(**params).fit(table, y, sample_weight=weights), method)(table[20:])
    fitted = cls(**params).fit(placeholders, y_placeholders, sample_weight=weights)
    np.testing.assert_array_equal(getattr(fitted, method)(table[20:]), clean)
    if cls is RegularizedMLPRegressor:  # the weighted moments: a weight of 2 counts twice
        twice = np.r_[np.ones(40), 2 * np.ones(40)]
        scale = cls(**{**params, "max_iter": 1}).fit(table, y, sample_weight=twice)._fitted.target
        repeated = np.r_[y, y[40:]]
        np.testing.assert_allclose(scale.shift, repeated.mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(scale.scale, repeated.std(axis=0), rtol=1e-12)


@pytest.mark.parametrize("augmentation", [None, skreg.Mixup(0.4), skreg.SwapNoise(0.3)])
def test_rows_of_weight_zero_train_as_dropped_rows(case, augmentation):
    # Mini-batches, an augmentation that mixes rows and the default early stopping: rows of
    # weight zero (other values, other targets) were drawn into other rows by Mixup and
    # SwapNoise, and filled the batches; the model is now the one trained without them.
    cls, X, y, method = case
    weights = np.where(np.arange(len(X)) % 3 == 0, 0.0, 1.0)
    kept = weights > 0
    X_placeholders, y_placeholders = X.copy(), y.copy()
    X_placeholders[~kept] += 5.0
    y_placeholders[~kept] = y[kept][: (~kept).sum()] if cls is RegularizedMLPClassifier else 1e3
    params = dict(max_iter=4, batch_size=16, augmentation=augmentation, early_stopping="auto")
    weighted = make(cls, **params).fit(X_placeholders, y_placeholders, sample_weight=weights)
    dropped = make(cls, **params).fit(X[kept], y[kept])
    np.testing.assert_array_equal(getattr(weighted, method)(X), getattr(dropped, method)(X))


def test_warm_start_continues_and_keeps_weights_when_penalty_changes(case):
    cls, X, y, _ = case
    est = make(cls, warm_start=True, max_iter=5).fit(X, y)
    est.fit(X, y)
    assert est.n_iter_ == 10 and len(est.loss_curve_) == 10
    steps = int(est.model_.optimizer.iterations)
    before = _kernels(est.model_)
    # New penalty and dropout: the same weights and optimizer state, trained further.
    est.set_params(l2=1e-3, dropout=0.2, max_iter=1, learning_rate=1e-12)
    est.fit(X, y)
    assert int(est.model_.optimizer.iterations) == steps + 1
    for old, new in zip(before, _kernels(est.model_)):
        np.testing.assert_allclose(old, new, atol=1e-6)
    before, params = est.predict(X), est.get_params()
    # New shapes (a parametric activation adds a slope per unit): refused, model kept.
    for change in ({"hidden_layer_sizes": (4,)}, {"activation": "prelu"}):
        with pytest.raises(ValueError, match="shapes of its weights"):
            est.set_params(**change).fit(X, y)
        est.set_params(**params)
        np.testing.assert_array_equal(est.predict(X), before)
    # New preparation of the columns the network reads: refused too, model kept.
    for change, said in (
        ({"numeric_embedding": "piecewise_linear"}, "(numeric_embedding: not 'piecewise_linear"),
        ({"numeric_scaling": "standard"}, "(numeric_scaling: "),
    ):
        with pytest.raises(ValueError, match=f"change their preparation {re.escape(said)}"):
            est.set_params(**change).fit(X, y)
        est.set_params(**params)
        np.testing.assert_array_equal(est.predict(X), before)


def test_a_failed_warm_fit_leaves_the_learning_rate_and_state_as_they_were(case):
    cls, X, y, method = case
    est = make(cls, warm_start=True, max_iter=3).fit(X, y)
    before = getattr(est, method)(X)
    learning_rate = float(est.model_.optimizer.learning_rate)

    def failing_scorer(estimator, X, y):
        raise RuntimeError("scorer failed")

    est.set_params(learning_rate=0.5, early_stopping=True, scoring=failing_scorer)
    with pytest.raises(RuntimeError, match="scorer failed"):
        est.fit(X, y)
    assert float(est.model_.optimizer.learning_rate) == learning_rate
    np.testing.assert_array_equal(getattr(est, method)(X), before)


def test_early_stopping_stops_restores_and_reports(case):
    cls, X, y, _ = case
    est = make(cls, early_stopping=True, n_iter_no_change=3, max_iter=300, learning_rate=5e-2)
    est.fit(X, y)
    history = est.history_
    assert est.n_iter_ < 300
    assert est.best_epoch_ == np.argmax(est.validation_scores_) + 1
    # The last three epochs did not beat the best before them by tol.
    scores = est.validation_scores_
    assert all(s < max(scores[: len(scores) - 3 + i]) + est.tol for i, s in enumerate(scores[-3:]))
    assert len(history["loss"]) == len(history["val_loss"]) == len(est.validation_scores_)
    np.testing.assert_allclose(est.validation_scores_, -np.asarray(history["val_loss"]))
    assert est.best_validation_score_ == max(est.validation_scores_)


@pytest.mark.parametrize("patience", [2, 31, 32])
def test_early_stopping_stops_patience_epochs_after_the_last_improvement(case, patience):
    # No epoch improves on the first by tol=10 (a smaller gain is kept as the best weights
    # but does not reset the count). A compiled call runs up to 32 epochs: the stop falls
    # inside one (2), on its last epoch (31: the next call ran one more), or on the next
    # one's first (32).
    cls, X, y, _ = case
    params = dict(early_stopping=True, n_iter_no_change=patience, tol=10.0, max_iter=45)
    est = make(cls, **params).fit(X, y)
    assert est.n_iter_ == patience + 1


def test_fifty_sequential_fits_compile_nothing_again(classification_data):
    # What made later fits slower was compiling again, which is counted exactly here; the
    # memory of long runs is measured by benchmarks/bench_program_cache.py, not asserted.
    X, y = classification_data
    for i in range(50):
        if i == 10:
            compiles = skreg.program_cache_info()
        RegularizedMLPClassifier((32,), max_iter=2, random_state=i).fit(X, y).predict(X)
    after = skreg.program_cache_info()
    assert after.epoch_compiles == compiles.epoch_compiles
    assert after.forward_compiles == compiles.forward_compiles


def test_interleaved_estimators_sharing_a_network_shape_keep_their_own_state(case):
    # Fits of one network shape share its compiled program; each estimator's weights and
    # optimizer state must still be its own.
    cls, X, y, method = case
    alone = make(cls, random_state=1)
    for _ in range(3):
        alone.partial_fit(X, y, **_classes(cls, y))
    first, second = make(cls, random_state=1), make(cls, random_state=2)
    for _ in range(3):
        first.partial_fit(X, y, **_classes(cls, y))
        second.partial_fit(X, y, **_classes(cls, y))
    np.testing.assert_array_equal(getattr(first, method)(X), getattr(alone, method)(X))
    assert not np.allclose(getattr(first, method)(X), getattr(second, method)(X))


def _classes(cls, y):
    return {"classes": np.unique(y)} if cls is RegularizedMLPClassifier else {}


def test_feature_importances_come_from_the_first_layer(case):
    cls, X, y, _ = case
    est = make(cls).fit(X, y)
    kernel = est.model_.get_layer("hidden_0").get_weights()[0]
    expected = np.abs(kernel).sum(axis=1)
    np.testing.assert_allclose(est.feature_importances_, expected / expected.sum(), rtol=1e-6)
    assert not hasattr(make(cls), "feature_importances_")


def test_l1_and_select_from_model_keep_the_informative_features():
    from sklearn.datasets import make_classification
    from sklearn.feature_selection import SelectFromModel
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(
        n_samples=300, n_features=12, n_informative=3, n_redundant=0, shuffle=False,
        class_sep=2.0, random_state=0,
    )  # fmt: skip
    network = RegularizedMLPClassifier(
        (16,), l1=3e-3, learning_rate=1e-2, max_iter=60, random_state=0
    )
    selector = SelectFromModel(network, threshold="mean")
    pipe = make_pipeline(StandardScaler(), selector).fit(X, y)
    selected = np.flatnonzero(pipe[-1].get_support())
    assert set(range(3)) <= set(selected), selected
    assert len(selected) <= 6


def test_rows_weighted_zero_never_hold_out_the_validation_split():
    # Bagging weights each member's rows by how often its bootstrap drew them, most of them
    # 0: early stopping held out undrawn rows only and the member failed, or "auto" split
    # off a validation set from 30 drawn rows because 300 were passed.
    from sklearn.datasets import make_classification
    from sklearn.ensemble import BaggingClassifier

    X, y = make_classification(300, 6, random_state=0)
    member = RegularizedMLPClassifier((8,), max_iter=5, random_state=0)
    bagging = BaggingClassifier(member, n_estimators=10, max_samples=0.1, random_state=0)
    assert bagging.fit(X, y).score(X, y) > 0.5
    weights = np.zeros(300)
    weights[np.random.default_rng(1).choice(300, 30, replace=False)] = 1.0
    auto = clone(member).fit(X, y, sample_weight=weights)
    assert auto.validation_scores_ is None  # 30 weighted rows: under "auto"'s 100
    weights[:200] = 1.0
    stopped = clone(member).set_params(early_stopping=True).fit(X, y, sample_weight=weights)
    assert len(stopped.validation_scores_) == stopped.n_iter_


def test_a_patience_of_sys_maxsize_means_never(case):
    # scikit-learn's MLP takes n_iter_no_change=sys.maxsize, a common "never stop"; the
    # compiled programs count in int32, where it overflowed.
    cls, X, y, method = case
    never = make(cls, early_stopping=True, n_iter_no_change=sys.maxsize, max_iter=4).fit(X, y)
    long = make(cls, early_stopping=True, n_iter_no_change=10**6, max_iter=4).fit(X, y)
    assert never.n_iter_ == 4
    np.testing.assert_array_equal(getattr(never, method)(X), getattr(long, method)(X))


def test_a_tolerance_beyond_float32_is_used_without_a_warning(case):
    cls, X, y, method = case
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # NumPy's "overflow encountered"
        est = make(cls, early_stopping=True, tol=1e300, n_iter_no_change=2).fit(X, y)
    assert est.n_iter_ == 3  # no epoch beats the first by 1e300: stops after the patience


@pytest.mark.parametrize(
    "setting, message",
    [
        ({"beta_1": 1 - 1e-8}, "beta_1=0.99999999 rounds to 1.0 in float32"),
        ({"beta_2": 1 - 1e-8}, "beta_2=0.99999999 rounds to 1.0 in float32"),
        ({"epsilon": 1e-40}, "epsilon=1e-40 is below float32's smallest normal number"),
    ],
)
def test_optimizer_settings_float32_cannot_hold_are_refused(case, setting, message):
    cls, X, y, method = case
    with pytest.raises(ValueError, match=re.escape(message)):
        make(cls, **setting).fit(X, y)
    # The largest beta and the smallest epsilon float32 holds train.
    held = {name: (0.99999994 if name != "epsilon" else 1.2e-38) for name in setting}
    assert np.isfinite(getattr(make(cls, max_iter=2, **held).fit(X, y), method)(X)).all()


def test_a_batch_size_of_true_is_one_row_as_in_scikit_learn(case):
    cls, X, y, method = case
    one = make(cls, batch_size=1, max_iter=1).fit(X[:40], y[:40])
    true = make(cls, batch_size=True, max_iter=1).fit(X[:40], y[:40])
    np.testing.assert_array_equal(getattr(true, method)(X), getattr(one, method)(X))


@pytest.mark.parametrize("dropout", [[0.1, None], [[0.1]], {0.1}, ["0.1"]])
def test_a_dropout_sequence_of_other_than_rates_is_refused_by_name(case, dropout):
    cls, X, y, method = case
    with pytest.raises(TypeError, match="dropout must be a rate in \\[0, 1\\) or a sequence"):
        make(cls, hidden_layer_sizes=(4, 4)[: len(dropout)], dropout=dropout).fit(X, y)


def test_validation_scores_span_every_continued_call_as_the_loss_curve(case):
    # scikit-learn's MLPs append a warm start's validation scores to the earlier ones;
    # skreg's listed the last call only, beside a loss curve and best_epoch_ over both.
    cls, X, y, method = case
    est = make(cls, warm_start=True, early_stopping=True, max_iter=3, n_iter_no_change=50)
    est.fit(X, y)
    first = list(est.validation_scores_)
    est.fit(X, y)
    assert len(est.validation_scores_) == len(est.loss_curve_) == est.n_iter_ == 6
    assert est.validation_scores_[:3] == first
    np.testing.assert_allclose(est.validation_scores_, -np.asarray(est.history_["val_loss"]))
    assert est.best_validation_score_ == est.validation_scores_[est.best_epoch_ - 1]
    # A call without early stopping in between: its epochs are NaN, as in history_.
    est.set_params(early_stopping=False, max_iter=2).fit(X, y)
    assert est.validation_scores_ is None
    est.set_params(early_stopping=True, max_iter=2).fit(X, y)
    assert len(est.validation_scores_) == est.n_iter_ == 10
    assert np.isnan(est.validation_scores_[6:8]).all()
    assert np.isfinite(est.validation_scores_[8:]).all()
