"""Data augmentation as scikit-learn-style objects, and the Keras layers they become.

An augmentation object only stores its settings, so :func:`~sklearn.base.clone` copies it and
:class:`~sklearn.model_selection.GridSearchCV` searches its fields through the estimator
(``{"augmentation__std": [0.05, 0.1]}``). When an estimator fits, its augmentations become one
Keras layer (:func:`build_augmenter`) that the training program applies to every training batch
inside the compiled epoch, before the network. Validation batches, ``predict``,
``predict_proba`` and ``score`` never see it, and the fitted ``model_`` does not contain it.

What is compiled and what is not: an augmentation's *kind* (which augmentation, and for images
which transforms are on) is part of the compiled training program; its *strengths* (the noise
level, the swap rate, the image magnitudes) are variables of the layer that every fit sets, and
Mixup's ``alpha`` only shapes draws made on the host. So a search over strengths compiles one
program. A strength of 0 turns the augmentation off, which is the program without it.

Randomness is drawn afresh for every batch from random-generator states that each ``fit``
seeds from the estimator's ``random_state``. Draws that cannot run inside the compiled program
(Mixup's Beta-distributed weights: TensorFlow cannot compile Beta sampling) go through one
general hook, :meth:`Augmentation._host_draws`, called once per epoch with the shuffling.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import keras
import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_array, check_random_state

from . import _random
from ._training import Batches, epoch_batches
from ._validation import Interval, StrOptions

__all__ = [
    "Augmentation",
    "GaussianNoise",
    "ImageAugmentation",
    "Mixup",
    "SwapNoise",
    "augment",
    "build_augmenter",
]


class Augmentation(BaseEstimator):
    """Base class of skreg's augmentations.

    Subclasses store their parameters in ``__init__`` and say what a fit compiles and feeds:
    :meth:`_kind` (hashable; the compiled structure, None when the settings change nothing),
    :meth:`_strengths` (run-time values) and, if they need draws made on the host once per
    epoch, :meth:`_host_draws`. ``_build_layer(kind, n_features)`` builds the Keras layer of
    a kind.
    """

    _parameter_constraints: dict = {}

    def _kind(self, n_features: int) -> Hashable | None:
        raise NotImplementedError

    def _strengths(self) -> tuple[float, ...]:
        return ()

    def _host_draws(self, rng: np.random.Generator, batches: Batches) -> tuple[np.ndarray, ...]:
        """Arrays of shape ``batches.order.shape`` that the layer receives per batch."""
        return ()

    def _check_n_features(self, n_features: int) -> None:
        """Raise a ``ValueError`` if the augmentation cannot apply to ``n_features`` columns."""


class GaussianNoise(Augmentation):
    """Add zero-mean Gaussian noise to every feature of every training row.

    The noise has the same standard deviation for all features, so scale them first (for
    example with :class:`~sklearn.preprocessing.StandardScaler` in the pipeline). Training
    with input noise is, to first order, an L2-type penalty on the network's input gradient.

    Parameters
    ----------
    std : float, default=0.1
        Standard deviation of the noise, in feature units.

    Examples
    --------
    >>> from skreg import GaussianNoise, RegularizedMLPClassifier
    >>> clf = RegularizedMLPClassifier(augmentation=GaussianNoise(std=0.1))
    >>> clf.get_params()["augmentation__std"]
    0.1
    """

    _parameter_constraints: dict = {"std": [Interval(Real, 0, None, closed="left")]}

    def __init__(self, std=0.1):
        self.std = std

    def _kind(self, n_features):
        return None if self.std == 0 else (GaussianNoise, ())

    def _strengths(self):
        return (float(self.std),)

    @staticmethod
    def _build_layer(structure, n_features):
        return _GaussianNoiseLayer(name="gaussian_noise")


class SwapNoise(Augmentation):
    """Replace a share of the entries with the same feature's value from another row.

    Each entry of a training batch is, with probability ``rate``, swapped for the value of the
    same column in a random row of the batch. The corrupted rows stay on the data's own
    values: binary, one-hot and integer-coded columns keep their values, skewed columns their
    range, and no scaling is needed. This is the "swap noise" that won the Porto Seguro
    competition for denoising autoencoders, and the corruption SCARF uses for tabular
    contrastive learning; it suits tabular data better than Gaussian noise, which assumes
    continuous, standardized features.

    Parameters
    ----------
    rate : float, default=0.1
        Probability that an entry is swapped, in [0, 1].

    Examples
    --------
    >>> from skreg import RegularizedMLPRegressor, SwapNoise
    >>> reg = RegularizedMLPRegressor(augmentation=SwapNoise(rate=0.15))
    >>> reg.augmentation
    SwapNoise(rate=0.15)
    """

    _parameter_constraints: dict = {"rate": [Interval(Real, 0, 1, closed="both")]}

    def __init__(self, rate=0.1):
        self.rate = rate

    def _kind(self, n_features):
        return None if self.rate == 0 else (SwapNoise, ())

    def _strengths(self):
        return (float(self.rate),)

    @staticmethod
    def _build_layer(structure, n_features):
        return _SwapNoiseLayer(name="swap_noise")


class Mixup(Augmentation):
    """Train on convex mixtures of pairs of rows and of their targets.

    Each training row ``i`` of a batch is mixed with a random partner ``j`` of the same batch:
    ``x = lam * x_i + (1 - lam) * x_j`` and ``y = lam * y_i + (1 - lam) * y_j`` with
    ``lam ~ Beta(alpha, alpha)``, drawn afresh for every row and epoch. The classifier mixes
    one-hot targets, so it trains on soft targets; the regressor mixes the target values.
    The row keeps its own sample weight.

    Parameters
    ----------
    alpha : float, default=0.2
        Concentration of the Beta distribution. Small values keep most rows close to one of
        the pair; ``alpha=1`` mixes uniformly; 0 turns mixing off.

    Examples
    --------
    >>> from skreg import Mixup, RegularizedMLPClassifier
    >>> RegularizedMLPClassifier(augmentation=Mixup(alpha=0.4)).augmentation.alpha
    0.4
    """

    _parameter_constraints: dict = {"alpha": [Interval(Real, 0, None, closed="left")]}

    def __init__(self, alpha=0.2):
        self.alpha = alpha

    def _kind(self, n_features):
        return None if self.alpha == 0 else (Mixup, ())

    def _host_draws(self, rng, batches):
        """Each row's partner (a real row of its batch) and its ``Beta(alpha, alpha)`` weight."""
        shape = batches.order.shape
        keys = rng.random(shape)
        # Padding rows sort after the real ones, in order: they are their own partners.
        real = np.zeros(shape[0], dtype=np.int64)
        real[: batches.n_batches] = batches.real_rows
        padding = np.arange(shape[1]) >= real[:, None]
        keys[padding] = 2.0 + np.broadcast_to(np.arange(shape[1]), shape)[padding]
        partners = np.argsort(keys, axis=1).astype(np.int32)
        lambdas = rng.beta(self.alpha, self.alpha, size=shape).astype(np.float32)
        return partners, lambdas

    @staticmethod
    def _build_layer(structure, n_features):
        return _MixLayer(name="mixup")


