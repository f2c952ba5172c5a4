"""The TensorFlow program: stateful, the program's variables hold a fit's state while it runs.

One fit at a time uses a program's variables (:meth:`TensorFlowProgram.claim`), inside
``tf.function``-compiled functions, with XLA where the process's budget allows
(:mod:`._cache`). Three things TensorFlow keeps globally are handled here:

- Keras' optimizer registers a gradient function in TensorFlow's global registry at every
  trace, which keeps the traced graph and its loop bodies alive; a program records these
  entries and removes them when dropped (measured: 0.4 MB retained per dropped program
  without XLA, against 2.7 MB before).
- Functions are registered under stable names (:mod:`._tf_functions`), so that XLA's cache
  entries are found from any process, and saved so a new process need not trace them.
- A damaged XLA cache entry fails the function for good in this process: the entry is
  removed (:func:`._disk.repair_xla_entries`) and the function traced anew; one that cannot
  be removed (a folder in its place) leaves that network without XLA. An entry that
  cannot be written (a full disk) fails every XLA compilation: the process then trains
  without XLA (:func:`._disk.xla_write_failed`).
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from .._specs import ProgramKey
from ._disk import repair_xla_entries, xla_write_failed
from ._loader import settings
from ._program import Best, Program, objective
from ._tf_functions import StableFunction, entry_path

# Tracing registers gradient functions globally: one trace at a time, so that what appears
# in the registry belongs to the program tracing.
_TRACE_LOCK = threading.Lock()
# How many programs' variables this thread holds (see TensorFlowProgram.claim).
_CLAIMS = threading.local()
# The compiled functions, and those whose traces count as compiles for the cache's statistics.
_COUNTED = {"epochs": "epoch_compiles", "forward": "forward_compiles"}


# Set when TensorFlow could not write an XLA cache entry: new programs skip XLA.
_UNWRITABLE = threading.Event()


class TensorFlowProgram(Program):
    """The state lives in the program's variables; calls take the data and return records."""

    def __init__(self, key: ProgramKey, stats: Any) -> None:
        super().__init__(key, stats)
        self.lock = threading.Lock()
        # Whether training compiles with XLA: decided by the first training call (_decide_xla),
        # so that a program that only predicts (a loaded model) takes no place among the
        # process's XLA networks. TensorFlow's affine image transform has no XLA kernel.
        self.xla: bool | None = None
        self._xla_kernels = self.augmenter is None or self.augmenter.xla_compatible
        self._variables = (
            self.network.trainable_variables,
            self.network.non_trainable_variables,
            self.optimizer.variables,
            self.augmenter_variables,
        )
        self.best_variables = [
            tf.Variable(tf.zeros(v.shape, v.dtype), trainable=False)
            for v in self._variables[0] + self._variables[1]
        ]
        self._all_variables = [v for group in self._variables for v in group]
        # What a saved training function may capture, in an order fixed by the key.
        self._stable_variables = self._all_variables + self.best_variables
        # A call's cost grows with its number of arguments: state travels as two buffers.
        self._state_packing = _Packing(self._all_variables)
        self._weights_packing = _Packing(self._variables[0] + self._variables[1])
        self._functions = {
            "forward": tf.function(self._run_forward, autograph=False),
            # One call to load or read a fit's whole state, instead of one per variable.
            "load": tf.function(self._load, autograph=False),
            "read": tf.function(self._read, autograph=False),
            "restore_best": tf.function(self._restore_best, autograph=False),
        }
        self._concrete: dict[tuple, Any] = {}
        self._registered: set[str] = set()
        self._stable_functions: list = []

    def claim(self) -> bool:
        """Take the variables for one fit: wait for another thread's fit to end, unless this
        thread is inside a fit itself (a nested fit in a scorer or callback, or a fit that
        another thread may be waiting on): then waiting could deadlock, so False."""
        if self.lock.acquire(blocking=False):
            _CLAIMS.count = getattr(_CLAIMS, "count", 0) + 1
            return True
        if getattr(_CLAIMS, "count", 0):
            return False
        self.lock.acquire()
        _CLAIMS.count = 1
        return True

    def unclaim(self) -> None:
        _CLAIMS.count -= 1
        self.lock.release()

    def release(self) -> None:
        registry = _gradient_registry()
        for name in self._registered:
            registry.pop(name, None)
        self._registered.clear()
        self._concrete.clear()
        for stable in self._stable_functions:
            stable.release()
        self._stable_functions.clear()

    def enter(self, values: tuple) -> tuple:
        flat = [value for group in values for value in group]
        self.call("load", *self._state_packing.pack(flat))
        return ()

    def initial_best(self, state: tuple) -> Best:
        return Best(np.float32(-np.inf), np.int32(0), ())

    def read(self, state: tuple) -> tuple[list, list, list]:
        return self._read_groups()[:3]

    def write_weights(self, state: tuple, weights: tuple) -> tuple:
        return self.enter((*weights, *self._read_groups()[2:]))

    def restore_best(self, state: tuple, best: Best) -> tuple:
        self.call("restore_best")
        return state

    def call(self, name: str, *args: Any) -> Any:
        """Call the function ``name``, traced once per argument shapes (recording what
        tracing registered) or loaded from the compilation cache, under stable names."""
        flat = tf.nest.flatten(args)
        signature = (name, *(tuple(np.shape(a)) for a in flat))
        traced = self._concrete.get(signature)
        if traced is not None:
            return traced(*args)
        if name == "epochs" and self.xla is None:  # a network without XLA kernels takes no slot
            self._decide_xla(self._xla_kernels and not _UNWRITABLE.is_set()
                             and self.stats.xla_allowed(self.key))  # fmt: skip
        specs = tf.nest.map_structure(lambda a: tf.TensorSpec(np.shape(a), _dtype(a)), args)
        tag = repr((name, self.xla if name == "epochs" else None, self.key, specs))
        cache = settings()["compilation_cache"]
        entry = None if cache is None else entry_path(cache, tag)
        traced = None if entry is None else self._load_stable(name, tag, entry)
        if traced is None:
            traced = self._stable(self._trace(name, specs), tag, entry)
        try:
            result = traced(*args)  # the first call compiles, or loads the XLA cache's entry
        except (tf.errors.InvalidArgumentError, tf.errors.DataLossError,
                tf.errors.OutOfRangeError) as error:  # fmt: skip
            repair = None if cache is None else repair_xla_entries(cache, str(error))
            if repair == "kept" and name == "epochs" and self.xla:
                self._decide_xla(False)  # an entry that stays: this network without XLA
                return self.call(name, *args)
            if repair != "removed":
                raise
            # TensorFlow remembers the failure under the function's names: trace it anew.
            traced = self._trace(name, specs)
            result = traced(*args)
        except (tf.errors.ResourceExhaustedError, tf.errors.FailedPreconditionError) as error:
            failed = name == "epochs" and self.xla and cache is not None
            if not failed or not xla_write_failed(cache, str(error)):
                raise
            _UNWRITABLE.set()
            self._decide_xla(False)  # the function again, without XLA: nothing written
            return self.call(name, *args)
        self._concrete[signature] = traced
        return result

    def _decide_xla(self, xla: bool) -> None:
        self.xla = xla
        self._functions["epochs"] = tf.function(
            self._trace_epochs, jit_compile=self.xla, autograph=False
        )

    def _trace(self, name: str, specs: Any) -> Any:
        with _TRACE_LOCK:
            before = set(_gradient_registry())
            try:
                return self._functions[name].get_concrete_function(*specs)
            finally:
                self._registered.update(set(_gradient_registry()) - before)

    def _stable(self, traced: Any, tag: str, entry: Any) -> Any:
        """``traced`` under names that find its XLA cache entry from any process, saved at
        ``entry`` in the compilation cache (None: the cache is off) for :meth:`_load_stable`."""
        try:
            stable = StableFunction.from_traced(traced, tag)
        except Exception:  # a name taken by another function, or TensorFlow changed
            return traced
        self._stable_functions.append(stable)
        if entry is not None:
            with contextlib.suppress(OSError):
                stable.save(entry, tag, self._stable_variables)
        return stable

    def _load_stable(self, name: str, tag: str, entry: Any) -> Any:
        """The function for ``tag`` saved at ``entry`` by another process, or None: saves
        tracing it (the training function: 0.6-0.8 s for digits' network; TensorFlow still
        converts it to XLA at the first call, then finds the compiled code in its cache)."""
        try:
            stable = StableFunction.load(entry, tag, self._stable_variables)
        except Exception:  # as above: trace it instead
            return None
        if stable is not None:
            if name in _COUNTED:  # what tracing would have counted
                self.stats.count(_COUNTED[name])
            self._stable_functions.append(stable)
        return stable

    def _read_groups(self) -> tuple[list, ...]:
        """The state as NumPy arrays, grouped as :meth:`enter` takes it."""
        packed = self.call("read")
        values = iter(self._state_packing.unpack(*(np.asarray(a) for a in packed)))
        return tuple([next(values) for _ in group] for group in self._variables)

    def _load(self, floats, integers):
        values = self._state_packing.unpack(floats, integers)
        for variable, value in zip(self._all_variables, values):
            variable.assign(value)
        return tf.constant(True)

    def _read(self):
        return self._state_packing.pack([tf.convert_to_tensor(v) for v in self._all_variables])

    def _restore_best(self):
        for best, variable in zip(self.best_variables, self._all_variables):
            variable.assign(best)
        return tf.constant(True)

    def _forward(self, trainable, non_trainable, X):
        packed = self._weights_packing.pack(list(trainable) + list(non_trainable))
        return self.call("forward", *packed, X)

    def _run_forward(self, floats, integers, X):
        values = self._weights_packing.unpack(floats, integers)
        n = len(self._variables[0])
        return self._trace_forward(values[:n], values[n:], X)

    def _set_learning_rate(self, state, rate):
        self.optimizer.variables[self.learning_rate_index].assign(rate)
        return state

    def _set_regularization(self, state, dropout, weight_decay):
        non_trainable = self._variables[1]
        for i, position in enumerate(self.dropout_positions):
            non_trainable[position].assign(dropout[i])
        if self.weight_decay_index is not None:
            self.optimizer.variables[self.weight_decay_index].assign(weight_decay)
        return state

    def _train_step(self, state, x, y, w, data, host, codes):
        if self.augmenter is not None:
            x, y = self.augmenter(x, y, *host)
        trainable_variables, non_trainable_variables = self._variables[:2]
        with tf.GradientTape() as tape:
            loss, non_trainable = objective(
                self, [v.value for v in trainable_variables],
                [v.value for v in non_trainable_variables], x, y, w, data.penalty,
                smoothing=data.smoothing, levels=(data.levels, codes),
            )  # fmt: skip
        # An embedding table's gradient comes as IndexedSlices, one slice per row of the
        # batch, levels repeated; Keras' Adam squares those slices before summing them
        # (sum of squares, not the square of the sum), so dense: the update JAX makes.
        grads = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g
                 for g in tape.gradient(loss, trainable_variables)]  # fmt: skip
        for variable, value in zip(non_trainable_variables, non_trainable):
            variable.assign(value)
        self.optimizer.apply_gradients(zip(grads, trainable_variables))
        return state, loss

    def _weights(self, state):
        return [v.value for v in self._variables[0]], [v.value for v in self._variables[1]]

    def _keep_best(self, improved, state, best_weights):
        current = self._variables[0] + self._variables[1]

        def keep():
            for best, variable in zip(self.best_variables, current):
                best.assign(variable.value)
            return tf.constant(True)

        tf.cond(improved, keep, lambda: tf.constant(False))
        return best_weights


