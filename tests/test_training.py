"""The training engine: batching, compiled epochs, early stopping, divergence."""

import keras
import numpy as np
import pytest

from skreg._network import NetworkSpec, build_network
from skreg._training import (
    EarlyStopping,
    TrainingSchedule,
    epoch_batches,
    make_engine,
    train,
)


def test_epoch_batches_cover_every_row_once_and_pad_with_zero_weight():
    weights = np.linspace(1, 2, 10).astype(np.float32)
    batches = epoch_batches(weights, 4, np.random.default_rng(0), shuffle=True)
    assert batches.order.shape == batches.weights.shape == (3, 4)
    real = batches.weights.ravel() > 0
    assert sorted(batches.order.ravel()[real]) == list(range(10))
    assert np.sum(~real) == 2
    np.testing.assert_allclose(batches.weights.ravel()[real], weights[batches.order.ravel()[real]])


def test_epoch_batches_keep_order_without_shuffle():
    batches = epoch_batches(np.ones(6, np.float32), 3, np.random.default_rng(0), shuffle=False)
    np.testing.assert_array_equal(batches.order.ravel(), np.arange(6))


def _engine(seed=0):
    spec = NetworkSpec(n_features=3, n_outputs=1, hidden_layer_sizes=(8,))
    model = build_network(spec, np.random.SeedSequence(seed))
    return make_engine(model, keras.optimizers.Adam(1e-2), keras.losses.mean_squared_error)


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3)).astype(np.float32)
    return X, (X @ np.array([[1.0], [2.0], [-1.0]])).astype(np.float32)


def _train(engine, X, Y, schedule, validate=None):
    data = engine.to_device(X, Y)
    weights = np.ones(len(X), np.float32)
    return train(engine, *data, weights, schedule, np.random.default_rng(0), validate)


def test_training_lowers_the_loss():
    engine = _engine()
    X, Y = _data()
    schedule = TrainingSchedule(epochs=30, batch_size=16)
    result = _train(engine, X, Y, schedule)
    assert result.n_epochs == 30 and result.best_epoch == 30
    assert result.history["loss"][-1] < 0.2 * result.history["loss"][0]


def test_early_stopping_restores_the_best_epoch_weights():
    engine = _engine()
    X, Y = _data()
    scores = iter([0.1, 0.5, 0.3, 0.2, 0.4, 0.45, 0.9])
    predictions_at_epoch = []

    def validate():
        predictions_at_epoch.append(engine.predict(X))
        return {"val_score": 0.0}, next(scores)

    schedule = TrainingSchedule(
        epochs=7, batch_size=16, early_stopping=EarlyStopping(patience=3, tol=0.0)
    )
    result = _train(engine, X, Y, schedule, validate)
    assert result.n_epochs == 5  # epochs 3, 4 and 5 did not beat epoch 2
    assert result.best_epoch == 2 and result.best_score == 0.5
    np.testing.assert_array_equal(engine.predict(X), predictions_at_epoch[1])
    assert not np.array_equal(predictions_at_epoch[-1], predictions_at_epoch[1])


def test_tolerance_decides_what_counts_as_improvement():
    engine = _engine()
    X, Y = _data()
    scores = iter([0.5, 0.50005, 0.5001, 0.6])

    def validate():
        return {}, next(scores)

    schedule = TrainingSchedule(
        epochs=4, batch_size=16, early_stopping=EarlyStopping(patience=2, tol=1e-3)
    )
    result = _train(engine, X, Y, schedule, validate)
    assert result.n_epochs == 3 and result.best_epoch == 1


def test_non_finite_loss_raises():
    engine = _engine()
    X, Y = _data()
    schedule = TrainingSchedule(epochs=3, batch_size=16)
    with pytest.raises(FloatingPointError, match="diverged"):
        _train(engine, X * 1e38, Y, schedule)


def test_predict_does_not_depend_on_row_position():
    engine = _engine()
    X = np.random.default_rng(1).normal(size=(300, 3)).astype(np.float32)
    full = engine.predict(X)
    idx = np.random.default_rng(2).permutation(300)[:77]
    np.testing.assert_array_equal(full[idx], engine.predict(X[idx]))


def test_engine_computes_only_the_penalty_terms_it_was_built_with():
    spec = NetworkSpec(n_features=3, n_outputs=1, hidden_layer_sizes=(8,))
    model = build_network(spec, np.random.SeedSequence(0))
    engine = make_engine(
        model, keras.optimizers.Adam(1e-2), keras.losses.mean_squared_error,
        penalty_terms=(False, True),
    )  # fmt: skip
    X, Y = _data()
    data = engine.to_device(X, Y, np.ones(len(X), np.float32))
    engine.set_penalty(0.0, 0.0)
    plain = engine.evaluate(*data)
    engine.set_penalty(0.0, 0.5)
    kernels = [layer.kernel.numpy() for layer in model.layers if hasattr(layer, "kernel")]
    expected = plain + 0.5 * sum(np.square(k).sum() for k in kernels)
    assert engine.evaluate(*data) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="without the l1 penalty"):
        engine.set_penalty(1e-3, 0.5)