class ImageAugmentation(Augmentation):
    """Random flips, rotations, shifts, zoom and contrast of images stored as flat rows.

    X stays a 2-D array with one flattened image per row (row-major, channels last), as
    scikit-learn pipelines deliver it; ``image_shape`` says how to view each row. Each image
    is flipped, then rotated, shifted and zoomed by one affine transform (one interpolation,
    :func:`keras.ops.image.affine_transform`), then its contrast is changed; the result is
    flattened again before the first dense layer. The magnitudes are run-time inputs of the
    compiled training program, so a search over them compiles once; which transforms are on
    (flips, the affine transform, contrast) is part of the program.

    The transforms assume every pixel is on the same scale: scale images globally (for
    example divide by the maximum intensity), not pixel by pixel. On TensorFlow, the affine
    transform cannot be compiled by XLA, so fits that rotate, shift or zoom run the slower
    non-XLA graph.

    Parameters
    ----------
    image_shape : tuple of int or None, default=None
        ``(height, width)`` or ``(height, width, channels)``. None reads a row of ``n``
        features as a square ``sqrt(n) x sqrt(n)`` grayscale image.
    horizontal_flip : bool, default=False
        Mirror half of the images left to right.
    vertical_flip : bool, default=False
        Mirror half of the images top to bottom.
    rotation : float, default=0.0
        Largest rotation in degrees, either way (``ImageDataGenerator``'s ``rotation_range``).
    translation : float, default=0.0
        Largest shift, as a fraction of the height and of the width, either way.
    zoom : float, default=0.0
        Largest zoom in or out, as a fraction of the size.
    contrast : float, default=0.0
        Contrast factor drawn from ``[1 - contrast, 1 + contrast]`` per image.
    fill_mode : {"nearest", "constant", "reflect", "wrap"}, default="nearest"
        How rotation, translation and zoom fill pixels from outside the image; "constant"
        fills with 0.

    Examples
    --------
    >>> from skreg import ImageAugmentation, RegularizedMLPClassifier
    >>> aug = ImageAugmentation((8, 8), rotation=10, translation=0.1)
    >>> clf = RegularizedMLPClassifier(augmentation=aug)
    >>> clf.get_params()["augmentation__rotation"]
    10
    """

    _parameter_constraints: dict = {
        "image_shape": [None, tuple, list],
        "horizontal_flip": ["boolean"],
        "vertical_flip": ["boolean"],
        "rotation": [Interval(Real, 0, 180, closed="both")],
        "translation": [Interval(Real, 0, 1, closed="left")],
        "zoom": [Interval(Real, 0, 1, closed="left")],
        "contrast": [Interval(Real, 0, 1, closed="both")],
        "fill_mode": [StrOptions({"nearest", "constant", "reflect", "wrap"})],
    }

    def __init__(
        self,
        image_shape=None,
        *,
        horizontal_flip=False,
        vertical_flip=False,
        rotation=0.0,
        translation=0.0,
        zoom=0.0,
        contrast=0.0,
        fill_mode="nearest",
    ):
        self.image_shape = image_shape
        self.horizontal_flip = horizontal_flip
        self.vertical_flip = vertical_flip
        self.rotation = rotation
        self.translation = translation
        self.zoom = zoom
        self.contrast = contrast
        self.fill_mode = fill_mode

    def _check_n_features(self, n_features):
        _image_shape(self.image_shape, n_features)

    def _kind(self, n_features):
        affine = bool(self.rotation or self.translation or self.zoom)
        structure = (
            _image_shape(self.image_shape, n_features),
            bool(self.horizontal_flip),
            bool(self.vertical_flip),
            affine,
            bool(self.contrast),
            self.fill_mode if affine else None,
        )
        return (ImageAugmentation, structure) if any(structure[1:5]) else None

    def _strengths(self):
        affine = bool(self.rotation or self.translation or self.zoom)
        magnitudes = (float(self.rotation), float(self.translation), float(self.zoom))
        return (magnitudes if affine else ()) + ((float(self.contrast),) if self.contrast else ())

    @staticmethod
    def _build_layer(structure, n_features):
        return _ImageLayer(*structure, name="image")


