"""Small deterministic data sets for the examples, docs and tests (nothing is downloaded)."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.datasets import make_moons
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, InvalidParameterError, validate_params

__all__ = ["make_noisy_moons"]


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "label_noise": [Interval(Real, 0, 1, closed="both")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_noisy_moons(
    n_samples: int = 300, *, noise: float = 0.3, label_noise: float = 0.1, random_state=None
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles with noisy points and flipped labels.

    scikit-learn's :func:`~sklearn.datasets.make_moons` with Gaussian ``noise`` on the points,
    plus a share ``label_noise`` of labels flipped at random: an unregularized network bends
    its decision boundary around the flipped points, which makes overfitting visible in 2-D.

    Parameters
    ----------
    n_samples : int, default=300
        Number of points.
    noise : float, default=0.3
        Standard deviation of the Gaussian noise added to the points.
    label_noise : float, default=0.1
        Share of labels flipped, in [0, 1].
    random_state : int, RandomState instance or None, default=None
        Seed of the points and the flips.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
        The points.
    y : ndarray of shape (n_samples,)
        Labels 0 and 1.

    Examples
    --------
    >>> from skreg.datasets import make_noisy_moons
    >>> X, y = make_noisy_moons(100, random_state=0)
    >>> X.shape, sorted(set(y.tolist()))
    ((100, 2), [0, 1])
    """
    if isinstance(n_samples, bool):  # an Integral to the validation above; one point to make_moons
        raise InvalidParameterError(
            "The 'n_samples' parameter of make_noisy_moons must be an int in the range "
            f"[1, inf); got {n_samples!r}."
        )
    rng = check_random_state(random_state)
    X, y = make_moons(n_samples=n_samples, noise=noise, random_state=rng)
    flip = rng.uniform(size=n_samples) < label_noise
    return X, np.where(flip, 1 - y, y)
