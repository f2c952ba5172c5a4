"""Compiled programs: one per network, shared by every fit, bounded, and leaving no trace."""

import os
import pickle
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV

import skreg
from skreg import (
    GaussianNoise,
    RegularizedMLPClassifier,
    RegularizedMLPRegressor,
    SwapNoise,
    _engine,
)


def compiles():
    return skreg.program_cache_info().epoch_compiles


def test_a_grid_over_dropout_penalty_and_folds_compiles_one_epoch_program():
    X, y = make_classification(n_samples=203, n_features=6, n_informative=4, random_state=0)
    clf = RegularizedMLPClassifier((11,), max_iter=1, random_state=0)
    grid = {"dropout": [0.0, 0.1, 0.2, 0.3, 0.5], "l2": [0.0, 1e-4, 1e-3, 1e-2, 1e-1]}
    before = compiles()
    search = GridSearchCV(clf, grid, cv=5).fit(X, y)
    assert len(search.cv_results_["params"]) == 25
    assert compiles() - before == 1


def test_row_counts_learning_rates_and_early_stopping_share_the_program():
    X, y = make_classification(n_samples=1500, n_features=5, random_state=0)
    before = compiles()
    for n_rows, learning_rate in [(60, 1e-3), (333, 1e-2), (1500, 3e-2)]:
        for early_stopping in (False, True):
            RegularizedMLPClassifier(
                (12,), learning_rate=learning_rate, early_stopping=early_stopping, max_iter=2,
                random_state=0,
            ).fit(X[:n_rows], y[:n_rows])  # fmt: skip
    assert compiles() - before == 1


def test_the_cache_is_bounded_counts_and_clears(classification_data):
    X, y = classification_data
    with skreg.config_context(program_cache_size=2):
        fitted = [
            RegularizedMLPClassifier((width,), max_iter=1, random_state=0).fit(X, y)
            for width in (21, 22, 23)
        ]
        info = skreg.program_cache_info()
        assert info.size == 2 and info.max_size == 2
        before = info.misses
        fitted[2].fit(X, y)  # still cached
        assert skreg.program_cache_info().misses == before
        fitted[0].fit(X, y)  # dropped, built again
        assert skreg.program_cache_info().misses == before + 1
    proba = fitted[1].predict_proba(X)
    skreg.clear_program_cache()
    assert skreg.program_cache_info().size == 0
    # Fitted estimators hold their weights, not programs: they predict as before.
    np.testing.assert_allclose(fitted[1].predict_proba(X), proba, rtol=0, atol=1e-6)


def test_set_config_rejects_bad_cache_sizes():
    with pytest.raises(ValueError, match=">= 1"):
        skreg.set_config(program_cache_size=0)
    with pytest.raises(TypeError, match="must be an int"):
        skreg.set_config(program_cache_size=2.5)


def _program_class():
    if _engine.backend_name() == "jax":
        from skreg._engine._jax import JaxProgram

        return JaxProgram
    from skreg._engine._tensorflow import TensorFlowProgram

    return TensorFlowProgram


@pytest.mark.slow
def test_every_dropped_program_is_released_once(classification_data, monkeypatch):
    # Dropped programs free their compiled code (benchmarks/bench_memory.py measures the
    # memory this keeps flat); here, each is released exactly once.
    X, y = classification_data
    cls, released = _program_class(), []
    original = cls.release

    def release(self):
        released.append(self)  # the program itself: a freed program's id could be reused
        original(self)

    monkeypatch.setattr(cls, "release", release)
    before = skreg.program_cache_info()
    with skreg.config_context(program_cache_size=2):
        for i in range(8):
            RegularizedMLPClassifier((30 + i % 4,), max_iter=1, random_state=i).fit(X, y)
        after = skreg.program_cache_info()
    assert after.size == 2
    assert len(released) == after.evictions - before.evictions >= 6
    assert len({id(p) for p in released}) == len(released), "a program was released twice"


