"""The data set skreg ships for its examples and command line."""

import numpy as np
import pytest
from sklearn.datasets import make_moons

from skreg.datasets import make_noisy_moons


def test_noisy_moons_flip_the_share_of_labels_asked_for():
    X, y = make_noisy_moons(4000, noise=0.0, label_noise=0.2, random_state=0)
    assert X.shape == (4000, 2) and set(np.unique(y)) == {0, 1}
    # Without point noise each point lies on its moon: class 0's is the unit circle's top
    # half (make_moons), class 1's the circle of centre (1, 0.5) below.
    on_first = np.isclose(np.hypot(X[:, 0], X[:, 1]), 1.0)
    assert np.mean(on_first) == pytest.approx(0.5)
    assert np.mean(y != np.where(on_first, 0, 1)) == pytest.approx(0.2, abs=0.02)
    again = make_noisy_moons(4000, noise=0.0, label_noise=0.2, random_state=0)
    np.testing.assert_array_equal(again[1], y)
    assert make_moons(4000, noise=0.0)[1].mean() == 0.5


@pytest.mark.parametrize(
    ("params", "name"),
    [({"n_samples": (10, 5)}, "n_samples"), ({"n_samples": 0}, "n_samples"),
     ({"label_noise": "0.1"}, "label_noise"), ({"label_noise": 1.5}, "label_noise"),
     ({"noise": -1.0}, "noise"), ({"n_samples": True}, "n_samples")],
)  # fmt: skip
def test_noisy_moons_name_the_argument_they_cannot_take(params, name):
    # A tuple of sizes (make_moons takes one) failed inside NumPy; a string label_noise too;
    # True, an Integral, failed in NumPy's uniform.
    with pytest.raises(ValueError, match=f"The '{name}' parameter of make_noisy_moons"):
        make_noisy_moons(**params)
