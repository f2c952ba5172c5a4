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

**A training step computes the periodic embeddings once per distinct value** when the
training rows' numeric columns hold few of them (:func:`level_codes`): on a table of
counts, codes or pixel intensities, a batch of 200 rows repeats each column's 16 or 17
values many times, and the embedding of a value is the same in every row that holds it. The
step then embeds each column's distinct values (a table of ``K`` per column) and gathers
each row's from it: the same numbers as embedding every row (the same operations on the
same values), the gradient summed in another order. Measured on digits' 600 training rows
(64 columns of 17 values, TensorFlow, one thread): 5.7-5.9 ms an epoch -> 3.1-3.3 ms
(1.0 ms without the embeddings). Prediction and the validation loss embed every row, as a value
not seen in training has no place in the table.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import keras
import numpy as np

from .._specs import FrontSpec

# The learning-rate factors, as fixed multipliers of the variables (see the module docstring).
SCALE_FACTOR = 6.0
PERIODIC_FACTOR = 0.1
FREQUENCIES = 16
FREQUENCY_SCALE = 0.1


# A table of distinct values has a power of two rows, at least this many (fewer shapes to
# compile). It is used when it has at most a training step's rows (it then costs at most the
# embedding of the step's rows, plus a gather; satellite's 104 values a column, a table of
# 128 for 200-row steps: 25.5-27.7 -> 21.5-22.1 ms an epoch) and a quarter of the training
# rows: where values repeat, as in counts, codes and pixels, not where each row holds its
# own (a continuous column), so that the fits of a search on such data all use it or none.
MIN_LEVELS = 8
# The table and the batch's codes of the training step being traced (see :func:`levels`).
_STEP = threading.local()


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


def level_codes(
    spec: FrontSpec | None, X: np.ndarray, rows: np.ndarray, step: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """The training rows' distinct numeric values and each row's place among them, for the
    training steps' periodic embeddings (module docstring), or None where they would not
    pay: ``(levels, codes)``, ``levels[j]`` column ``j``'s distinct values in the training
    rows ``rows`` of ``X``, sorted, padded with the largest to ``K`` (a power of two), and
    ``codes[i, j]`` the position of ``X[i, j]`` in ``levels[j]`` (for the training rows;
    other rows get a code they never use). ``step``: the rows of one training step."""
    if spec is None or not (spec.periodic and spec.n_numeric) or len(rows) == 0:
        return None
    n, limit = spec.n_numeric, min(step, len(rows) // 4)
    # A few steps' rows already show a column of too many values (a continuous one), without
    # a sort of every training row.
    for part in (rows[: 4 * step], rows) if len(rows) > 4 * step else (rows,):
        values = np.sort(X[part, :n], axis=0)
        distinct = 1 + int(np.count_nonzero(np.diff(values, axis=0), axis=0).max())
        size = max(MIN_LEVELS, 1 << (distinct - 1).bit_length())
        if size > limit:
            return None
    levels = np.empty((n, size), np.float32)
    codes = np.empty((len(X), n), np.int32)
    for j in range(n):
        column = values[:, j]  # sorted
        unique = column[np.r_[True, column[1:] != column[:-1]]]
        levels[j, : len(unique)] = unique
        levels[j, len(unique) :] = unique[-1]
        codes[:, j] = np.minimum(np.searchsorted(unique, X[:, j]), len(unique) - 1)
    return levels, codes


@contextmanager
def levels(table: Any, codes: Any) -> Iterator[None]:
    """Within: the fronts called in training embed through ``table`` (a :func:`level_codes`
    ``levels``) and the batch's ``codes``; None for every row's own (the default)."""
    saved = getattr(_STEP, "value", None)
    _STEP.value = None if table is None else (table, codes)
    try:
        yield
    finally:
        _STEP.value = saved


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

    def call(self, x: Any, training: Any = None) -> Any:
        ops, spec = keras.ops, self.spec
        dense = x[:, : spec.n_dense]
        if spec.scale:
            dense = dense * (SCALE_FACTOR * self.scale)
        parts = [dense]
        if spec.periodic and spec.n_numeric:
            step = getattr(_STEP, "value", None) if training else None
            if step is None:
                mixed = self._periodic(dense[:, : spec.n_numeric, None], 1)
            else:  # each distinct value once, then each row's (module docstring)
                table, codes = step
                n, size = table.shape
                values = table * (SCALE_FACTOR * self.scale[:n, None]) if spec.scale else table
                mixed = ops.reshape(self._periodic(values[:, :, None], 2), (n * size, -1))
                places = codes + ops.arange(n, dtype="int32") * size
                mixed = ops.take(mixed, places, axis=0)
            parts.append(ops.reshape(mixed, (-1, spec.n_numeric * spec.periodic_dim)))
        for i, table in enumerate(self.tables):
            codes = ops.cast(x[:, spec.n_dense + i], "int32")
            parts.append(ops.take(table, codes, axis=0))
        return ops.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]

    def _periodic(self, values: Any, axis: int) -> Any:
        """The periodic embeddings of ``values`` (numeric columns, their values along
        ``axis``, 1 or 2, and a last axis of 1): ``W cos(2 pi (w x + b)) + c`` per column."""
        ops = keras.ops
        parameters = [PERIODIC_FACTOR * self.frequencies,
                      PERIODIC_FACTOR / (2 * math.pi) * self.phases,
                      PERIODIC_FACTOR * self.offsets]  # fmt: skip
        if axis == 2:  # columns first: a values axis after theirs
            parameters = [ops.expand_dims(p, 1) for p in parameters]
        frequencies, phases, offsets = parameters
        waves = cos_of_turns(values * frequencies + phases)
        subscripts = "bjk,jkd->bjd" if axis == 1 else "jbk,jkd->jbd"
        return ops.einsum(subscripts, waves, PERIODIC_FACTOR * self.projection) + offsets

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return (input_shape[0], self.spec.width)

    def initial_values(
        self, rng: np.random.Generator, training: tuple[np.ndarray, np.ndarray] | None = None
    ) -> dict[int, np.ndarray]:
        """Fresh values by variable id: unit scales; RealMLP's draws for the periodic
        embeddings (divided by their learning-rate factors); N(0, 1) embedding vectors.

        Given the ``training`` rows (the preprocessed matrix and the rows' positions in it),
        an embedding vector whose code no training row holds starts at 0 and stays there,
        receiving no gradient: the unseen code, a missing value the training rows lack, a
        level of the validation rows only. It then adds nothing to the first layer, as an
        unseen level's one-hot zeros do, where its random draw would have pushed predictions
        anywhere.
        """
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
        for i, table in enumerate(self.tables):
            vectors = rng.standard_normal(tuple(table.shape))
            if training is not None:
                held = np.zeros(len(vectors), bool)
                X, rows = training
                held[X[rows, spec.n_dense + i].astype(np.int64)] = True
                vectors[~held] = 0.0
            values[id(table)] = vectors
        return values

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "spec": self.spec.as_dict()}
