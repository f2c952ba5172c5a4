"""Data augmentation as scikit-learn-style objects; the engine applies them (no Keras here).

An augmentation object only stores its settings, so :func:`~sklearn.base.clone` copies it and
:class:`~sklearn.model_selection.GridSearchCV` searches its fields through the estimator
(``{"augmentation__std": [0.05, 0.1]}``). When an estimator fits, its augmentations become one
Keras layer (built by the engine, :mod:`skreg._engine`, once the backend has loaded) that the
training program applies to every training batch inside the compiled epoch, before the
network.
Validation batches, ``predict``, ``predict_proba`` and ``score`` never see it, and the fitted
``model_`` does not contain it.

What is compiled and what is not: an augmentation's *kind* (which augmentation, and for images
which transforms are on) is part of the compiled training program; its *strengths* (the noise
level, the swap rate, the image magnitudes) are variables of the layer that every fit sets, and
Mixup's ``alpha`` only shapes draws made on the host. So a search over strengths compiles one
program. A strength of 0 turns the augmentation off, which is the program without it. A kind
is a name and a structure (``("image", (shape, flips, ...))``); the engine maps the name to
the Keras layer that applies it.

Randomness is drawn afresh for every batch from random-generator states that each ``fit``
seeds from the estimator's ``random_state``. Draws that cannot run inside the compiled program
(Mixup's Beta-distributed weights: TensorFlow cannot compile Beta sampling) go through one
general hook, :meth:`Augmentation._host_draws`, called once per epoch with the shuffling.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_array, check_consistent_length

from . import _engine
from ._specs import AugmentationPlan, Batches, seed_sequence
from ._validation import Interval, StrOptions

__all__ = [
    "Augmentation",
    "GaussianNoise",
    "ImageAugmentation",
    "Mixup",
    "SwapNoise",
    "augment",
]


class Augmentation(BaseEstimator):
    """Base class of skreg's augmentations.

    Subclasses store their parameters in ``__init__`` and say what a fit compiles and feeds:
    :meth:`_kind` (hashable: a name and the compiled structure; None when the settings change
    nothing), :meth:`_strengths` (run-time values) and, if they need draws made on the host
    once per epoch, :meth:`_host_draws`. The engine maps each name to the Keras layer that
    applies it.
    """

    _parameter_constraints: dict = {}

    def _kind(self, n_features: int) -> Hashable | None:
        raise NotImplementedError(
            f"{type(self).__name__} is the base class of skreg's augmentations, which does "
            "nothing itself: pass GaussianNoise, SwapNoise, Mixup or ImageAugmentation."
        )

    def _strengths(self) -> tuple[float, ...]:
        return ()

    def _host_draws(self, rng: np.random.Generator, batches: Batches) -> tuple[np.ndarray, ...]:
        """Arrays of shape ``batches.order.shape`` that the layer receives per batch."""
        return ()

    def _check_n_features(self, n_features: int) -> None:
        """Raise a ``ValueError`` if the augmentation cannot apply to ``n_features`` columns."""


class GaussianNoise(Augmentation):
    """Add zero-mean Gaussian noise to every feature of every training row.

    The noise has the same standard deviation for all features, and is added to the columns
    the network reads: after the estimator's own scaling (``numeric_scaling``, robust by
    default), so ``std`` is in those scaled units and the features' own units do not matter.
    With ``numeric_scaling=None`` it is in the features' units: scale them first (for
    example with :class:`~sklearn.preprocessing.StandardScaler` in the pipeline). Training
    with input noise is, to first order, an L2-type penalty on the network's input gradient.
    A table's categorical columns with learned embeddings (more levels than
    ``max_onehot_levels``) get no noise: they enter as level codes, which noise would turn
    into other levels.

    Parameters
    ----------
    std : float, default=0.1
        Standard deviation of the noise, in the units of the columns the network reads.

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
        return None if self.std == 0 else ("gaussian_noise", ())

    def _strengths(self):
        return (float(self.std),)


