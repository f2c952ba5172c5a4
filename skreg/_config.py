"""Process-wide settings: :func:`set_config`, :func:`get_config`, :func:`config_context`.

Modelled on :func:`sklearn.set_config`. The settings live in one dictionary per process (not per
thread): they size caches that every thread shares. They start from the environment variables
``SKREG_PROGRAM_CACHE_SIZE``, ``SKREG_COMPILATION_CACHE_DIR`` and ``SKREG_NUM_THREADS`` (which
``set_config`` sets too, for the worker processes a search starts); the last two are read
when the backend loads (:mod:`skreg._engine._loader`), at the first fit or
predict. The engine tells the settings about its program cache through hooks it registers
(:func:`register_hook`).
"""

from __future__ import annotations

import numbers
import os
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

# Spellings that switch the persistent cache off, in set_config and the environment alike.
_OFF = {"", "0", "off", "false", "no", "none"}


def _defaults() -> dict[str, Any]:
    """The settings from the environment; a value that does not parse warns and is ignored."""
    config: dict[str, Any] = {"program_cache_size": 6, "compilation_cache_dir": "auto"}
    config["n_threads"] = "auto"
    for variable, (name, read) in _VARIABLES.items():
        if variable not in os.environ:
            continue
        try:
            config[name] = read(os.environ[variable])
        except (TypeError, ValueError) as error:
            warnings.warn(
                f"{variable}: {error} Using {config[name]!r}.", RuntimeWarning, stacklevel=3
            )
    return config


def _cache_dir(value: Any) -> str | bool:
    """A ``compilation_cache_dir`` setting: "auto", False (off) or an absolute folder.

    A relative folder would depend on the directory the process started in, and the cache
    of a search's workers would land wherever each started: refused.
    """
    if value is True:
        return "auto"
    if value is False:
        return False
    if not isinstance(value, str | os.PathLike):
        raise TypeError(
            "compilation_cache_dir must be an absolute path, 'auto', or False or 'off' to "
            f"switch the cache off; got {value!r}."
        )
    text = os.fspath(value)
    if text.strip().lower() in _OFF:
        return False
    if text.strip().lower() == "auto":
        return "auto"
    path = os.path.expanduser(text)
    if not os.path.isabs(path):
        raise ValueError(
            f"compilation_cache_dir must be an absolute path, 'auto', or False or 'off' to "
            f"switch the cache off; got the relative path {text!r}. Give an absolute one, "
            f"such as {os.path.abspath(path)!r}."
        )
    return path


