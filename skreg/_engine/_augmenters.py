"""The Keras layers that apply the augmentations of :mod:`skreg.augmentation` in training.

The augmentation classes only describe themselves: each kind is a name (``"gaussian_noise"``,
``"swap_noise"``, ``"mixup"``, ``"image"``) and a structure, and this module maps the name to
its layer. So the specifications never import Keras and the engine never imports them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from .._specs import child_seed
from ._random import randint, uniform


def build_augmenter(
    kinds: Sequence[tuple[type, Any]], n_codes: int = 0, n_features: int = 0
) -> _Augmenter | None:
    """The Keras layer applying the augmentation ``kinds`` in order to rows of ``n_features``
    columns, or None without any.

    ``n_codes``: the input's last columns that are categorical codes (embedded columns of a
    table, :class:`skreg._specs.FrontSpec`). A code names a level, so noise never touches
    it (the front would read a neighbouring level) and Mixup gives a mixed row the code of
    the row that weighs more; swap noise swaps codes as it swaps values.

    Its strengths, random-generator states and swap noise's column groups are placeholders;
    every fit gives them values (:meth:`_Augmenter.initial_state`).
    """
    steps = [_LAYERS[name](structure, n_codes, n_features) for name, structure in kinds]
    return _Augmenter(steps) if steps else None


class _Augmenter(keras.layers.Layer):
    """Applies the augmentation steps in order to a training batch ``(x, y)``.

    Each step takes ``n_host_arrays`` of the per-batch arrays drawn on the host (Mixup's
    partners and weights), in order.
    """

    def __init__(self, steps: list[keras.layers.Layer], **kwargs: Any) -> None:
        super().__init__(name="augmentation", **kwargs)
        self.steps = steps
        self.built = True  # the steps make their variables when constructed

    @property
    def xla_compatible(self) -> bool:
        """Whether TensorFlow can compile the steps with XLA (its affine image op cannot)."""
        return not any(isinstance(step, _ImageLayer) and step.affine for step in self.steps)

    def initial_state(
        self,
        strengths: Sequence[Sequence[float]],
        seeds: np.random.SeedSequence,
        sources: np.ndarray | None = None,
    ) -> tuple[np.ndarray, ...]:
        """Values of the non-trainable variables: the steps' strengths, fresh seeds and, for
        swap noise, which columns swap together: those of one ``sources`` value, the input
        column each column comes from (a categorical's one-hot columns, a numeric column and
        its missing-value indicator); each column on its own without ``sources``."""
        values: dict[int, np.ndarray] = {}
        for step, step_strengths in zip(self.steps, strengths, strict=True):
            for variable, value in zip(step.strength_variables, step_strengths, strict=True):
                values[id(variable)] = np.asarray(value, dtype=np.float32)
            if isinstance(step, _SwapNoiseLayer):
                values[id(step.groups)] = column_groups(sources, step.groups.shape[0])
            generator = getattr(step, "seed_generator", None)
            if generator is not None:
                values[id(generator.state)] = np.array([child_seed(seeds), 0])
        return tuple(
            np.asarray(values[id(v)], dtype=keras.backend.standardize_dtype(v.dtype))
            for v in self.non_trainable_variables
        )

    def call(self, x: Any, y: Any, *host_arrays: Any) -> tuple[Any, Any]:
        arrays = iter(host_arrays)
        for step in self.steps:
            x, y = step(x, y, *(next(arrays) for _ in range(step.n_host_arrays)))
        return x, y


class _Step(keras.layers.Layer):
    """One augmentation inside the augmenter: ``(x, y, *host_arrays) -> (x, y)``."""

    n_host_arrays = 0

    def __init__(
        self, strengths: Sequence[str] = (), random: bool = True, n_codes: int = 0, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.n_codes = n_codes  # the last columns: categorical codes (build_augmenter)
        self.strength_variables = [
            self.add_weight(shape=(), initializer="zeros", trainable=False, name=name)
            for name in strengths
        ]
        if random:
            self.seed_generator = keras.random.SeedGenerator(0)
        self.built = True


class _MixLayer(_Step):
    """Mixes each row (and its target) with its partner row by the row's weight ``lam``."""

    n_host_arrays = 2

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(random=False, **kwargs)

    def call(self, x: Any, y: Any, partners: Any, lambdas: Any) -> tuple[Any, Any]:
        ops = keras.ops
        lam = ops.expand_dims(lambdas, 1)
        partner = ops.take(x, partners, axis=0)
        mixed = lam * x + (1.0 - lam) * partner
        if self.n_codes:  # a code is one level or the other: the heavier row's
            k = self.n_codes
            codes = ops.where(lam >= 0.5, x[:, -k:], partner[:, -k:])
            mixed = ops.concatenate([mixed[:, :-k], codes], axis=1)
        y = lam * y + (1.0 - lam) * ops.take(y, partners, axis=0)
        return mixed, y