def augment(augmentation: Any, X: Any, y: Any = None, *, random_state: Any = None) -> Any:
    """Apply augmentations once to all rows of X, as a training batch would see them.

    The estimators apply their augmentations inside the training step; this function is for
    looking at what they do (plotting augmented images, checking a noise level).

    Parameters
    ----------
    augmentation : augmentation object or list of them
        What to apply, in order, as the estimators' ``augmentation`` parameter.
    X : array-like of shape (n_samples, n_features)
        The rows, treated as one batch.
    y : array-like of shape (n_samples,) or (n_samples, n_targets), default=None
        Numeric targets (one-hot for classes), which only Mixup changes.
    random_state : int, RandomState instance or None, default=None
        Seeds the random transformations.

    Returns
    -------
    X_augmented : ndarray of shape (n_samples, n_features)
        The augmented rows (float32).
    y_augmented : ndarray of shape (n_samples, n_targets)
        The mixed targets; returned only when ``y`` is given.

    Examples
    --------
    >>> import numpy as np
    >>> from skreg import ImageAugmentation
    >>> from skreg.augmentation import augment
    >>> image = np.arange(6.0).reshape(1, 6)
    >>> flip = ImageAugmentation((2, 3), horizontal_flip=True)
    >>> flipped = augment(flip, np.repeat(image, 8, 0), random_state=0)
    >>> sorted({tuple(row) for row in flipped.tolist()})
    [(0.0, 1.0, 2.0, 3.0, 4.0, 5.0), (2.0, 1.0, 0.0, 5.0, 4.0, 3.0)]
    """
    X = check_array(X, dtype=np.float32)
    Y = np.zeros((len(X), 1), np.float32) if y is None else np.asarray(y, dtype=np.float32)
    Y = Y.reshape(len(X), -1)
    plan = plan_augmentation(augmentation, X.shape[1])
    seeds = np.random.SeedSequence(check_random_state(random_state).randint(2**31))
    layer_seeds, host_seeds = seeds.spawn(2)
    layer = build_augmenter(plan.kinds, X.shape[1])
    if layer is not None:
        for variable, value in zip(
            layer.non_trainable_variables, layer.initial_state(plan.strengths, layer_seeds)
        ):
            variable.assign(value)
        batches = epoch_batches(
            np.ones(len(X), np.float32), len(X), np.random.default_rng(host_seeds), shuffle=False
        )
        arrays = plan.draw(np.random.default_rng(host_seeds), batches)
        X, Y = (keras.ops.convert_to_numpy(a) for a in layer(X, Y, *(a[0] for a in arrays)))
    return X if y is None else (X, Y)


