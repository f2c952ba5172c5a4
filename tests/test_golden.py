"""Saved fits: the same cases give the same predictions, to the bit, as when they were saved.

The predictions in ``tests/golden/`` were saved before the engine moved into its package
(issue 13); a change that should change no number (a move, a split, a rename) must keep
them. XLA chooses its CPU kernels by the processor's features, so on another kind of CPU
the predictions agree only up to float rounding, and that is what is checked there.
"""

import sys
from pathlib import Path

import keras
import numpy as np
import pytest

GOLDEN = Path(__file__).parent / "golden"
sys.path.insert(0, str(GOLDEN))

from cases import CASES, machine  # noqa: E402


@pytest.fixture(scope="module")
def saved():
    return np.load(GOLDEN / f"{keras.backend.backend()}.npz")


@pytest.mark.parametrize("name", sorted(CASES))
def test_saved_fits_predict_the_same_bits(saved, name):
    predictions = CASES[name]()
    if str(saved["machine"]) == machine():
        np.testing.assert_array_equal(predictions, saved[name])
    else:
        np.testing.assert_allclose(predictions, saved[name], rtol=1e-4, atol=1e-5)
