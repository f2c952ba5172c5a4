"""The process's compiled programs: a bounded cache of leased programs and its statistics.

Measured before this cache (issue 9): the engine pool it replaced freed nothing it evicted on
TensorFlow (100 fits cycling 12 architectures: +866 MiB, linear). :data:`PROGRAMS` keeps at
most ``skreg.get_config()["program_cache_size"]`` programs and frees what it drops, once no
fit uses it any more (issue 17: dropping a program while another thread ran it crashed that
thread). Everything the cache knows is in :meth:`ProgramCache.info`.

XLA's compiled code is the exception to freeing: TensorFlow's compilation cache never evicts
(tensorflow/tensorflow#64170), about 10 MB per compiled program, so a TensorFlow process
compiles at most ``program_cache_size`` networks with XLA (:meth:`CacheState.xla_allowed`).
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Iterator

import keras

from .. import _config, _warnings
from .._config import CacheInfo
from .._specs import ProgramKey
from ._program import Program


class CacheState:
    """The cache's counts, and the networks this process compiled with XLA (TensorFlow).

    A program made again for one of those networks (after the cache dropped it) finds
    TensorFlow's compiled code under its stable names (:mod:`._tf_functions`): measured on
    digits, 1.1-1.25 s per new program against 3.2 s, and no memory growth against about
    20 MB per program when the names changed. Clearing the cache keeps this record: the code
    it counts stays in memory.
    """

    def __init__(self) -> None:
        self.counts = dict.fromkeys(
            ("hits", "misses", "evictions", "epoch_compiles", "forward_compiles"), 0
        )
        self.xla_networks: set[ProgramKey] = set()
        self.xla_warned = False
        self._lock = threading.Lock()

    def count(self, name: str) -> None:
        with self._lock:
            self.counts[name] += 1

    def xla_allowed(self, key: ProgramKey) -> bool:
        """Whether a new TensorFlow program for ``key`` may compile with XLA.

        TensorFlow never frees XLA code, so a process compiles at most ``program_cache_size``
        networks with XLA; later ones (a search cycling through more networks than the cache
        holds) run in TensorFlow's graph executor, which compiles in a third of the time, runs
        an epoch 1.5-1.9x slower and is freed when dropped. skreg's random numbers are the
        same under both, so the results agree up to float rounding.
        """
        limit = _config.get_config()["program_cache_size"]
        with self._lock:
            if key in self.xla_networks or len(self.xla_networks) < limit:
                self.xla_networks.add(key)
                return True
            warn, self.xla_warned = not self.xla_warned, True
            compiled = len(self.xla_networks)
        if warn:
            _warnings.warn(
                f"skreg has compiled {compiled} networks with XLA in this process, at least "
                f"skreg.get_config()['program_cache_size'] ({limit}). TensorFlow never frees "
                "XLA-compiled code (tensorflow/tensorflow#64170), so further networks run "
                "without XLA: "
                "about 1.5x slower per epoch, freed when dropped, with the same results up to "
                "float rounding. Raise program_cache_size, or use the JAX backend, to keep XLA "
                "(its category, skreg.ProgramCacheWarning, filters it).",
                _warnings.ProgramCacheWarning,
            )
        return False


class ProgramCache:
    """The process's compiled programs by key, least recently used dropped first."""

    def __init__(self) -> None:
        self._programs: OrderedDict[ProgramKey, Program] = OrderedDict()
        self._lock = threading.RLock()
        self.state = CacheState()

    @contextlib.contextmanager
    def lease(self, key: ProgramKey, *, exclusive: bool = False) -> Iterator[Program]:
        """The program of ``key``, kept alive until the block ends.

        A program dropped meanwhile (by :meth:`clear`, a smaller size or another thread's
        fit) is released only when its last lease ends, so no thread loses the program it
        runs. With ``exclusive``, the block has the program's state to itself (TensorFlow's
        variables); where waiting for it could deadlock, it runs on a program of its own,
        built for the block and released after it.
        """
        program = self._check_out(key)
        try:
            if not exclusive:
                yield program
            elif program.claim():
                try:
                    yield program
                finally:
                    program.unclaim()
            else:
                own = make_program(key, self.state)
                own.users, own.dropped = 1, True
                try:
                    yield own
                finally:
                    self._check_in(own)
        finally:
            self._check_in(program)

    def trim(self) -> None:
        """Drop the least recently used programs beyond the configured size."""
        with self._lock:
            while len(self._programs) > _config.get_config()["program_cache_size"]:
                _, program = self._programs.popitem(last=False)
                self.state.count("evictions")
                self._drop(program)

    def clear(self) -> None:
        """Drop every program (statistics and the XLA record are kept)."""
        with self._lock:
            while self._programs:
                self._drop(self._programs.popitem(last=False)[1])

    def info(self) -> CacheInfo:
        with self._lock:
            return CacheInfo(
                **self.state.counts,
                size=len(self._programs),
                max_size=_config.get_config()["program_cache_size"],
                xla_networks=len(self.state.xla_networks),
            )

    def _check_out(self, key: ProgramKey) -> Program:
        with self._lock:
            program = self._programs.get(key)
            if program is not None:
                self._programs.move_to_end(key)
                self.state.count("hits")
            else:
                self.state.count("misses")
                program = self._programs[key] = make_program(key, self.state)
                self.trim()
            program.users += 1
            return program

    def _check_in(self, program: Program) -> None:
        with self._lock:
            program.users -= 1
            if program.dropped and program.users == 0:
                program.release()

    def _drop(self, program: Program) -> None:
        program.dropped = True
        if program.users == 0:
            program.release()


def make_program(key: ProgramKey, state: CacheState) -> Program:
    """A new program for ``key`` on the process's backend.

    The backend is the process's, not the key's: a fit's state is NumPy arrays that any
    backend loads, so an estimator pickled under one backend predicts under the other.
    """
    backend = keras.backend.backend()
    if backend == "jax":
        from ._jax import JaxProgram

        return JaxProgram(key, state)
    if backend == "tensorflow":
        from ._tensorflow import TensorFlowProgram

        return TensorFlowProgram(key, state)
    raise RuntimeError(
        f"skreg supports the 'tensorflow' and 'jax' Keras backends; the active one is {backend!r}."
    )


PROGRAMS = ProgramCache()
# The settings learn of the cache through these, once this module has loaded.
_config.register_hook("info", PROGRAMS.info)
_config.register_hook("clear", PROGRAMS.clear)
_config.register_hook("trim", PROGRAMS.trim)
