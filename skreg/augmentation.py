"""Data augmentation as scikit-learn-style objects, and the Keras layers they become.

An augmentation object only stores its settings, so :func:`~sklearn.base.clone` copies it and
:class:`~sklearn.model_selection.GridSearchCV` searches its fields through the estimator
(``{"augmentation__std": [0.05, 0.1]}``). When an estimator fits, its augmentations become one
Keras layer (:func:`build_augmenter`) that the training engine applies to every training batch
inside the compiled epoch, before the network. Validation batches, ``predict``,
``predict_proba`` and ``score`` never see it, and the fitted ``model_`` does not contain it.

Randomness is drawn afresh for every batch from random-generator states that each ``fit``
seeds from the estimator's ``random_state``; Mixup's mixing weights and partners are drawn
per epoch on the host, like the shuffling, because TensorFlow cannot compile Beta sampling.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

import keras
import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_array, check_random_state

from . import _random
from ._training import epoch_batches
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

    Subclasses store their parameters in ``__init__`` and build the Keras layer that applies
    them (:meth:`_layer`); ``None`` means the settings change nothing.
    """

    _parameter_constraints: dict = {}

    def _layer(self, n_features: int) -> keras.layers.Layer | None:
        raise NotImplementedError

    def _check_n_features(self, n_features: int) -> None:
        """Raise a ``ValueError`` if the augmentation cannot apply to ``n_features`` columns."""

    def _frozen(self) -> tuple[type, tuple[tuple[str, Any], ...]]:
        """A hashable description: training engines are pooled by it."""
        params = self.get_params(deep=False)
        return type(self), tuple((name, _hashable(params[name])) for name in sorted(params))


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

    def _layer(self, n_features):
        if self.std == 0:
            return None
        return _GaussianNoiseLayer(float(self.std), seed=0, name="gaussian_noise")


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

    def _layer(self, n_features):
        if self.rate == 0:
            return None
        return _SwapNoiseLayer(float(self.rate), seed=0, name="swap_noise")


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

    def _layer(self, n_features):
        if self.alpha == 0:
            return None
        return _MixLayer(name="mixup")


class ImageAugmentation(Augmentation):
    """Random flips, rotations, shifts, zoom and contrast of images stored as flat rows.

    X stays a 2-D array with one flattened image per row (row-major, channels last), as
    scikit-learn pipelines deliver it; ``image_shape`` says how to view each row. The
    transforms are Keras' preprocessing layers (``RandomFlip``, ``RandomRotation``,
    ``RandomTranslation``, ``RandomZoom``, ``RandomContrast``), and the result is flattened
    again before the first dense layer.

    The transforms assume every pixel is on the same scale: scale images globally (for
    example divide by the maximum intensity), not pixel by pixel. On TensorFlow, rotation,
    translation and zoom cannot be compiled by XLA, so fits that use them run the slower
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

    def _layer(self, n_features):
        transforms = self._transforms()
        if not transforms:
            return None
        return _ImageLayer(_image_shape(self.image_shape, n_features), transforms, name="image")

    def _transforms(self) -> list[keras.layers.Layer]:
        fill = {"fill_mode": self.fill_mode, "fill_value": 0.0, "seed": 0}
        flips = "_and_".join(
            mode
            for mode, on in (
                ("horizontal", self.horizontal_flip),
                ("vertical", self.vertical_flip),
            )
            if on
        )
        transforms = []
        if flips:
            transforms.append(keras.layers.RandomFlip(flips, seed=0))
        if self.rotation:
            transforms.append(keras.layers.RandomRotation(self.rotation / 360.0, **fill))
        if self.translation:
            transforms.append(
                keras.layers.RandomTranslation(self.translation, self.translation, **fill)
            )
        if self.zoom:
            transforms.append(keras.layers.RandomZoom(self.zoom, **fill))
        if self.contrast:
            # No clipping: the pixels may be on any scale.
            transforms.append(
                keras.layers.RandomContrast(self.contrast, value_range=(-1e30, 1e30), seed=0)
            )
        return transforms


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
    >>> flipped = augment(ImageAugmentation((2, 3), horizontal_flip=True), np.repeat(image, 8, 0))
    >>> sorted({tuple(row) for row in flipped.tolist()})
    [(0.0, 1.0, 2.0, 3.0, 4.0, 5.0), (2.0, 1.0, 0.0, 5.0, 4.0, 3.0)]
    """
    X = check_array(X, dtype=np.float32)
    Y = np.zeros((len(X), 1), np.float32) if y is None else np.asarray(y, dtype=np.float32)
    Y = Y.reshape(len(X), -1)
    frozen = frozen_augmentation(augmentation, X.shape[1])
    seeds = np.random.SeedSequence(check_random_state(random_state).randint(2**31))
    layer_seeds, mixing_seeds = seeds.spawn(2)
    layer = build_augmenter(frozen, X.shape[1])
    if layer is not None:
        layer.reseed(layer_seeds)
        batches = epoch_batches(
            np.ones(len(X), np.float32),
            len(X),
            np.random.default_rng(mixing_seeds),
            shuffle=False,
            mixup_alpha=mixup_alpha(frozen),
        )
        mixing = () if batches.partners is None else (batches.partners[0], batches.lambdas[0])
        X, Y = (keras.ops.convert_to_numpy(a) for a in layer(X, Y, *mixing))
    return X if y is None else (X, Y)