class _GaussianNoiseLayer(_Step):
    """Adds ``std`` times standard normal noise, drawn by the Box-Muller transform.

    Keras' ``GaussianNoise`` layer would do, but TensorFlow's XLA-compiled normal sampler made a
    fit on digits (256-256 network, 20 epochs) take 0.96 s instead of 0.31 s; two uniform draws
    and the Box-Muller transform cost almost nothing.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strengths=("std",), **kwargs)

    def call(self, x: Any, y: Any) -> tuple[Any, Any]:
        ops = keras.ops
        k = self.n_codes
        values = x[:, :-k] if k else x  # codes stay (build_augmenter)
        shape = ops.shape(values)
        # 1 - U lies in (0, 1], so the logarithm is finite.
        radius = ops.sqrt(-2.0 * ops.log(1.0 - uniform(shape, self.seed_generator)))
        angle = (2.0 * math.pi) * uniform(shape, self.seed_generator)
        noisy = values + self.strength_variables[0] * radius * ops.cos(angle)
        return (ops.concatenate([noisy, x[:, -k:]], axis=1) if k else noisy), y


class _SwapNoiseLayer(_Step):
    """Swap noise within the batch (see :class:`skreg.SwapNoise`): each column group (its
    columns' index in the run-time ``groups``) swaps or not, for one donor row, together."""

    def __init__(self, n_features: int, **kwargs: Any) -> None:
        super().__init__(strengths=("rate",), **kwargs)
        self.groups = self.add_weight(
            shape=(n_features,), initializer="zeros", dtype="int32", trainable=False,
            name="groups",
        )  # fmt: skip

    def call(self, x: Any, y: Any) -> tuple[Any, Any]:
        ops = keras.ops
        shape = ops.shape(x)
        # A draw per group, read by each of its columns: the draws of the columns' own
        # positions when every column is its own group.
        swap = uniform(shape, self.seed_generator) < self.strength_variables[0]
        donors = randint(shape, shape[0], self.seed_generator)
        swap, donors = (ops.take(a, self.groups, axis=1) for a in (swap, donors))
        return ops.where(swap, ops.take_along_axis(x, donors, axis=0), x), y


def column_groups(sources: np.ndarray | None, n_features: int) -> np.ndarray:
    """For each of ``n_features`` columns, the position of its group's first column: the
    first column of the same ``sources`` value (every column its own without them)."""
    if sources is None:
        return np.arange(n_features, dtype=np.int32)
    _, first, inverse = np.unique(np.asarray(sources), return_index=True, return_inverse=True)
    return first[inverse].astype(np.int32)


class _ImageLayer(_Step):
    """Views flat rows as images: random flips, one affine transform, contrast; flat again.

    The affine transform maps each output pixel to the input point
    ``s * R(theta) @ (p - c) + c - t`` (center ``c``, rotation ``theta``, scale ``s = 1 + z``
    for a zoom ``z``, shift ``t``), with ``theta``, ``z`` and ``t`` drawn uniformly within
    the run-time magnitudes.
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        horizontal_flip: bool,
        vertical_flip: bool,
        affine: bool,
        contrast: bool,
        fill_mode: str | None,
        **kwargs: Any,
    ) -> None:
        strengths = (("rotation", "translation", "zoom") if affine else ()) + (
            ("contrast",) if contrast else ()
        )
        super().__init__(strengths=strengths, **kwargs)
        self.image_shape = image_shape
        self.flips = (vertical_flip, horizontal_flip)
        self.affine = affine
        self.contrast = contrast
        self.fill_mode = fill_mode

    def call(self, x: Any, y: Any) -> tuple[Any, Any]:
        ops = keras.ops
        images = ops.reshape(x, (-1, *self.image_shape))
        draws = uniform((ops.shape(x)[0], 7), self.seed_generator)
        for axis, on in enumerate(self.flips):
            if on:
                flip = ops.reshape(draws[:, axis] < 0.5, (-1, 1, 1, 1))
                images = ops.where(flip, ops.flip(images, axis=axis + 1), images)
        magnitudes = iter(self.strength_variables)
        if self.affine:
            images = self._transform(images, draws[:, 2:6], [next(magnitudes) for _ in range(3)])
        if self.contrast:
            factor = 1.0 + next(magnitudes) * (2.0 * draws[:, 6] - 1.0)
            mean = ops.mean(images, axis=(1, 2), keepdims=True)
            images = (images - mean) * ops.reshape(factor, (-1, 1, 1, 1)) + mean
        return ops.reshape(images, (-1, math.prod(self.image_shape))), y

    def _transform(self, images: Any, draws: Any, magnitudes: list[Any]) -> Any:
        ops = keras.ops
        rotation, translation, zoom = magnitudes
        height, width = self.image_shape[:2]
        theta = (2.0 * draws[:, 0] - 1.0) * rotation * (math.pi / 180.0)
        scale = 1.0 + (2.0 * draws[:, 1] - 1.0) * zoom
        # Each axis its own shift, as Keras' RandomTranslation (one shift for both moved
        # every image along its diagonal).
        shift_x = (2.0 * draws[:, 2] - 1.0) * translation
        shift_y = (2.0 * draws[:, 3] - 1.0) * translation
        cos, sin = scale * ops.cos(theta), scale * ops.sin(theta)
        cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
        wrap = self.fill_mode == "wrap"
        if wrap:
            # Keras' "wrap" on TensorFlow does not interpolate across the image's edges (a
            # shift of [1, 2, 3, 4] by 1.5 gave [2.5, 3.5, 1, 1.5], JAX [2.5, 3.5, 2.5, 1.5]):
            # on both backends, sample the middle tile of a 3 x 3 tiling, where the edges
            # meet as ordinary neighbours, around the same center in its coordinates.
            images = ops.concatenate([images] * 3, axis=1)
            images = ops.concatenate([images] * 3, axis=2)
            cx, cy = cx + width, cy + height
        zeros = ops.zeros_like(theta)
        transform = ops.stack(
            [
                cos, -sin, cx - cos * cx + sin * cy - shift_x * width,
                sin, cos, cy - sin * cx - cos * cy - shift_y * height,
                zeros, zeros,
            ],
            axis=1,
        )  # fmt: skip
        images = ops.image.affine_transform(
            images, transform, interpolation="bilinear", fill_mode=self.fill_mode
        )
        return images[:, height : 2 * height, width : 2 * width] if wrap else images


# Each augmentation kind's layer, given the structure part of its kind.
_LAYERS = {
    "gaussian_noise": lambda structure, n_codes, n_features: _GaussianNoiseLayer(
        name="gaussian_noise", n_codes=n_codes
    ),
    "swap_noise": lambda structure, n_codes, n_features: _SwapNoiseLayer(
        n_features, name="swap_noise", n_codes=n_codes
    ),
    "mixup": lambda structure, n_codes, n_features: _MixLayer(name="mixup", n_codes=n_codes),
    "image": lambda structure, n_codes, n_features: _ImageLayer(
        *structure, name="image", n_codes=n_codes
    ),
}