# The reference fit, run here and in fresh processes: one source for both.
_REFERENCE_FIT = textwrap.dedent(
    """
    from skreg import GaussianNoise, RegularizedMLPClassifier

    def reference_proba(X, y):
        clf = RegularizedMLPClassifier((17,), dropout=0.2, augmentation=GaussianNoise(0.3),
                                       learning_rate=1e-2, max_iter=6, random_state=0)
        return clf.fit(X, y).predict_proba(X)
    """
)
_FIT_SCRIPT = (
    "import os, sys, numpy as np\n"
    'os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")\n'
    + _REFERENCE_FIT
    + "data = np.load(sys.argv[1])\n"
    + 'sys.stdout.write(reference_proba(data["X"], data["y"]).tobytes().hex())\n'
)


def _reference_proba(X, y):
    namespace: dict = {}
    exec(_REFERENCE_FIT, namespace)
    return namespace["reference_proba"](X, y)


def _fit_in_subprocess(tmp_path, X, y, backend):
    np.savez(tmp_path / "data.npz", X=X, y=y)
    env = {**os.environ, "KERAS_BACKEND": backend}
    out = subprocess.run(
        [sys.executable, "-c", _FIT_SCRIPT, str(tmp_path / "data.npz")],
        capture_output=True,
        check=True,
        env=env,
    ).stdout
    return np.frombuffer(bytes.fromhex(out.decode()), dtype=np.float64).reshape(len(X), -1)


@pytest.mark.slow
@pytest.mark.subprocess
def test_a_used_program_trains_the_same_model_as_a_fresh_process(classification_data, tmp_path):
    X, y = classification_data
    # Use the program first with other strengths, learning rate and row count.
    RegularizedMLPClassifier(
        (17,), dropout=0.5, augmentation=GaussianNoise(0.05), learning_rate=0.1, max_iter=3,
        random_state=5,
    ).fit(X[:77], y[:77])  # fmt: skip
    here = _reference_proba(X, y)
    fresh = _fit_in_subprocess(tmp_path, X, y, _engine.backend_name())
    # Equal up to float rounding: on TensorFlow a program may run with or without XLA.
    np.testing.assert_allclose(here, fresh, rtol=0, atol=1e-6)


@pytest.mark.slow
@pytest.mark.subprocess
def test_both_backends_train_the_same_model(classification_data, tmp_path):
    # Same initial weights, shuffles, dropout masks and noise on TensorFlow and JAX.
    pytest.importorskip("jax")
    X, y = classification_data
    other = "jax" if _engine.backend_name() == "tensorflow" else "tensorflow"
    here = _reference_proba(X, y)
    np.testing.assert_allclose(here, _fit_in_subprocess(tmp_path, X, y, other), atol=1e-5)


_PICKLE_SCRIPT = textwrap.dedent(
    """
    import pickle, sys
    import numpy as np
    from skreg import RegularizedMLPClassifier

    data = np.load(sys.argv[1])
    clf = RegularizedMLPClassifier((9,), dropout=0.1, learning_rate=1e-2, max_iter=4,
                                   warm_start=True, random_state=0).fit(data["X"], data["y"])
    sys.stdout.write(pickle.dumps(clf).hex())
    """
)


@pytest.mark.slow
@pytest.mark.subprocess
def test_a_pickle_from_the_other_backend_predicts_and_keeps_training(
    classification_data, tmp_path
):
    # A fit's state is NumPy arrays: it loads into whichever backend runs.
    pytest.importorskip("jax")
    X, y = classification_data
    other = "jax" if _engine.backend_name() == "tensorflow" else "tensorflow"
    np.savez(tmp_path / "data.npz", X=X, y=y)
    out = subprocess.run(
        [sys.executable, "-c", _PICKLE_SCRIPT, str(tmp_path / "data.npz")],
        capture_output=True, check=True, env={**os.environ, "KERAS_BACKEND": other},
    ).stdout  # fmt: skip
    clf = pickle.loads(bytes.fromhex(out.decode()))
    same = RegularizedMLPClassifier((9,), dropout=0.1, learning_rate=1e-2, max_iter=4,
                                    warm_start=True, random_state=0).fit(X, y)  # fmt: skip
    np.testing.assert_allclose(clf.predict_proba(X), same.predict_proba(X), atol=1e-5)
    before = clf.predict_proba(X)
    clf.fit(X, y)  # continues from the other backend's weights and optimizer state
    assert clf.n_iter_ == 8  # cumulative, as in scikit-learn
    assert not np.allclose(clf.predict_proba(X), before)
    np.testing.assert_allclose(clf.predict_proba(X), same.fit(X, y).predict_proba(X), atol=1e-4)