def build_augmenter(
    augmentations: Sequence[tuple[type, tuple[tuple[str, Any], ...]]], n_features: int
) -> _Augmenter | None:
    """The Keras layer applying ``augmentations`` (frozen descriptions) in order, or None.

    Its random-generator states hold placeholder seeds; :meth:`_Augmenter.reseed` sets them
    for each fit.
    """
    steps = []
    for cls, params in augmentations:
        layer = cls(**dict(params))._layer(n_features)
        if layer is not None:
            steps.append(layer)
    return _Augmenter(steps) if steps else None


def mixup_alpha(augmentations: Sequence[tuple[type, tuple[tuple[str, Any], ...]]]) -> float:
    """The Beta concentration of the Mixup among ``augmentations``, 0 without one."""
    alphas = [dict(params)["alpha"] for cls, params in augmentations if cls is Mixup]
    return float(alphas[0]) if alphas else 0.0


def frozen_augmentation(augmentation: Any, n_features: int) -> tuple:
    """Validate the ``augmentation`` parameter against X and describe it hashably."""
    items = as_augmentation_list(augmentation)
    for item in items:
        item._check_n_features(n_features)
    return tuple(item._frozen() for item in items)


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

    ``partners`` and ``lambdas`` are the Mixup partner (index into the batch) and mixing
    weight of each row, drawn on the host for the epoch.
    """

    def __init__(self, steps: list[keras.layers.Layer], **kwargs: Any) -> None:
        super().__init__(name="augmentation", **kwargs)
        self.steps = steps
        self.built = True  # no weights of its own; the steps build on their first batch

    @property
    def xla_compatible(self) -> bool:
        """Whether TensorFlow can compile the steps with XLA (its affine image ops cannot)."""
        return not any(
            isinstance(step, _ImageLayer) and step.uses_affine_transforms for step in self.steps
        )

    def reseed(self, seeds: np.random.SeedSequence) -> None:
        """Give every random-generator state a fresh seed drawn from ``seeds``."""
        states = self.non_trainable_variables
        values = seeds.generate_state(len(states))
        for state, value in zip(states, values.tolist()):
            state.assign(np.array([value, 0], dtype=state.dtype))

    def call(self, x: Any, y: Any, partners: Any = None, lambdas: Any = None) -> tuple[Any, Any]:
        for step in self.steps:
            if isinstance(step, _MixLayer):
                x, y = step(x, y, partners, lambdas)
            else:
                x = step(x, training=True)
        return x, y


class _MixLayer(keras.layers.Layer):
    """Mixes each row (and its target) with its partner row by the row's weight ``lam``."""

    def call(self, x: Any, y: Any, partners: Any, lambdas: Any) -> tuple[Any, Any]:
        ops = keras.ops
        lam = ops.expand_dims(lambdas, 1)
        x = lam * x + (1.0 - lam) * ops.take(x, partners, axis=0)
        y = lam * y + (1.0 - lam) * ops.take(y, partners, axis=0)
        return x, y


class _GaussianNoiseLayer(keras.layers.Layer):
    """Adds ``std`` times standard normal noise, drawn by the Box-Muller transform.

    Keras' ``GaussianNoise`` layer would do, but TensorFlow's XLA-compiled normal sampler made a
    fit on digits (256-256 network, 20 epochs) take 0.96 s instead of 0.31 s; two uniform draws
    and the Box-Muller transform cost almost nothing.
    """

    def __init__(self, std: float, seed: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.std = std
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x: Any, training: bool = False) -> Any:
        if not training:
            return x
        ops = keras.ops
        shape = ops.shape(x)
        # 1 - U lies in (0, 1], so the logarithm is finite.
        radius = ops.sqrt(-2.0 * ops.log(1.0 - _random.uniform(shape, self.seed_generator)))
        angle = (2.0 * math.pi) * _random.uniform(shape, self.seed_generator)
        return x + self.std * radius * ops.cos(angle)


class _SwapNoiseLayer(keras.layers.Layer):
    """Swap noise within the batch (see :class:`SwapNoise`)."""

    def __init__(self, rate: float, seed: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate = rate
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x: Any, training: bool = False) -> Any:
        if not training:
            return x
        ops = keras.ops
        shape = ops.shape(x)
        swap = _random.uniform(shape, self.seed_generator) < self.rate
        donors = _random.randint(shape, shape[0], self.seed_generator)
        return ops.where(swap, ops.take_along_axis(x, donors, axis=0), x)


class _ImageLayer(keras.layers.Layer):
    """Views flat rows as images, applies Keras' image transforms, and flattens them again."""

    def __init__(
        self, image_shape: tuple[int, int, int], transforms: list[keras.layers.Layer], **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.image_shape = image_shape
        self.transforms = transforms

    @property
    def uses_affine_transforms(self) -> bool:
        layers = keras.layers
        affine = (layers.RandomRotation, layers.RandomTranslation, layers.RandomZoom)
        return any(isinstance(t, affine) for t in self.transforms)

    def call(self, x: Any, training: bool = False) -> Any:
        ops = keras.ops
        images = ops.reshape(x, (-1, *self.image_shape))
        for transform in self.transforms:
            images = transform(images, training=training)
        return ops.reshape(images, (-1, math.prod(self.image_shape)))


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


def _hashable(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_hashable(v) for v in value)
    return value