@dataclass(frozen=True)
class AugmentationPlan:
    """What a fit's augmentations compile to, and what it feeds the compiled program.

    ``kinds`` is part of the training program's key; ``strengths`` (one tuple per kind) are
    the layer's run-time values; ``host_draws`` are called once per epoch.
    """

    kinds: tuple = ()
    strengths: tuple[tuple[float, ...], ...] = ()
    host_draws: tuple[Callable[[np.random.Generator, Batches], tuple], ...] = ()

    def draw(self, rng: np.random.Generator, batches: Batches) -> tuple[np.ndarray, ...]:
        """The epoch's host-drawn arrays, in the order the augmenter takes them."""
        return tuple(array for draw in self.host_draws for array in draw(rng, batches))


def plan_augmentation(augmentation: Any, n_features: int) -> AugmentationPlan:
    """Validate the ``augmentation`` parameter against X and plan its use (see the module)."""
    active = []
    for item in as_augmentation_list(augmentation):
        item._check_n_features(n_features)
        kind = item._kind(n_features)
        if kind is not None:
            active.append((kind, item))
    return AugmentationPlan(
        kinds=tuple(kind for kind, _ in active),
        strengths=tuple(item._strengths() for _, item in active),
        host_draws=tuple(
            item._host_draws
            for _, item in active
            if type(item)._host_draws is not Augmentation._host_draws
        ),
    )


def build_augmenter(kinds: Sequence[tuple[type, Any]], n_features: int) -> _Augmenter | None:
    """The Keras layer applying the augmentation ``kinds`` in order, or None without any.

    Its strengths and random-generator states are placeholders; every fit gives them values
    (:meth:`_Augmenter.initial_state`).
    """
    steps = [cls._build_layer(structure, n_features) for cls, structure in kinds]
    return _Augmenter(steps) if steps else None


def as_augmentation_list(augmentation: Any) -> list[Augmentation]:
    """Validate the estimators' ``augmentation`` parameter and return it as a list."""
    if augmentation is None:
        return []
    items = list(augmentation) if isinstance(augmentation, list | tuple) else [augmentation]
    for item in items:
        if not isinstance(item, Augmentation):
            raise TypeError(
                "augmentation must be None, an augmentation object (GaussianNoise, SwapNoise, "
                f"Mixup, ImageAugmentation) or a list of them; got {item!r}."
            )
        item._validate_params()
    if sum(isinstance(item, Mixup) for item in items) > 1:
        raise ValueError("augmentation may contain at most one Mixup.")
    return items


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
        self, strengths: Sequence[Sequence[float]], seeds: np.random.SeedSequence
    ) -> tuple[np.ndarray, ...]:
        """Values of the non-trainable variables: the steps' strengths and fresh seeds."""
        values: dict[int, np.ndarray] = {}
        for step, step_strengths in zip(self.steps, strengths, strict=True):
            for variable, value in zip(step.strength_variables, step_strengths, strict=True):
                values[id(variable)] = np.asarray(value, dtype=np.float32)
            generator = getattr(step, "seed_generator", None)
            if generator is not None:
                seed = int(seeds.spawn(1)[0].generate_state(1)[0])
                values[id(generator.state)] = np.array([seed, 0])
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

    def __init__(self, strengths: Sequence[str] = (), random: bool = True, **kwargs: Any):
        super().__init__(**kwargs)
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
        x = lam * x + (1.0 - lam) * ops.take(x, partners, axis=0)
        y = lam * y + (1.0 - lam) * ops.take(y, partners, axis=0)
        return x, y


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
        shape = ops.shape(x)
        # 1 - U lies in (0, 1], so the logarithm is finite.
        radius = ops.sqrt(-2.0 * ops.log(1.0 - _random.uniform(shape, self.seed_generator)))
        angle = (2.0 * math.pi) * _random.uniform(shape, self.seed_generator)
        return x + self.strength_variables[0] * radius * ops.cos(angle), y