class _Packing:
    """Packs variables' values into one float32 and one int64 buffer, and back."""

    def __init__(self, variables: list) -> None:
        self.shapes = [tuple(v.shape) for v in variables]
        self.dtypes = [keras.backend.standardize_dtype(v.dtype) for v in variables]
        self.is_float = [dtype.startswith("float") for dtype in self.dtypes]

    def pack(self, values: list) -> tuple[Any, Any]:
        ops = keras.ops
        if all(isinstance(v, np.ndarray | np.generic | float | int) for v in values):
            flat = [np.ravel(np.asarray(v)) for v in values]
            to = {True: np.float32, False: np.int64}
            return tuple(
                np.concatenate([f.astype(to[kind]) for f, k in zip(flat, self.is_float)
                                if k == kind] or [np.zeros(0, to[kind])])
                for kind in (True, False)
            )  # fmt: skip
        flat = [ops.reshape(v, (-1,)) for v in values]
        to = {True: "float32", False: "int64"}
        return tuple(
            ops.concatenate(
                [ops.cast(f, to[kind]) for f, k in zip(flat, self.is_float) if k == kind]
                or [ops.zeros((0,), to[kind])]
            )
            for kind in (True, False)
        )

    def unpack(self, floats: Any, integers: Any) -> list:
        numpy = isinstance(floats, np.ndarray)
        ops = keras.ops
        offsets = {True: 0, False: 0}
        buffers = {True: floats, False: integers}
        values = []
        for shape, dtype, kind in zip(self.shapes, self.dtypes, self.is_float):
            size = int(np.prod(shape))
            start = offsets[kind]
            piece = buffers[kind][start : start + size]
            offsets[kind] = start + size
            if numpy:
                values.append(piece.reshape(shape).astype(dtype))
            else:
                values.append(ops.cast(ops.reshape(piece, shape), dtype))
        return values


def _dtype(value: Any) -> Any:
    return value.dtype if isinstance(value, tf.Tensor) else tf.as_dtype(np.asarray(value).dtype)


def _gradient_registry() -> dict:
    # Private TensorFlow API, used only here.
    from tensorflow.python.framework import ops

    return ops._gradient_registry._registry
