"""The JAX program: stateless, a fit's state flows through functions compiled by ``jax.jit``."""

from __future__ import annotations

import warnings
from typing import Any

import jax
import keras
import numpy as np

from .._specs import ProgramKey
from ._disk import JAX_READ_ERROR, repair_jax_entries
from ._loader import settings
from ._program import Best, Program, objective


class JaxProgram(Program):
    """A fit's values are threaded through the compiled calls; nothing is held between them.

    The program holds its compiled executables itself (one per argument shapes), so that
    :meth:`release` can clear JAX's global caches, which otherwise keep every dropped
    program's executables and the small programs JAX compiles for each new variable shape
    while a template is built (measured: about 8 MB per new layer width, freed only by
    ``jax.clear_caches``), without costing the live programs a recompilation.
    """

    def __init__(self, key: ProgramKey, stats: Any) -> None:
        super().__init__(key, stats)
        self._functions = {
            "epochs": jax.jit(self._trace_epochs),
            "forward": jax.jit(self._trace_forward),
            # Several fits' epochs in one call, their values stacked on a leading model axis
            # (:mod:`._joint`).
            "joint_epochs": jax.jit(jax.vmap(self._trace_epochs)),
        }
        self._compiled: dict[tuple, Any] = {}

    joint = True

    def enter(self, values: tuple) -> tuple:
        return tuple(list(group) for group in values)

    def initial_best(self, state: tuple) -> Best:
        return Best(np.float32(-np.inf), np.int32(0), state[0] + state[1])

    def read(self, state: tuple) -> tuple[list, list, list]:
        return state[0], state[1], state[2]

    def write_weights(self, state: tuple, weights: tuple) -> tuple:
        return (*weights, *state[2:])

    def restore_best(self, state: tuple, best: Best) -> tuple:
        n = len(state[0])
        return (list(best.weights[:n]), list(best.weights[n:]), *state[2:])

    def call(self, name: str, *args: Any) -> Any:
        """Call the compiled function ``name``, compiling it once per argument shapes."""
        leaves, structure = jax.tree_util.tree_flatten(args)
        signature = (name, structure, *((np.shape(a), _dtype_name(a)) for a in leaves))
        compiled = self._compiled.get(signature)
        if compiled is None:
            compiled = self._compiled[signature] = self._compile(name, args)
        return compiled(*args)

    def release(self) -> None:
        self._compiled.clear()
        self._functions.clear()
        jax.clear_caches()

    def _compile(self, name: str, args: tuple) -> Any:
        """Compile ``name`` for ``args``; repair the on-disk cache if JAX could not read it.

        JAX compiles anew when an entry of its persistent cache cannot be read, but it warns
        and leaves the entry, so every later process would pay the compilation again.
        """
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            compiled = self._functions[name].lower(*args).compile()
        cache = settings()["compilation_cache"]
        for warning in caught:
            text = str(warning.message)
            if cache is not None and text.startswith(JAX_READ_ERROR):
                repair_jax_entries(cache, text)
            else:  # someone else's: as it would have been shown
                warnings.warn_explicit(
                    warning.message, warning.category, warning.filename, warning.lineno
                )
        return compiled

    def _forward(self, trainable, non_trainable, X):
        return self.call("forward", trainable, non_trainable, X)

    def _train_step(self, state, x, y, w, data, host, codes):
        trainable, non_trainable, optimizer, augmenter = state
        if self.augmenter is not None:
            (x, y), augmenter = self.augmenter.stateless_call([], augmenter, x, y, *host)
        levels = (data.levels, codes)
        (loss, non_trainable), grads = jax.value_and_grad(
            lambda t, n: objective(
                self, t, n, x, y, w, data.penalty, smoothing=data.smoothing, levels=levels
            ),
            has_aux=True,
        )(trainable, non_trainable)
        trainable, optimizer = self.optimizer.stateless_apply(optimizer, grads, trainable)
        return (trainable, non_trainable, optimizer, augmenter), loss

    def _keep_best(self, improved, state, best_weights):
        ops = keras.ops
        current = state[0] + state[1]
        return [ops.where(improved, new, old) for new, old in zip(current, best_weights)]

    def _set_learning_rate(self, state, rate):
        trainable, non_trainable, optimizer, augmenter = state
        optimizer = list(optimizer)
        index = self.learning_rate_index
        optimizer[index] = keras.ops.cast(rate, optimizer[index].dtype)
        return trainable, non_trainable, optimizer, augmenter

    def _set_regularization(self, state, dropout, weight_decay):
        ops = keras.ops
        trainable, non_trainable, optimizer, augmenter = state
        non_trainable = list(non_trainable)
        for i, position in enumerate(self.dropout_positions):
            non_trainable[position] = ops.cast(dropout[i], non_trainable[position].dtype)
        if self.weight_decay_index is not None:
            optimizer = list(optimizer)
            index = self.weight_decay_index
            optimizer[index] = ops.cast(weight_decay, optimizer[index].dtype)
        return trainable, non_trainable, optimizer, augmenter

    def _weights(self, state):
        return state[0], state[1]


def _dtype_name(value: Any) -> str:
    """The dtype of an array, or the type of a Python scalar (JAX types them weakly)."""
    dtype = getattr(value, "dtype", None)
    return str(dtype) if dtype is not None else type(value).__name__
