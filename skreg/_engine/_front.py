"""The network's front for tables: what comes between the preprocessed columns and the first
dense layer (RealMLP's ingredients, Holzmueller et al. 2024, "Better by Default").

- **A scale per input column**, learned, starting at 1 (RealMLP's "scaling layer"): the
  network can turn a column up or down before anything mixes them. Its learning rate is 6
  times the network's, written as a fixed factor on the variable (under Adam, a variable's
  step is about the learning rate whatever its gradient's size, so ``6 * v`` moves 6 times
  faster than ``v``).
- **Periodic embeddings of the numeric columns** (RealMLP's PBLD): each value ``x`` also
  enters as ``W cos(2 pi (w x + b)) + c``, 16 frequencies ``w`` drawn from N(0, 0.1**2)
  and mapped to 3 numbers per column, learned at a tenth of the network's rate. A smooth
  function of one column, such as a threshold or a bump, is then one dense layer away.
- **Embeddings of the coded categorical columns** (:mod:`skreg._tabular`): a learned vector
  of ``embedding_dim`` numbers per level, code 0 (a level unseen in training) included.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np

from .._specs import FrontSpec

# The learning-rate factors, as fixed multipliers of the variables (see the module docstring).
SCALE_FACTOR = 6.0
PERIODIC_FACTOR = 0.1
FREQUENCIES = 16
FREQUENCY_SCALE = 0.1


# cos(2 pi t) = sum_n COSINE[n] t**(2n), its Taylor series to the power 16: within 2e-7 of
# the cosine for |t| <= 1/2 (pi**18 / 18!), about float32's own rounding there.
COSINE = tuple((-1) ** n * (2 * math.pi) ** (2 * n) / math.factorial(2 * n) for n in range(9))


def cos_of_turns(turns: Any) -> Any:
    """``cos(2 pi turns)``, elementwise: whole turns dropped, then a polynomial.

    XLA's CPU cosine (the compiled programs run on XLA) costs about six times as much as
    these multiply-adds, which it fuses into one loop: on 667 rows of 64 columns x 16
    frequencies, a training step's cosines and their gradient took 9.3 ms with ``cos`` and
    1.6 ms with this, one thread, TensorFlow.
    """
    ops = keras.ops
    fraction = turns - ops.round(turns)
    square = fraction * fraction
    value = COSINE[-1]
    for coefficient in COSINE[-2::-1]:
        value = value * square + coefficient
    return value


@keras.saving.register_keras_serializable(package="skreg")
class TableFront(keras.layers.Layer):
    """The columns ``[numeric | other dense | codes]`` (``spec``) to the first layer's input.

    Variables are placeholders until the fit's initial state fills them
    (:meth:`initial_values`).
    """

    def __init__(self, spec: FrontSpec | dict, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec if isinstance(spec, FrontSpec) else FrontSpec(**spec)

    def build(self, input_shape: Any) -> None:
        spec, zeros = self.spec, keras.initializers.Zeros()
        if spec.scale:
            self.scale = self.add_weight(shape=(spec.n_dense,), initializer=zeros, name="scale")
        if spec.periodic and spec.n_numeric:
            shape = (spec.n_numeric, FREQUENCIES)
            self.frequencies = self.add_weight(shape=shape, initializer=zeros, name="frequency")
            self.phases = self.add_weight(shape=shape, initializer=zeros, name="phase")
            self.projection = self.add_weight(
                shape=(*shape, spec.periodic_dim), initializer=zeros, name="projection"
            )
            self.offsets = self.add_weight(
                shape=(spec.n_numeric, spec.periodic_dim), initializer=zeros, name="offset"
            )
        self.tables = [
            self.add_weight(shape=(levels, spec.embedding_dim), initializer=zeros,
                            name=f"embedding_{i}")
            for i, levels in enumerate(spec.levels)
        ]  # fmt: skip

    def call(self, x: Any) -> Any:
        ops, spec = keras.ops, self.spec
        dense = x[:, : spec.n_dense]
        if spec.scale:
            dense = dense * (SCALE_FACTOR * self.scale)
        parts = [dense]
        if spec.periodic and spec.n_numeric:
            numeric = dense[:, : spec.n_numeric, None]
            turns = numeric * (PERIODIC_FACTOR * self.frequencies)
            waves = cos_of_turns(turns + PERIODIC_FACTOR / (2 * math.pi) * self.phases)
            mixed = ops.einsum("bjk,jkd->bjd", waves, PERIODIC_FACTOR * self.projection)
            mixed = mixed + PERIODIC_FACTOR * self.offsets
            parts.append(ops.reshape(mixed, (-1, spec.n_numeric * spec.periodic_dim)))
        for i, table in enumerate(self.tables):
            codes = ops.cast(x[:, spec.n_dense + i], "int32")
            parts.append(ops.take(table, codes, axis=0))
        return ops.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return (input_shape[0], self.spec.width)

    def initial_values(self, rng: np.random.Generator) -> dict[int, np.ndarray]:
        """Fresh values by variable id: unit scales; RealMLP's draws for the periodic
        embeddings (divided by their learning-rate factors); N(0, 1) embedding vectors."""
        spec, values = self.spec, {}
        if spec.scale:
            values[id(self.scale)] = np.full(spec.n_dense, 1.0 / SCALE_FACTOR)
        if spec.periodic and spec.n_numeric:
            shape = (spec.n_numeric, FREQUENCIES)
            bound = 1.0 / math.sqrt(FREQUENCIES)
            draws = [
                (self.frequencies, FREQUENCY_SCALE * rng.standard_normal(shape)),
                (self.phases, math.pi * rng.uniform(-1, 1, shape)),
                (self.projection, bound * rng.uniform(-1, 1, (*shape, spec.periodic_dim))),
                (self.offsets, bound * rng.uniform(-1, 1, (spec.n_numeric, spec.periodic_dim))),
            ]
            values.update({id(v): draw / PERIODIC_FACTOR for v, draw in draws})
        for table in self.tables:
            values[id(table)] = rng.standard_normal(tuple(table.shape))
        return values

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "spec": self.spec.as_dict()}