def _threads(value: Any) -> int | str:
    """An ``n_threads`` setting: a positive int (or its digits), or "auto" in any case."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "auto":
            return "auto"
        if text.isdigit():
            value = int(text)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        error = ValueError if isinstance(value, numbers.Integral | str) else TypeError
        raise error(f"n_threads must be a positive integer or 'auto'; got {value!r}.")
    return int(value)


def _positive_int(name: str, value: Any) -> int:
    """A positive integer of any integer type (NumPy's too), as a Python int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int; got {value!r}.")
    if value < 1:
        raise ValueError(f"{name} must be >= 1; got {value}.")
    return int(value)


def _cache_size(value: Any) -> int:
    """A ``program_cache_size`` from the environment: a positive int's digits."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    return _positive_int("program_cache_size", value)


# The settings that environment variables set (each with its reader), and so reach worker
# processes.
_VARIABLES: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "SKREG_COMPILATION_CACHE_DIR": ("compilation_cache_dir", _cache_dir),
    "SKREG_NUM_THREADS": ("n_threads", _threads),
    "SKREG_PROGRAM_CACHE_SIZE": ("program_cache_size", _cache_size),
}
_CONFIG: dict[str, Any] = _defaults()
_LOCK = threading.Lock()
# What the engine tells the settings, registered by its modules once they have loaded (so a
# thread never meets one half imported): "read" (the settings the backend has read already),
# "info", "clear" and "trim" (the program cache's).
_HOOKS: dict[str, Callable[[], Any]] = {}


# Whether this process was forked from one that imported skreg: a backend the parent ran
# (through skreg or not) hangs in the child, which the engine then refuses to use.
FORKED = threading.Event()
if hasattr(os, "register_at_fork"):  # not on Windows, which does not fork
    os.register_at_fork(after_in_child=FORKED.set)


def register_hook(name: str, function: Callable[[], Any]) -> None:
    """Let the settings call ``function`` for ``name`` (see :data:`_HOOKS`)."""
    _HOOKS[name] = function


class CacheInfo(NamedTuple):
    """Statistics of the program cache (see :func:`skreg.program_cache_info`)."""

    hits: int
    misses: int
    evictions: int
    epoch_compiles: int
    forward_compiles: int
    size: int
    max_size: int
    xla_networks: int = 0


def get_config() -> dict[str, Any]:
    """The current skreg settings (a copy; change them with :func:`set_config`).

    Returns
    -------
    config : dict
        Keys are the parameters of :func:`set_config`.

    Examples
    --------
    >>> import skreg
    >>> skreg.get_config()["program_cache_size"]
    6
    """
    with _LOCK:
        return dict(_CONFIG)


def set_config(
    program_cache_size: int | None = None,
    compilation_cache_dir: str | os.PathLike | bool | None = None,
    n_threads: int | str | None = None,
) -> None:
    """Change skreg's process-wide settings; None leaves a setting as it is.

    Parameters
    ----------
    program_cache_size : int, default=None
        How many compiled networks the process keeps (default 6). A network is compiled
        once and then serves every fit of it, whatever the data size, the penalties, the
        dropout rates, the augmentation strengths or the learning rate; when more networks
        are in use than the cache holds, the least recently used one is dropped and its
        memory freed (see :func:`program_cache_info` for what is cached). Lowering the size
        drops programs at once. A program of a small network holds about 15 MB on JAX and
        30 MB on TensorFlow. On TensorFlow, this is also how many networks a process
        compiles with XLA, whose code TensorFlow never frees; later ones run without XLA
        (same results up to float rounding).
    compilation_cache_dir : str, path, "auto" or False, default=None
        Where compiled programs are kept on disk, so that a new process (a worker of a
        search, a cluster worker, the next run of a script) loads them instead of compiling
        again. ``"auto"`` (the default) is skreg's folder in the user's cache directory; an
        absolute path puts the cache there (a relative one is refused); False, or one of
        ``"off"``, ``"false"``, ``"no"``, ``"none"``, ``"0"`` and ``""``, switches it off.
        skreg writes only into a subfolder of its own per skreg, Keras and backend version
        and CPU (named ``skreg-<version>_...`` and marked by a ``CACHEDIR.TAG`` file), and
        bounds those subfolders together to 1 GB, dropping their oldest entries first; it
        never deletes anything else under the path. A folder that cannot be created or
        written switches the cache off with a warning. The environment variable
        ``SKREG_COMPILATION_CACHE_DIR`` sets the default, with the same spellings, and
        ``set_config`` sets it in turn, so that the worker processes a search starts
        afterwards use the same folder. Read when the backend loads (the process's first
        fit or predict).
    n_threads : int or "auto", default=None
        Threads the backend's thread pools use in this process (``"auto"`` by default).
        With ``"auto"``, the process's first fit decides: a network whose training step is
        small (less than about 50 million floating-point operations, such as a few hundred
        units on a batch of 200 rows) trains on one thread, which is as fast, and a larger
        one on every core, or in a worker of joblib, Dask or Ray on the worker's share (the
        ``OMP_NUM_THREADS`` they set). A model's last digits depend on the thread count
        (XLA's CPU kernels split their sums by thread), so a small network gives the same
        model serially, in the workers of a search and whatever the machine; a large one
        the same model wherever it gets the same number of threads. A count fixes the
        threads whatever the network: ``n_threads=1`` makes every fit, large or small, give
        the same bits everywhere. The environment variable ``SKREG_NUM_THREADS`` sets the
        default, with the same spellings (``"2"``, ``"auto"`` in any case), and
        ``set_config`` sets it in turn, for the worker processes started afterwards. Read
        when the backend loads (the process's first fit or predict). TensorFlow pools sized
        before that (``tf.config.threading``) are kept under ``"auto"``; a count replaces
        them.

    Examples
    --------
    >>> import skreg
    >>> skreg.set_config(program_cache_size=32)
    >>> skreg.get_config()["program_cache_size"]
    32
    >>> skreg.set_config(program_cache_size=6)
    """
    _apply(_changes(program_cache_size, compilation_cache_dir, n_threads), stacklevel=3)


def _changes(
    program_cache_size: Any = None, compilation_cache_dir: Any = None, n_threads: Any = None
) -> dict[str, Any]:
    """The settings :func:`set_config` is given, validated; None is no change."""
    changes: dict[str, Any] = {}
    if program_cache_size is not None:
        changes["program_cache_size"] = _positive_int("program_cache_size", program_cache_size)
    if compilation_cache_dir is not None:
        changes["compilation_cache_dir"] = _cache_dir(compilation_cache_dir)
    if n_threads is not None:
        changes["n_threads"] = _threads(n_threads)
    return changes


def _apply(changes: dict[str, Any], stacklevel: int, warned: Any = ()) -> None:
    """Store validated settings; warn for those the loaded backend no longer reads (but
    those in ``warned``)."""
    read = _HOOKS.get("read", set)()
    with _LOCK:
        late = [k for k in read if k in changes and changes[k] != _CONFIG[k] and k not in warned]
        _CONFIG.update(changes)
        # Into the environment too, which the workers a search starts next inherit: a
        # setting made for the search reaches its loky, Dask or Ray worker processes.
        for variable, (name, _) in _VARIABLES.items():
            if name in changes:
                value = changes[name]
                os.environ[variable] = "off" if value is False else str(value)
    if late:
        warnings.warn(
            f"{', '.join(late)} is read when the backend loads, and this process loaded it at "
            "its first fit or predict: the change applies to new processes (set it before the "
            "first fit, or with the SKREG_* environment variables).",
            RuntimeWarning,
            stacklevel=stacklevel,
        )
    if "program_cache_size" in changes and "trim" in _HOOKS:
        _HOOKS["trim"]()


def program_cache_info() -> CacheInfo:
    """Statistics of skreg's cache of compiled training programs.

    A program is compiled once per network (layer widths, activation, batch normalization,
    augmentation kinds, optimizer and loss) and serves every fit of it; it compiles its
    training epoch once per padded data shape and its forward pass once per padded
    prediction size. Compare the counts before and after a search to see what it compiled.

    Returns
    -------
    info : CacheInfo
        A named tuple: ``hits`` and ``misses`` (lookups that found or built a program),
        ``evictions``, ``epoch_compiles`` and ``forward_compiles`` (traces of the training
        epoch and of the forward pass), ``size`` (programs held now), ``max_size``
        (``skreg.get_config()["program_cache_size"]``) and ``xla_networks`` (on TensorFlow,
        the networks this process compiled with XLA, at most the largest ``max_size`` it
        had: TensorFlow never frees XLA code, so this record outlives
        :func:`clear_program_cache`; 0 on JAX).

    Examples
    --------
    >>> import skreg
    >>> info = skreg.program_cache_info()
    >>> info.size <= info.max_size
    True
    """
    if "info" not in _HOOKS:  # nothing fitted yet: the backend is not even loaded
        return CacheInfo(0, 0, 0, 0, 0, 0, get_config()["program_cache_size"], 0)
    return _HOOKS["info"]()


def clear_program_cache() -> None:
    """Drop every compiled program and free its memory; the next fit compiles again.

    Fitted estimators keep working: they hold their weights, not the programs. A program
    another thread is using is freed when that thread is done with it. Programs saved in
    the on-disk compilation cache stay there (see :func:`set_config`), and so does the code
    TensorFlow compiled with XLA, which it never frees (``xla_networks``).

    Examples
    --------
    >>> import skreg
    >>> skreg.clear_program_cache()
    >>> skreg.program_cache_info().size
    0
    """
    if "clear" in _HOOKS:
        _HOOKS["clear"]()


@contextmanager
def config_context(**settings: Any) -> Iterator[None]:
    """Apply :func:`set_config` settings inside a ``with`` block, then restore them, and
    the ``SKREG_*`` environment variables that :func:`set_config` sets, as they were.

    Parameters
    ----------
    **settings
        Parameters of :func:`set_config`.

    Examples
    --------
    >>> import skreg
    >>> with skreg.config_context(program_cache_size=2):
    ...     skreg.get_config()["program_cache_size"]
    2
    """
    before = get_config()
    unknown = sorted(set(settings) - set(before))
    if unknown:
        raise TypeError(
            f"config_context() got an unexpected keyword argument {unknown[0]!r}; the "
            f"settings are {', '.join(sorted(before))}."
        )
    environment = {variable: os.environ.get(variable) for variable in _VARIABLES}
    read = set(_HOOKS.get("read", set)())  # a change to these warns once, on entry
    # Warnings point at the with statement: past the generator and contextlib's frame.
    _apply(_changes(**settings), stacklevel=4)
    try:
        yield
    finally:
        # The saved values were validated when they were set: stored as they are. A setting
        # that was already too late on entry warned then, not again on the way out.
        _apply({name: before[name] for name in settings}, stacklevel=4, warned=read)
        for variable, value in environment.items():
            if value is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = value
