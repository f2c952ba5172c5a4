"""The network builders: layers, initial weights, dropout as a variable, optimizers."""

import keras
import numpy as np
import pytest
from plain import plain

from skreg._engine._network import (
    RUN_TIME_SETTINGS,
    Dropout,
    build_network,
    initial_state,
    make_optimizer,
    set_state,
    with_dropout,
)
from skreg._specs import NetworkSpec, dropout_rates


def test_build_network_layers_and_shapes():
    spec = NetworkSpec(
        n_features=5,
        n_outputs=3,
        hidden_layer_sizes=(7, 4),
        output_activation="softmax",
        batch_normalization=True,
    )
    model = build_network(spec, dropout=(0.2, 0.0), penalty=(0.0, 1e-3))
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == [
        "InputLayer", "Dense", "BatchNormalization", "Activation", "Dropout",
        "Dense", "BatchNormalization", "Activation", "Dropout", "Dense", "Activation",
    ]  # fmt: skip
    assert model.layers[-2].name == "output" and model.layers[-1].name == "output_activation"
    assert [layer.rate for layer in model.layers if isinstance(layer, Dropout)] == [0.2, 0.0]
    assert model.output_shape == (None, 3)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert all(layer.kernel_regularizer.get_config() == {"l1": 0.0, "l2": 1e-3} for layer in dense)
    set_state(model, initial_state(model, (0.2, 0.0), np.random.SeedSequence(0)))
    proba = np.asarray(model(np.ones((2, 5), np.float32)))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


def test_initial_weights_are_glorot_uniform_and_seeded():
    spec = NetworkSpec(n_features=40, n_outputs=1, hidden_layer_sizes=(60,))
    model = build_network(spec)
    first = initial_state(model, (0.0,), np.random.SeedSequence(3))
    second = initial_state(model, (0.0,), np.random.SeedSequence(3))
    third = initial_state(model, (0.0,), np.random.SeedSequence(4))
    for a, b in zip(
        first.trainable + first.non_trainable, second.trainable + second.non_trainable
    ):
        np.testing.assert_array_equal(a, b)
    kernel = first.trainable[0]
    assert kernel.shape == (40, 60) and not np.allclose(kernel, third.trainable[0])
    limit = np.sqrt(6 / (40 + 60))
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.95 * limit
    assert kernel.std() == pytest.approx(limit / np.sqrt(3), rel=0.05)  # uniform's std
    assert not first.trainable[1].any(), "biases start at zero"


def test_dropout_rate_is_a_variable_and_off_at_inference():
    spec = NetworkSpec(n_features=3, n_outputs=2, hidden_layer_sizes=(4000,))
    model = build_network(spec)
    state = initial_state(model, (0.25,), np.random.SeedSequence(0))
    set_state(model, state)
    x = np.ones((1, 3), np.float32)
    layer = model.get_layer("dropout_0")
    hidden = keras.Model(model.input, layer.output)
    active = np.asarray(keras.Model(model.input, model.get_layer("activation_0").output)(x))
    on = active != 0
    dropped = np.asarray(hidden(x, training=True))
    assert np.mean(dropped[on] == 0) == pytest.approx(0.25, abs=0.03)
    kept = on & (dropped != 0)
    np.testing.assert_allclose(dropped[kept], active[kept] / 0.75, rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(hidden(x, training=False)), active)
    set_state(model, with_dropout(model, state, (0.0,)))
    assert float(layer.rate_variable) == 0.0
    np.testing.assert_array_equal(np.asarray(hidden(x, training=True)), active)


def test_dropout_config_round_trips_as_keras_dropout():
    layer = Dropout(0.3, seed=7, name="d")
    assert isinstance(layer, keras.layers.Dropout)
    revived = Dropout.from_config(layer.get_config())
    assert (revived.rate, revived.seed, revived.name) == (0.3, 7, "d")
    x = np.ones((2, 5), np.float32)
    np.testing.assert_array_equal(np.asarray(revived(x, training=False)), x)
    assert float(revived.rate_variable) == pytest.approx(0.3)


def test_dropout_rates_expand_and_validate():
    assert dropout_rates(0.3, 3) == (0.3, 0.3, 0.3)
    assert dropout_rates([0.5, 0.1], 2) == (0.5, 0.1)
    with pytest.raises(ValueError, match="one rate per hidden layer"):
        dropout_rates([0.5], 2)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        dropout_rates([0.5, 1.0], 2)


def test_make_optimizer_sets_learning_rate():
    optimizer = make_optimizer("sgd", 0.05)
    assert isinstance(optimizer, keras.optimizers.SGD)
    np.testing.assert_allclose(float(optimizer.learning_rate), 0.05, rtol=1e-6)


@pytest.mark.parametrize("name", ["adam", "adamw", "nadam", "rmsprop", "sgd", "adagrad"])
def test_optimizer_slots_start_as_keras_own(name):
    network = build_network(NetworkSpec(n_features=3, n_outputs=2, hidden_layer_sizes=(4,)))
    ours = make_optimizer(name, 1e-2)
    ours.build(network.trainable_variables)
    stock = keras.optimizers.get({"class_name": name, "config": {"learning_rate": 1e-2}})
    stock.build(network.trainable_variables)
    # Ours also holds the run-time settings (beta_1, ...) as variables, ahead of the slots.
    slots = [v for v in ours.variables if v.name not in RUN_TIME_SETTINGS]
    assert [v.shape for v in slots] == [v.shape for v in stock.variables]
    for a, b in zip(slots, stock.variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
        assert a.dtype == b.dtype


@pytest.mark.parametrize("name", ["adam", "adamw", "nadam", "rmsprop", "sgd", "adagrad"])
def test_every_optimizer_lowers_the_training_loss(iris, name):
    from skreg import RegularizedMLPClassifier

    X, y = iris
    params = {**plain(RegularizedMLPClassifier), "learning_rate": 1e-2, "max_iter": 20}
    clf = RegularizedMLPClassifier((8,), optimizer=name, random_state=0, **params).fit(X, y)
    assert clf.loss_curve_[-1] < 0.9 * clf.loss_curve_[0]
