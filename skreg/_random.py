"""Random draws inside compiled training steps, fast on every backend.

Keras draws TensorFlow random numbers with the ``auto_select`` algorithm, which XLA compiles
into a slow CPU kernel: a fit on digits with dropout (128-64 network, 40 epochs) took 4 to
11 s instead of 0.36 s with ``threefry``, and longer still when other processes shared the
cores. TensorFlow runs ``threefry`` only under XLA, so the training engine traces its
XLA-compiled epoch inside :func:`xla_compiled`, and there these helpers ask for ``threefry``;
everywhere else (JAX, which uses threefry already, eager TensorFlow, non-XLA graphs) they are
Keras' own functions. Seeds come from a Keras ``SeedGenerator``, so the draws are
reproducible and the generator state travels with the model or augmenter.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import keras

_TRACING = threading.local()


@contextmanager
def xla_compiled() -> Iterator[None]:
    """Mark the code traced inside as compiled by XLA on TensorFlow."""
    previous = getattr(_TRACING, "xla", False)
    _TRACING.xla = True
    try:
        yield
    finally:
        _TRACING.xla = previous


def uniform(shape: Any, seed_generator: keras.random.SeedGenerator) -> Any:
    """Uniform floats in [0, 1)."""
    if not _threefry():
        return keras.random.uniform(shape, seed=seed_generator)
    import tensorflow as tf

    return tf.random.stateless_uniform(shape, seed=_tf_seed(seed_generator), alg="threefry")


def randint(shape: Any, maxval: Any, seed_generator: keras.random.SeedGenerator) -> Any:
    """Uniform integers in [0, maxval)."""
    if not _threefry():
        return keras.random.randint(shape, 0, maxval, seed=seed_generator)
    import tensorflow as tf

    return tf.random.stateless_uniform(
        shape,
        seed=_tf_seed(seed_generator),
        minval=0,
        maxval=maxval,
        dtype=tf.int32,
        alg="threefry",
    )


def _threefry() -> bool:
    return keras.backend.backend() == "tensorflow" and getattr(_TRACING, "xla", False)


def _tf_seed(seed_generator: keras.random.SeedGenerator) -> Any:
    import tensorflow as tf

    # The generator's state is int64; TensorFlow's stateless ops under XLA want int32.
    seed = seed_generator.next()
    return tf.cast(tf.math.floormod(seed, tf.int32.max - 1), tf.int32)
