"""skreg's networks compute in float32 and compiled, whatever the user set globally.

A user's ``keras.config.set_floatx("float64")`` or ``set_dtype_policy("mixed_float16")``,
set for their own models, reached skreg's: on TensorFlow the first fit of a network then
failed inside Keras (float64 variables against float32 data), and its half-built program
stayed in the on-disk cache, failing the network's fits in every later process; on JAX the
fit trained silently in float16 or mixed precision, giving other predictions than
TensorFlow. JAX's ``jax_disable_jit``, set to debug one's own code, failed every fit
(skreg's programs are compiled ahead of time). Every engine call that builds, traces or
runs a network does it in :func:`own_settings`, which sets floatx and the dtype policy to
float32 (and JAX's jit on) for the call and puts the user's back after.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import keras

FLOAT32 = "float32"

_lock = threading.Lock()
_inside = 0  # calls inside own_settings(), in every thread: floatx is one per process
_users_floatx: str | None = None  # the user's floatx while _inside > 0, if not float32
# Keras' dtype policy is a thread's own: each thread puts its own back.
_thread = threading.local()


@contextmanager
def own_settings() -> Iterator[None]:
    """Keras' floatx and this thread's dtype policy at float32 for the block, and on JAX
    its jit on (a no-op where they are already)."""
    global _inside, _users_floatx
    # The policy first: one never set follows floatx, and reading it fixes it, as the
    # user's next layer would.
    policy = keras.config.dtype_policy() if getattr(_thread, "depth", 0) == 0 else None
    with _lock:
        if _inside == 0 and keras.config.floatx() != FLOAT32:
            _users_floatx = keras.config.floatx()
            keras.config.set_floatx(FLOAT32)
        _inside += 1
    if policy is not None and policy.name != FLOAT32:
        keras.config.set_dtype_policy(FLOAT32)
    _thread.depth = getattr(_thread, "depth", 0) + 1
    try:
        with ExitStack() as stack:
            if keras.backend.backend() == "jax":
                import jax

                stack.enter_context(jax.disable_jit(False))
            yield
    finally:
        _thread.depth -= 1
        if policy is not None and policy.name != FLOAT32:
            keras.config.set_dtype_policy(policy)
        with _lock:
            _inside -= 1
            if _inside == 0 and _users_floatx is not None:
                keras.config.set_floatx(_users_floatx)
                _users_floatx = None
