"""Process-wide settings: :func:`set_config`, :func:`get_config`, :func:`config_context`.

Modelled on :func:`sklearn.set_config`. The settings live in one dictionary per process (not per
thread): they size caches that every thread shares.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_DEFAULTS: dict[str, Any] = {"program_cache_size": 6}
_CONFIG: dict[str, Any] = dict(_DEFAULTS)
_LOCK = threading.Lock()


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


def set_config(program_cache_size: int | None = None) -> None:
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

    Examples
    --------
    >>> import skreg
    >>> skreg.set_config(program_cache_size=32)
    >>> skreg.get_config()["program_cache_size"]
    32
    >>> skreg.set_config(program_cache_size=6)
    """
    changes = {}
    if program_cache_size is not None:
        if isinstance(program_cache_size, bool) or not isinstance(program_cache_size, int):
            raise TypeError(f"program_cache_size must be an int; got {program_cache_size!r}.")
        if program_cache_size < 1:
            raise ValueError(f"program_cache_size must be >= 1; got {program_cache_size}.")
        changes["program_cache_size"] = program_cache_size
    with _LOCK:
        _CONFIG.update(changes)
    if "program_cache_size" in changes:
        from ._programs import PROGRAMS

        PROGRAMS.trim()


@contextmanager
def config_context(**settings: Any) -> Iterator[None]:
    """Apply :func:`set_config` settings inside a ``with`` block, then restore them.

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
    set_config(**settings)
    try:
        yield
    finally:
        set_config(**{name: before[name] for name in settings})