class _SwapNoiseLayer(_Step):
    """Swap noise within the batch (see :class:`SwapNoise`)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strengths=("rate",), **kwargs)

    def call(self, x: Any, y: Any) -> tuple[Any, Any]:
        ops = keras.ops
        shape = ops.shape(x)
        swap = _random.uniform(shape, self.seed_generator) < self.strength_variables[0]
        donors = _random.randint(shape, shape[0], self.seed_generator)
        return ops.where(swap, ops.take_along_axis(x, donors, axis=0), x), y


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
        draws = _random.uniform((ops.shape(x)[0], 6), self.seed_generator)
        for axis, on in enumerate(self.flips):
            if on:
                flip = ops.reshape(draws[:, axis] < 0.5, (-1, 1, 1, 1))
                images = ops.where(flip, ops.flip(images, axis=axis + 1), images)
        magnitudes = iter(self.strength_variables)
        if self.affine:
            images = self._transform(images, draws[:, 2:5], [next(magnitudes) for _ in range(3)])
        if self.contrast:
            factor = 1.0 + next(magnitudes) * (2.0 * draws[:, 5] - 1.0)
            mean = ops.mean(images, axis=(1, 2), keepdims=True)
            images = (images - mean) * ops.reshape(factor, (-1, 1, 1, 1)) + mean
        return ops.reshape(images, (-1, math.prod(self.image_shape))), y

    def _transform(self, images: Any, draws: Any, magnitudes: list[Any]) -> Any:
        ops = keras.ops
        rotation, translation, zoom = magnitudes
        height, width = self.image_shape[:2]
        theta = (2.0 * draws[:, 0] - 1.0) * rotation * (math.pi / 180.0)
        scale = 1.0 + (2.0 * draws[:, 1] - 1.0) * zoom
        shift = (2.0 * draws[:, 2] - 1.0) * translation
        cos, sin = scale * ops.cos(theta), scale * ops.sin(theta)
        cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
        zeros = ops.zeros_like(theta)
        transform = ops.stack(
            [
                cos, -sin, cx - cos * cx + sin * cy - shift * width,
                sin, cos, cy - sin * cx - cos * cy - shift * height,
                zeros, zeros,
            ],
            axis=1,
        )  # fmt: skip
        return ops.image.affine_transform(
            images, transform, interpolation="bilinear", fill_mode=self.fill_mode
        )


def _image_shape(image_shape: Any, n_features: int) -> tuple[int, int, int]:
    """``image_shape`` as (height, width, channels), checked against the number of features."""
    if image_shape is None:
        side = math.isqrt(n_features)
        if side * side != n_features:
            raise ValueError(
                f"ImageAugmentation without image_shape reads rows as square grayscale images, "
                f"but X has {n_features} features, not a square number. Pass image_shape="
                "(height, width) or (height, width, channels)."
            )
        return side, side, 1
    shape = tuple(image_shape)
    if len(shape) not in (2, 3) or not all(
        isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in shape
    ):
        raise ValueError(
            "image_shape must be (height, width) or (height, width, channels) with positive "
            f"integers; got {image_shape!r}."
        )
    shape = (*shape, 1) if len(shape) == 2 else shape
    if math.prod(shape) != n_features:
        raise ValueError(
            f"image_shape {tuple(image_shape)} has {math.prod(shape)} values per image, but X "
            f"has {n_features} features."
        )
    return tuple(int(s) for s in shape)
