"""Pure functions that build and compile the Keras network. No scikit-learn here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from . import _random
from .regularizers import kernel_regularizer


@dataclass(frozen=True)
class NetworkSpec:
    """Everything that defines the network's architecture and penalties."""

    n_features: int
    n_outputs: int
    hidden_layer_sizes: tuple[int, ...]
    activation: str = "relu"
    output_activation: str | None = None
    l1: float = 0.0
    l2: float = 0.0
    dropout: tuple[float, ...] = ()
    batch_normalization: bool = False

    def same_weights_as(self, other: NetworkSpec) -> bool:
        """Whether a network built from ``other`` has weights of the same shapes."""
        return (
            self.n_features,
            self.n_outputs,
            self.hidden_layer_sizes,
            self.batch_normalization,
        ) == (
            other.n_features,
            other.n_outputs,
            other.hidden_layer_sizes,
            other.batch_normalization,
        )


def dropout_rates(dropout: float | tuple[float, ...], n_hidden: int) -> tuple[float, ...]:
    """Expand ``dropout`` into one rate per hidden layer.

    A single number applies to every hidden layer; a sequence must give one rate per layer.
    """
    if np.ndim(dropout) == 0:
        return (float(dropout),) * n_hidden
    rates = tuple(float(rate) for rate in dropout)
    if len(rates) != n_hidden:
        raise ValueError(
            f"dropout has {len(rates)} rates but there are {n_hidden} hidden layers; give one "
            "rate per hidden layer or a single rate for all of them."
        )
    if any(not 0.0 <= rate < 1.0 for rate in rates):
        raise ValueError(f"Every dropout rate must be in [0, 1); got {rates}.")
    return rates


def build_network(spec: NetworkSpec, seeds: np.random.SeedSequence) -> keras.Model:
    """Build the multilayer perceptron described by ``spec``.

    Each hidden block is ``Dense -> [BatchNormalization] -> activation -> [Dropout]``. Every
    dense kernel, the output layer's included, carries the ``l1``/``l2`` penalty. Initializers
    and dropout layers get their own integer seed drawn from ``seeds``, so the network is a
    deterministic function of the spec and the seed sequence.
    """
    regularizer_args = (spec.l1, spec.l2)
    layer_seeds = iter(seeds.generate_state(2 * len(spec.hidden_layer_sizes) + 1).tolist())
    inputs = keras.Input(shape=(spec.n_features,), name="features")
    x = inputs
    for i, units in enumerate(spec.hidden_layer_sizes):
        x = keras.layers.Dense(
            units,
            kernel_initializer=keras.initializers.GlorotUniform(seed=next(layer_seeds)),
            kernel_regularizer=kernel_regularizer(*regularizer_args),
            name=f"hidden_{i}",
        )(x)
        if spec.batch_normalization:
            x = keras.layers.BatchNormalization(name=f"batch_norm_{i}")(x)
        x = keras.layers.Activation(spec.activation, name=f"activation_{i}")(x)
        dropout_seed = next(layer_seeds)
        if spec.dropout and spec.dropout[i] > 0:
            x = Dropout(spec.dropout[i], seed=dropout_seed, name=f"dropout_{i}")(x)
    outputs = keras.layers.Dense(
        spec.n_outputs,
        activation=spec.output_activation,
        kernel_initializer=keras.initializers.GlorotUniform(seed=next(layer_seeds)),
        kernel_regularizer=kernel_regularizer(*regularizer_args),
        name="output",
    )(x)
    return keras.Model(inputs, outputs, name="regularized_mlp")


@keras.saving.register_keras_serializable(package="skreg")
class Dropout(keras.layers.Dropout):
    """Keras' inverted dropout, with the mask drawn by :func:`skreg._random.uniform`.

    Same semantics and configuration as :class:`keras.layers.Dropout` (surviving values are
    scaled by ``1 / (1 - rate)`` in training; identity at inference); only the random draw
    differs, because Keras' own is slow under XLA on CPU.
    """

    def call(self, inputs: Any, training: bool = False) -> Any:
        if not training or self.rate == 0:
            return inputs
        keep = _random.uniform(keras.ops.shape(inputs), self.seed_generator) >= self.rate
        return keras.ops.where(keep, inputs / (1.0 - self.rate), keras.ops.zeros_like(inputs))


def build_trainable_network(
    spec: NetworkSpec,
    seeds: np.random.SeedSequence,
    optimizer: str,
    learning_rate: float,
    loss: Callable[[Any, Any], Any],
) -> keras.Model:
    """:func:`build_network`, compiled with a built optimizer.

    Compiling makes the model pickle with its optimizer state and support ``evaluate``;
    building the optimizer gives it the state variables that training fills in.
    """
    model = build_network(spec, seeds)
    model.compile(optimizer=make_optimizer(optimizer, learning_rate), loss=loss)
    model.optimizer.build(model.trainable_variables)
    return model


def make_optimizer(name: str, learning_rate: float) -> keras.optimizers.Optimizer:
    """Instantiate a Keras optimizer by name with the given learning rate."""
    config = keras.optimizers.get(name).get_config()
    config["learning_rate"] = learning_rate
    return keras.optimizers.get({"class_name": name, "config": config})
