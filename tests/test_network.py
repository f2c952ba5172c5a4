"""Pure network builders."""

import keras
import numpy as np
import pytest

from skreg._network import NetworkSpec, build_network, dropout_rates, make_optimizer


def test_build_network_layers_and_shapes():
    spec = NetworkSpec(
        n_features=5,
        n_outputs=3,
        hidden_layer_sizes=(7, 4),
        output_activation="softmax",
        l2=1e-3,
        dropout=(0.2, 0.0),
        batch_normalization=True,
    )
    model = build_network(spec, np.random.SeedSequence(0))
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == [
        "InputLayer", "Dense", "BatchNormalization", "Activation", "Dropout",
        "Dense", "BatchNormalization", "Activation", "Dense",
    ]  # fmt: skip
    assert model.output_shape == (None, 3)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert all(layer.kernel_regularizer.get_config() == {"l2": 1e-3} for layer in dense)
    proba = np.asarray(model(np.ones((2, 5), np.float32)))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


def test_same_seed_same_initial_weights():
    spec = NetworkSpec(n_features=4, n_outputs=1, hidden_layer_sizes=(6,))
    first = build_network(spec, np.random.SeedSequence(3)).get_weights()
    second = build_network(spec, np.random.SeedSequence(3)).get_weights()
    third = build_network(spec, np.random.SeedSequence(4)).get_weights()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(first[0], third[0])


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
