"""What a fit leaves and what a compiled program is keyed by: plain data, no backend.

A fitted estimator holds only these NumPy-backed records, so ``clone``, ``repr``, pickling and
unpickling never import Keras (see :mod:`skreg._backend`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class NetworkSpec:
    """Everything that defines the network's architecture (and so its compiled programs)."""

    n_features: int
    n_outputs: int
    hidden_layer_sizes: tuple[int, ...]
    activation: str = "relu"
    output_activation: str | None = None
    batch_normalization: bool = False

    def same_weights_as(self, other: NetworkSpec) -> bool:
        """Whether a network built from ``other`` has variables of the same shapes."""
        shapes = ("n_features", "n_outputs", "hidden_layer_sizes", "batch_normalization")
        return all(getattr(self, name) == getattr(other, name) for name in shapes)


@dataclass(frozen=True)
class NetworkState:
    """The values of a network's variables, as NumPy arrays in the model's variable order.

    ``trainable`` are the weights, ``non_trainable`` the batch-normalization statistics, the
    dropout rates and the dropout layers' random-generator states.
    """

    trainable: tuple[np.ndarray, ...]
    non_trainable: tuple[np.ndarray, ...]


def dropout_rates(dropout: float | Sequence[float], n_hidden: int) -> tuple[float, ...]:
    """Expand ``dropout`` into one rate per hidden layer.

    A single number applies to every hidden layer; a sequence must give one rate per layer.
    """
    if np.ndim(dropout) == 0:
        rates = (float(dropout),) * n_hidden
    else:
        rates = tuple(float(rate) for rate in dropout)
    if len(rates) != n_hidden:
        raise ValueError(
            f"dropout has {len(rates)} rates but there are {n_hidden} hidden layers; give one "
            "rate per hidden layer or a single rate for all of them."
        )
    if any(not 0.0 <= rate < 1.0 for rate in rates):
        raise ValueError(f"Every dropout rate must be in [0, 1); got {rates}.")
    return rates


@dataclass(frozen=True)
class ProgramKey:
    """What a compiled program depends on; everything else is a run-time input."""

    network: NetworkSpec
    optimizer: str
    loss: str
    augmentation: tuple = ()


@dataclass(frozen=True)
class OptimizerState:
    """An optimizer's variables as NumPy arrays, in the order of ``optimizer.variables``."""

    name: str
    values: tuple[np.ndarray, ...]