def test_training_lowers_the_loss_and_prediction_ignores_row_position(regression_data):
    X, y = regression_data
    reg = RegularizedMLPRegressor((16,), learning_rate=1e-2, max_iter=30, random_state=0)
    reg.fit(X, y)
    assert reg.loss_curve_[-1] < 0.2 * reg.loss_curve_[0]
    full = reg.predict(X)
    rows = np.random.default_rng(2).permutation(len(X))[:77]
    np.testing.assert_array_equal(full[rows], reg.predict(X[rows]))


def test_swap_noise_and_dropout_draws_are_reproducible_across_fits(classification_data):
    X, y = classification_data
    params = dict(dropout=0.3, augmentation=SwapNoise(0.2), max_iter=3, random_state=3)
    first = RegularizedMLPClassifier((9,), **params).fit(X, y).predict_proba(X)
    RegularizedMLPClassifier((9,), **{**params, "random_state": 4}).fit(X, y)
    np.testing.assert_array_equal(
        RegularizedMLPClassifier((9,), **params).fit(X, y).predict_proba(X), first
    )


def test_the_classifier_loss_is_the_cross_entropy_of_the_logits_unclipped():
    # Keras' cross-entropy on probabilities clips them at 1e-7 on JAX, capping a row's loss at
    # 16.1 and its gradient at 0. From the logits it is exact: checked against NumPy's
    # forward pass with a row whose class is 60 logits behind.
    from skreg._engine._cache import PROGRAMS
    from skreg._engine._network import initial_state
    from skreg._engine._program import objective
    from skreg._specs import NetworkSpec, ProgramKey

    spec = NetworkSpec(n_features=3, n_outputs=3, hidden_layer_sizes=(4,),
                       output_activation="softmax")  # fmt: skip
    x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    labels = np.array([0, 1, 2, 1])
    y = np.eye(3, dtype=np.float32)[labels]
    w = np.array([1.0, 2.0, 1.0, 0.5], np.float32)
    with PROGRAMS.lease(ProgramKey(spec, "adam", "categorical_crossentropy", ())) as program:
        state = initial_state(program.network, (0.0,), np.random.SeedSequence(0))
        kernel, bias, out_kernel, out_bias = (np.asarray(w, np.float32) for w in state.trainable)
        out_bias = np.array([60.0, 0.0, 0.0], np.float32)
        loss, _ = objective(program, [kernel, bias, out_kernel, out_bias],
                            list(state.non_trainable), x, y, w, np.zeros(2, np.float32),
                            training=False)  # fmt: skip
    logits = np.maximum(x @ kernel + bias, 0).astype(np.float64) @ out_kernel + out_bias
    shifted = logits - logits.max(axis=1, keepdims=True)
    per_row = np.log(np.exp(shifted).sum(axis=1)) - shifted[np.arange(4), labels]
    assert per_row.max() > 50, "far beyond the clipped ceiling of 16.1"
    np.testing.assert_allclose(float(keras.ops.convert_to_numpy(loss)),
                               (per_row * w).sum() / w.sum(), rtol=1e-5)  # fmt: skip


def test_each_training_step_size_is_a_program_the_cache_size_bounds(classification_data):
    # A batch size compiles code of its own (20-30 MB); as variants of one program, 30 batch
    # sizes grew it by 550 MB that neither the size nor an eviction bounded.
    X, y = classification_data
    skreg.clear_program_cache()
    before = skreg.program_cache_info()
    with skreg.config_context(program_cache_size=2):
        for batch_size in (8, 12, 16, 20):
            RegularizedMLPClassifier((5,), max_iter=1, batch_size=batch_size).fit(X, y)
        after = skreg.program_cache_info()
    assert after.size == 2
    assert after.evictions - before.evictions == 2
