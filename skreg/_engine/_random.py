"""Random draws inside compiled training steps: one generator for every backend and compiler.

Keras draws TensorFlow random numbers with the ``auto_select`` algorithm, which XLA compiles
into a slow CPU kernel (a digits fit with dropout took 4 to 11 s instead of 0.36 s). Each of
TensorFlow's fast choices works in one setting only: ``threefry`` exists only under XLA, and
``philox`` gives different numbers under XLA than in a TensorFlow graph. skreg needs the same
numbers in both, because a TensorFlow program may be compiled either way (see
:mod:`skreg._programs`), so it draws with a counter-based hash in plain integer arithmetic:
``lowbias32`` (Chris Wellons' 32-bit integer hash) applied to the element's index, keyed by
the generator's seed. Measured for 100 draws of 200 x 128 floats: 3.4 ms under XLA (threefry:
7.7 ms, philox: 37 ms), 31 ms in a TensorFlow graph. The numbers are the same on TensorFlow
(XLA or not) and JAX.

Seeds come from a Keras ``SeedGenerator``, so the draws are reproducible and the generator
state travels with the model or augmenter.
"""

from __future__ import annotations

from typing import Any

import keras

_MULTIPLIERS = (0x7FEB352D, 0x846CA68B)
_GOLDEN = 0x9E3779B9


def drawn(seed_generator: keras.random.SeedGenerator) -> Any:
    """Advance ``seed_generator`` now and return the seed it gave, for a later draw.

    For draws inside a conditional branch: the generator's state must not change there.
    """
    return seed_generator.next()


def uniform(shape: Any, seed: Any) -> Any:
    """Uniform float32 values in [0, 1) on a 2**-24 grid.

    ``seed`` is a ``SeedGenerator`` (advanced by the draw) or a seed from :func:`drawn`.
    """
    ops = keras.ops
    bits = _bits(shape, seed)
    return ops.cast(ops.right_shift(bits, 8), "float32") * (1.0 / (1 << 24))


def randint(shape: Any, maxval: Any, seed: Any) -> Any:
    """Uniform int32 values in [0, maxval) (``maxval`` below 2**24)."""
    ops = keras.ops
    return ops.cast(ops.floor(uniform(shape, seed) * ops.cast(maxval, "float32")), "int32")


def _bits(shape: Any, seed: Any) -> Any:
    ops = keras.ops
    if isinstance(seed, keras.random.SeedGenerator):
        seed = seed.next()
    # Seeds are int64 on TensorFlow and uint32 on JAX; their values fit in 32 bits.
    seed = ops.cast(seed, "uint32")
    golden = ops.convert_to_tensor(_GOLDEN, "uint32")
    key = _lowbias32(ops.bitwise_xor(seed[0], _lowbias32(seed[1] + golden)))
    size = 1
    for dimension in shape:
        size = size * dimension
    index = ops.cast(ops.arange(size), "uint32")
    bits = _lowbias32(ops.bitwise_xor(_lowbias32(index + key), seed[0]))
    return ops.reshape(bits, shape)


def _lowbias32(x: Any) -> Any:
    ops = keras.ops
    x = ops.bitwise_xor(x, ops.right_shift(x, 16))
    x = x * ops.convert_to_tensor(_MULTIPLIERS[0], "uint32")
    x = ops.bitwise_xor(x, ops.right_shift(x, 15))
    x = x * ops.convert_to_tensor(_MULTIPLIERS[1], "uint32")
    return ops.bitwise_xor(x, ops.right_shift(x, 16))
