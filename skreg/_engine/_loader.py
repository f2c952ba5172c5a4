"""The Keras backend: loaded at the first fit or predict, set up for the process it runs in.

Measured on the 2-core machine before this module (issue 10): ``import skreg`` took 5-7 s
because it imported TensorFlow; a new process's first fit compiled for 1.3-2 s (TensorFlow)
or 3.5-4 s (JAX); and ``GridSearchCV(n_jobs=2)`` on joblib's loky workers was 3.3x slower
than serial, because each worker imported the backend, compiled every network again and ran
the backend's thread pools on every core. So:

- Nothing imports Keras before a fit or predict needs it. ``import skreg``, ``clone``,
  ``get_params``, ``repr``, pickling and the command line's parsing use NumPy and
  scikit-learn only; fitted estimators hold NumPy arrays (:mod:`skreg._specs`).
- :func:`load` runs once per process, before Keras is imported. It sizes the backend's thread
  pools (``n_threads``: one thread by default; with ``"auto"``, the ``OMP_NUM_THREADS``
  limit that loky, Dask and Ray set in their workers, else every core) and points the
  backend's persistent compilation cache at a folder per skreg, Keras and backend version
  and CPU (:mod:`skreg._engine._disk`), so that a new process loads compiled programs from
  disk instead of compiling them again.
- Threads by the work of a training step (:func:`thread_count`). XLA's CPU kernels split
  their sums by thread, so a model's last digits depend on the thread count, and small
  networks gain nothing from more threads: with every core in the user's process and one per
  worker, a serial digits search and the same search with ``n_jobs=2`` differed
  (probabilities by up to 1e-3 after 200 epochs, enough to reorder close candidates), and
  ran no faster. So a small step gets one thread everywhere; a large one every core or a
  worker's share (``benchmarks/bench_threads.py`` measured where a second thread starts to
  pay: between 30 and 70 million operations per step on both backends).
- A process forked after the backend loaded inherits its state but not its threads, and
  hangs at its first backend call; :func:`load` sees the new process id and raises instead,
  also when the parent ran the backend without skreg (a fork after ``import skreg``).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .. import _config, _warnings
from ._disk import MAX_BYTES, folder, prune, usable
from ._imports import deferred_imports

# Only compiles that take longer than this are written to JAX's persistent cache (a read
# costs about a millisecond, a small compile 50-300 ms).
_JAX_CACHE_MIN_COMPILE_SECONDS = 0.05

# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

# A fit whose training step takes at least this much arithmetic (floating-point operations,
# NetworkSpec.step_flops) gets every core, or a worker's share; below it, one thread is as
# fast or faster, and keeps results the same whatever the machine. Measured by
# benchmarks/bench_threads.py; see thread_count.
MANY_THREADS_FROM_FLOPS = 50e6

_LOCK = threading.RLock()
# Set while this thread runs load(): a load that finds it set was re-entered from the import.
_LOADING = threading.local()
_imported_in: int | None = None  # id of the process that imported the backend
_loaded_in: int | None = None  # ... that also set up its thread pools
_settings: dict[str, Any] = {}
# Set when an interrupt (Ctrl-C) stopped the backend's import in this process, part-way.
_import_interrupted = False


def loaded() -> bool:
    """Whether this process (or the one it was forked from) loaded the backend."""
    return _loaded_in is not None


def read_settings() -> set[str]:
    """The settings this process has read already, so that changing them now does nothing:
    the compilation cache's folder once the backend is imported, the thread count once its
    pools are set up."""
    return ({"compilation_cache_dir"} if _imported_in else set()) | (
        {"n_threads"} if _loaded_in else set()
    )


def load(step_flops: float | None = None, *, quiet: bool = False) -> None:
    """Import the backend and set up its thread pools, once per process; raise in a forked
    child. ``step_flops``, the arithmetic of one training step of the fit about to run,
    decides the thread count at the process's first fit (:func:`thread_count`).

    TensorFlow writes lines to the standard error before its log level applies (absl's
    start-up notice, oneDNN's and the GPU probes of its import and of its first op). With
    ``quiet``, or where ``TF_CPP_MIN_LOG_LEVEL=3`` asks for no log lines (the command line
    sets it, and its parallel workers inherit it), they go to /dev/null while the backend
    loads and runs one op.
    """
    if _loaded_in == os.getpid():
        return
    quiet = quiet or (
        os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "3" and backend_name() == "tensorflow"
    )
    if not quiet:
        _load(step_flops)
        return
    with _LOCK, _stderr_silenced():  # one thread at a time moves the descriptor
        if _loaded_in == os.getpid():  # another thread loaded it while this one waited
            return
        _load(step_flops)
        import keras

        keras.ops.convert_to_numpy(0.0)  # the first op starts the runtime


@contextlib.contextmanager
def _stderr_silenced():
    """The process's standard error (file descriptor 2, where C++ libraries write) to
    /dev/null for the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _load(step_flops: float | None) -> None:
    if _loaded_in is not None or _imported_in not in (None, os.getpid()):
        raise RuntimeError(_forked_message())
    if _imported_in is None and _config.FORKED.is_set() and _backend_running():
        raise RuntimeError(_forked_message())  # the parent ran the backend without skreg
    with _LOCK:
        if getattr(_LOADING, "active", False):
            raise RuntimeError(
                "A fit started while Keras was being imported for skreg's first fit: a "
                "module that Keras imports is shadowed by a file of yours that fits a model "
                "(a script named cv2.py is imported as OpenCV's, for example). Rename the "
                "file."
            )
        _LOADING.active = True
        try:
            if _imported_in is None:
                _import()
            if _loaded_in is None:
                _start(step_flops)
        finally:
            _LOADING.active = False


def settings() -> dict[str, Any]:
    """What :func:`load` applied (backend, threads, compilation-cache folder) and its time."""
    load()
    return dict(_settings)


def _import() -> None:
    """Import Keras and its backend, with the compilation cache set up and the optional
    imports deferred (:mod:`._imports`); no thread pool starts here."""
    global _imported_in, _import_interrupted
    start = time.perf_counter()
    _malloc_for_reuse()
    backend = backend_name()
    missing = missing_backend(backend)
    if missing:
        raise ImportError(missing)
    cache = usable(folder(backend))
    if backend == "tensorflow":
        _before_tensorflow(cache)
    try:
        with deferred_imports(backend):
            import keras
    except KeyboardInterrupt:
        _import_interrupted = True
        raise
    except Exception as error:
        if not _import_interrupted:
            raise
        raise RuntimeError(
            f"Importing Keras and {backend} failed ({type(error).__name__}: {error}) after "
            "an interrupt (Ctrl-C) stopped their import earlier in this process: neither "
            "backend can be imported again once its import stopped part-way. Restart the "
            "Python process (in Jupyter, the kernel)."
        ) from error

    backend = keras.backend.backend()
    if backend == "jax" and cache is not None:
        _after_jax(cache)
    _settings.update(
        backend=backend, compilation_cache=cache, import_seconds=time.perf_counter() - start
    )
    _imported_in = os.getpid()


def _start(step_flops: float | None) -> None:
    """Size the backend's thread pools, before its first operation creates them."""
    global _loaded_in
    start = time.perf_counter()
    backend = _settings["backend"]
    threads = thread_count(step_flops)
    if backend == "tensorflow":
        threads = _after_tensorflow(threads)
    if backend == "jax":
        _jax_flags(threads)
        if threads is not None:
            _jax_cpu_threads(threads)
    _settings.update(
        n_threads=threads,
        step_flops=step_flops,
        load_seconds=_settings["import_seconds"] + time.perf_counter() - start,
    )
    _loaded_in = os.getpid()


def backend_name() -> str:
    """The Keras backend this process will use, found as Keras finds it, without importing it."""
    backend = getattr(sys.modules.get("keras"), "backend", None)  # None while importing
    if backend is not None:
        return backend.backend()
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    config = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "keras.json"
    try:
        return json.loads(config.read_text()).get("backend", "tensorflow")
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


def installed(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing, or a module hidden by None
        return False


def missing_backend(backend: str) -> str | None:
    """What to install when ``backend``'s package is not installed (and Keras not yet
    imported), else None: Keras' own error is a traceback deep in its backend module."""
    package = {"tensorflow": "tensorflow", "jax": "jax"}.get(backend)
    if package is None or "keras" in sys.modules or installed(package):
        return None
    install = "'skreg[jax]'" if backend == "jax" else "tensorflow"
    return (
        f"skreg's Keras backend is {backend!r} (KERAS_BACKEND or ~/.keras/keras.json), but "
        f"{package} is not installed: python -m pip install {install}, or choose the other "
        "backend."
    )


def thread_count(step_flops: float | None = None) -> int | None:
    """Threads for the backend's pools; None is every core.

    ``n_threads`` when it is a count. For ``"auto"`` (the default): one thread when a
    training step is small (below :data:`MANY_THREADS_FROM_FLOPS`, or unknown: a process
    that predicts first), else a worker's share (the ``OMP_NUM_THREADS`` that loky, Dask and
    Ray set in their workers) or every core. Small networks train no faster on more threads,
    and on one thread their results are the same in every process, serial or parallel; a
    large one trains faster on the cores it is given.
    """
    configured = _config.get_config()["n_threads"]
    if configured != "auto":
        return configured
    if step_flops is None or step_flops < MANY_THREADS_FROM_FLOPS:
        return 1
    # loky gives each worker cores // n_jobs; Dask's nanny and Ray set 1 per task thread.
    limit = os.environ.get("OMP_NUM_THREADS", "")
    if not limit.isdigit() or int(limit) < 1 or _set_by_dask_nannies(limit):
        return None
    return int(limit)


def _set_by_dask_nannies(limit: str) -> bool:
    """Whether ``OMP_NUM_THREADS`` is what Dask nannies in this process set for their workers.

    A nanny sets its workers' variables in its own process's environment before starting them,
    and a ``LocalCluster`` runs its nannies in the user's process: after
    ``LocalCluster(n_workers=2)`` a notebook has ``OMP_NUM_THREADS=1`` too, and is no worker.
    """
    nanny, worker = sys.modules.get("distributed.nanny"), sys.modules.get("distributed.worker")
    nannies = list(getattr(getattr(nanny, "Nanny", None), "_instances", ()))
    if not nannies or list(getattr(getattr(worker, "Worker", None), "_instances", ())):
        return False
    return all(
        str(getattr(host, "pre_spawn_env", {}).get("OMP_NUM_THREADS")) == limit for host in nannies
    )


def _malloc_for_reuse() -> None:
    """Let glibc reuse freed buffers in processes that set MALLOC_TRIM_THRESHOLD_.

    Dask's workers set it to 64 KiB, which also freezes glibc's mmap threshold at 128 KiB: every
    buffer a fit allocates above that (a padded batch of data) is then mapped and unmapped at
    each use. Measured on a Dask LocalCluster: each fit 30% slower. glibc's usual limits (the
    mmap threshold grows up to 32 MiB, trimming at twice that) bring it back.
    """
    if not os.environ.get("MALLOC_TRIM_THRESHOLD_") or not sys.platform.startswith("linux"):
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return
    mallopt(_M_MMAP_THRESHOLD, 32 << 20)
    mallopt(_M_TRIM_THRESHOLD, 64 << 20)


def _before_tensorflow(cache: str | None) -> None:
    # TensorFlow parses its XLA flags once, when its first operation starts its runtime.
    if cache is None:  # off here, also where the process that started this one had it on
        _own_flags("TF_XLA_FLAGS", None)
        return
    prune(Path(cache), bounded_by_backend=False)
    flags = os.environ.get("TF_XLA_FLAGS", "")
    # TensorFlow splits its flags at spaces, except within double quotes: unquoted, a folder
    # "/home/a b/cache" was "/home/a", where XLA wrote (or failed on a file of that name).
    flag = f'--tf_xla_persistent_cache_directory="{cache}"'
    if _tensorflow_started() and "--tf_xla_persistent_cache_directory" not in flags:
        _warnings.warn(
            "TensorFlow ran before skreg's first fit, so skreg's on-disk compilation cache "
            "is off in this process: each new network compiles again (seconds) instead of "
            "loading what an earlier process compiled. Fit or predict with skreg before "
            f"other TensorFlow work, or set TF_XLA_FLAGS='{flag}' before TensorFlow starts.",
            RuntimeWarning,
        )
    _own_flags("TF_XLA_FLAGS", flag)


def _own_flags(variable: str, flags: str | None) -> None:
    """Put skreg's ``flags`` (None: none) into the environment variable ``variable``
    (``TF_XLA_FLAGS``, ``XLA_FLAGS``) in place of those that the process which started this
    one added: processes inherit the environment, and a worker with other settings (the
    cache off, another thread count) would run with its parent's. What skreg added is
    recorded beside it, in ``_SKREG_ADDED_<variable>``, for the processes this one starts."""
    record = f"_SKREG_ADDED_{variable}"
    value = os.environ.get(variable, "")
    inherited = os.environ.pop(record, None)
    if inherited:
        value = value.replace(inherited, "", 1).strip()
    if flags:
        value = f"{value} {flags}".strip()
        os.environ[record] = flags
    if value:
        os.environ[variable] = value
    else:
        os.environ.pop(variable, None)


def _tensorflow_started() -> bool:
    """Whether TensorFlow's runtime has started in this process (an operation ran)."""
    if "tensorflow" not in sys.modules:
        return False
    try:
        from tensorflow.python.eager import context

        return context.context()._context_handle is not None
    except Exception:  # TensorFlow changed: assume it did not start
        return False


def _after_tensorflow(threads: int | None) -> int | None:
    """Size TensorFlow's pools (XLA's compiled code runs on the intra-op pool; both exist
    from the first op on) to ``threads``; return the threads the fits get. Pools the user
    sized before the first fit are kept under ``n_threads="auto"`` (a count replaces them)."""
    import tensorflow as tf

    pools = tf.config.threading
    own = pools.get_intra_op_parallelism_threads(), pools.get_inter_op_parallelism_threads()
    if any(own) and _config.get_config()["n_threads"] == "auto":
        return own[0] or None  # the intra-op pool (0: TensorFlow's default, every core)
    if threads is None:
        return None
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        names = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")
        if all(os.environ.get(name) == str(threads) for name in names):
            return threads  # TensorFlow started with these counts
        _warnings.warn(
            f"TensorFlow ran before skreg's first fit, so skreg could not set its thread pools "
            f"to {threads} (n_threads): fits in this process use TensorFlow's own thread "
            "count, and their last digits may differ from the same fits in other processes. "
            "Fit or predict with skreg before other TensorFlow work, or set "
            f"TF_NUM_INTRAOP_THREADS={threads} and TF_NUM_INTEROP_THREADS={threads}.",
            RuntimeWarning,
        )
    return threads


def _jax_flags(threads: int | None) -> None:
    # Read when JAX creates its CPU client (at its first operation, not at its import):
    # single-threaded Eigen kernels (the usual XLA_FLAGS recipe). The size of the client's
    # pool is set in _jax_cpu_threads.
    single = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    _own_flags("XLA_FLAGS", single if threads == 1 else None)


def _jax_cpu_threads(threads: int) -> None:
    """Start JAX's CPU client with a pool of ``threads`` threads.

    XLA's CPU client sizes its pool by the CPUs the process may run on, and the flags set in
    :func:`_before_jax` do not limit it: a worker limited to one thread still ran its fits
    on two pool threads, handing work between them. Measured on digits, 15 fits with
    ``OMP_NUM_THREADS=1`` took 7.0-8.7 s of wall time and 10 s of CPU, with 28,000 context
    switches; with the pool started on one CPU, 5.4 s and 5.4 s, with 550.
    So the client starts while this thread may run on ``threads`` CPUs only, and the threads
    it starts are then given back every CPU of the process (Linux only).
    """
    import jax

    tasks = Path("/proc/self/task")
    if not hasattr(os, "sched_setaffinity") or not tasks.is_dir():
        return
    cpus = os.sched_getaffinity(0)
    if threads >= len(cpus):
        return
    before = set(tasks.iterdir())
    os.sched_setaffinity(0, sorted(cpus)[:threads])
    try:
        jax.devices("cpu")
    finally:
        os.sched_setaffinity(0, cpus)
        for task in set(tasks.iterdir()) - before:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(int(task.name), cpus)


def _after_jax(cache: str) -> None:
    import jax

    jax.config.update("jax_compilation_cache_dir", cache)
    jax.config.update("jax_compilation_cache_max_size", MAX_BYTES)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", _JAX_CACHE_MIN_COMPILE_SECONDS)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    prune(Path(cache), bounded_by_backend=True)


def _backend_running() -> bool:
    """Whether the backend's runtime has started in this process, or in the one it was
    forked from (an operation ran, skreg's or not)."""
    if _tensorflow_started():
        return True
    try:
        from jax._src import xla_bridge

        return bool(xla_bridge._backends) if "jax" in sys.modules else False
    except Exception:  # JAX changed, or is not installed: assume it did not start
        return False


def _forked_message() -> str:
    backend = _settings.get("backend") or backend_name()
    parent = f"process {_loaded_in}" if _loaded_in else "a process"
    return (
        f"skreg cannot run in this process: it was forked from {parent}, "
        f"which had already loaded {backend}, and {backend} hangs in a forked child. Run "
        "parallel work in fresh processes: joblib's default 'loky' backend (n_jobs in "
        "scikit-learn), multiprocessing with the 'spawn' or 'forkserver' start method "
        "(multiprocessing.get_context('spawn')), Dask or Ray; or fork before the first fit."
    )


_config.register_hook("read", read_settings)