class SwapNoise(Augmentation):
    """Replace a share of the entries with the same feature's value from another row.

    Each entry of a training batch is, with probability ``rate``, swapped for the value of the
    same column in a random row of the batch. The corrupted rows stay on the data's own
    values: binary, one-hot and integer-coded columns keep their values, skewed columns their
    range, and no scaling is needed. The entries are those of X's columns: the network
    columns that the estimator makes from one column of X (a categorical's one-hot columns,
    a numeric column and its missing-value indicator) swap together, for the same row, so a
    swapped row holds one level of each categorical. This is the "swap noise" that won the
    Porto Seguro competition for denoising autoencoders, and the corruption SCARF uses for
    tabular contrastive learning; it suits tabular data better than Gaussian noise, which
    assumes continuous, standardized features. (:func:`augment` swaps each column of its
    matrix on its own.)

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
        return None if self.rate == 0 else ("swap_noise", ())

    def _strengths(self):
        return (float(self.rate),)


class Mixup(Augmentation):
    """Train on convex mixtures of pairs of rows and of their targets.

    Each training row ``i`` of a batch is mixed with a random partner ``j`` of the same batch:
    ``x = lam * x_i + (1 - lam) * x_j`` and ``y = lam * y_i + (1 - lam) * y_j`` with
    ``lam ~ Beta(alpha, alpha)``, drawn afresh for every row and epoch. The classifier mixes
    one-hot targets, so it trains on soft targets; the regressor mixes the target values.
    The row keeps its own sample weight. A table's categorical column with learned
    embeddings takes the level of the row that weighs more (``lam >= 0.5``: row ``i``'s),
    as a level code cannot be mixed.

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
        return None if self.alpha == 0 else ("mixup", ())

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
    example divide by the maximum intensity), not pixel by pixel, and set the estimator's
    ``numeric_scaling=None``, without which it refuses the augmentation (its default scales
    each column on its own). On TensorFlow, the affine
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
        Largest shift, as a fraction of the height and of the width, either way; each
        axis draws its own (``ImageDataGenerator``'s ``width_shift_range`` and
        ``height_shift_range``).
    zoom : float, default=0.0
        Largest zoom in or out, as a fraction of the size.
    contrast : float, default=0.0
        Contrast factor drawn from ``[1 - contrast, 1 + contrast]`` per image.
    fill_mode : {"nearest", "constant", "reflect", "wrap"}, default="nearest"
        How rotation, translation and zoom fill pixels from outside the image; "constant"
        fills with 0, "wrap" reads the image as periodic, interpolating across its edges
        (it transforms a 3 x 3 tiling of each image, nine times the pixels).

    Examples
    --------
    >>> from skreg import ImageAugmentation, RegularizedMLPClassifier
    >>> aug = ImageAugmentation((8, 8), rotation=10, translation=0.1)
    >>> clf = RegularizedMLPClassifier(augmentation=aug, numeric_scaling=None)
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
        return ("image", structure) if any(structure[1:5]) else None

    def _strengths(self):
        affine = bool(self.rotation or self.translation or self.zoom)
        magnitudes = (float(self.rotation), float(self.translation), float(self.zoom))
        return (magnitudes if affine else ()) + ((float(self.contrast),) if self.contrast else ())


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
    if y is None:
        Y = np.zeros((len(X), 1), np.float32)
    else:
        Y = check_array(y, dtype=np.float32, ensure_2d=False, input_name="y")
        check_consistent_length(X, Y)
        Y = Y.reshape(len(X), -1)
    plan = plan_augmentation(augmentation, X.shape[1])
    layer_seeds, host_seeds = seed_sequence(random_state).spawn(2)
    if plan.kinds:
        n = len(X)
        batch = Batches(np.arange(n)[None], np.ones((1, n), np.float32), np.array([n]))
        arrays = plan.draw(np.random.default_rng(host_seeds), batch)
        X, Y = _engine.augment(plan, X, Y, [a[0] for a in arrays], layer_seeds)
    return X if y is None else (X, Y)


def plan_augmentation(
    augmentation: Any, n_features: int, estimator: Any = None, sources: Any = None
) -> AugmentationPlan:
    """Validate the ``augmentation`` parameter against X and plan its use (see the module).

    ``n_features`` is the width of the matrix the network reads; ``estimator``, the fitted
    estimator it comes from: when its width differs from its ``n_features_in_``, an image
    layout that does not fit names the preprocessing's extra columns as the cause, and an
    image augmentation needs its ``numeric_scaling`` off. ``sources``: the input column
    each of the matrix's columns comes from (:class:`~skreg._specs.AugmentationPlan`).
    """
    n_features_in = getattr(estimator, "n_features_in_", None)
    scaling = getattr(estimator, "numeric_scaling", None)
    active = []
    for item in as_augmentation_list(augmentation):
        try:
            item._check_n_features(n_features)
        except ValueError as error:
            if n_features_in is None or n_features_in == n_features:
                raise
            raise ValueError(
                f"{error} The network reads {n_features} columns made from X's "
                f"{n_features_in} features: the tabular preprocessing added missing-value "
                "indicators, one-hot or piecewise-linear columns, which no image layout "
                "follows. Pass pixel columns without missing values (or set "
                "missing_indicators=False) and no categorical column, and leave "
                "numeric_embedding other than 'piecewise_linear'."
            ) from None
        kind = item._kind(n_features)
        if kind is not None and kind[0] == "image" and scaling is not None:
            raise ValueError(
                f"ImageAugmentation moves pixels between columns, so every pixel must be on "
                f"one scale, but numeric_scaling={scaling!r} scales each column on its own. "
                "Set numeric_scaling=None and scale the images as a whole (for example "
                "X / X.max())."
            )
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
        sources=None if sources is None else np.asarray(sources),
    )


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


def _image_shape(image_shape: Any, n_features: int) -> tuple[int, int, int]:
    """``image_shape`` as (height, width, channels), checked against the number of features."""
    if image_shape is None:
        side = math.isqrt(n_features)
        if side * side != n_features:
            raise ValueError(
                f"ImageAugmentation without image_shape reads rows as square grayscale images, "
                f"but there are {n_features} input columns, not a square number. Pass image_shape="
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
            f"image_shape {tuple(image_shape)} has {math.prod(shape)} values per image, but "
            f"there are {n_features} input columns."
        )
    return tuple(int(s) for s in shape)
