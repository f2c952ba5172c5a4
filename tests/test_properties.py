"""Property-based tests: whatever the data and parameters, a fit either gives a usable model,
a ValueError/TypeError naming what is wrong, or (should training diverge) a
FloatingPointError naming the likely cause; and a failed fit changes nothing.

The strategies keep every compiled shape the same (two or three features, one small hidden
layer, the automatic batch size), so the examples reuse a handful of compiled programs and
the module runs in well under a minute. ``derandomize`` makes the examples the same on every
run, so CI is reproducible.
"""

import copy
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Words an error message uses to name what is wrong: an argument, a parameter, or
# scikit-learn's own "Input X contains NaN" / "Found array with 0 sample(s)" / class counts.
NAMES = (
    "X",
    "y",
    "sample_weight",
    "class_weight",
    "validation_fraction",
    "hidden_layer_sizes",
    "dropout",
    "learning_rate",
    "sample(s)",
    "classes",
)


def names_something(message):
    """Whether ``message`` names one of :data:`NAMES` as a word of its own ("y", not the y
    of "any" or "array")."""
    return any(re.search(rf"(?<!\w){re.escape(name)}(?!\w)", message) for name in NAMES)


def test_the_check_of_named_errors_is_not_fooled_by_letters():
    assert names_something("Input y contains NaN.")
    assert names_something("Found array with 0 sample(s) (shape=(0, 2))")
    assert not names_something("any array of every type")


finite = st.floats(-100, 100, allow_nan=False, width=32)
# One bad value, sometimes: NaN, infinity, or beyond float32.
bad_values = st.sampled_from([np.nan, np.inf, -np.inf, 1e39])


def spoil(draw, array, bad):
    """Put one of ``bad`` at a drawn position of ``array``, one time in four."""
    if array.size and draw(st.integers(0, 3)) == 0:
        array.flat[draw(st.integers(0, array.size - 1))] = draw(bad)
    return array


@st.composite
def problems(draw, task):
    n_rows = draw(st.integers(1, 30))
    n_features = draw(st.sampled_from([2, 3]))
    X = spoil(draw, draw(arrays(np.float64, (n_rows, n_features), elements=finite)), bad_values)
    if task == "classification":
        y = draw(arrays(np.int64, n_rows, elements=st.integers(0, 2)))
    else:
        y = spoil(draw, draw(arrays(np.float64, n_rows, elements=finite)), bad_values)
    weights = draw(st.none() | arrays(np.float64, n_rows, elements=st.sampled_from([0.0, 0.5, 2])))
    if weights is not None:
        weights = spoil(draw, weights, st.sampled_from([-1.0, np.nan]))
    params = draw(
        st.fixed_dictionaries(
            {
                "l1": st.sampled_from([0.0, 1e-3, 1.0]),
                "l2": st.sampled_from([0.0, 1e-3, 1.0]),
                "dropout": st.sampled_from([0.0, 0.5, 0.9]),
                "early_stopping": st.booleans(),
                "validation_fraction": st.sampled_from([0.1, 0.3, 0.6]),
                "learning_rate": st.sampled_from([1e-3, 1e-2, 5e-2]),
                "max_iter": st.integers(1, 3),
            }
        )
    )
    return X, y, weights, params


def reference(estimator):
    """A previously fitted estimator, its data, and what it predicts there."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int) if estimator is RegularizedMLPClassifier else X[:, 0]
    model = estimator((3,), max_iter=2, random_state=0).fit(X, y)
    return model, X, outputs(model, X)


def outputs(model, X):
    return model.predict_proba(X) if hasattr(model, "predict_proba") else model.predict(X)


def check_outcome(before, problem):
    fitted, X_ref, expected = before
    X, y, weights, params = problem
    model = copy.deepcopy(fitted).set_params(**params, random_state=0)
    try:
        model.fit(X, y, sample_weight=weights)
    except FloatingPointError as error:
        # Divergence: it names the likely cause and the fix.
        assert "learning_rate (now" in str(error), str(error)
        np.testing.assert_array_equal(outputs(model, X_ref), expected)
        return
    except (ValueError, TypeError) as error:
        assert names_something(str(error)), str(error)
        np.testing.assert_array_equal(outputs(model, X_ref), expected)
        return
    out = outputs(model, X)
    assert np.isfinite(out).all()
    if hasattr(model, "predict_proba"):
        np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-6)


@pytest.fixture(scope="module")
def classifier():
    return reference(RegularizedMLPClassifier)


@pytest.fixture(scope="module")
def regressor():
    return reference(RegularizedMLPRegressor)


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
@SETTINGS
@given(problem=problems("classification"))
def test_a_classifier_fit_gives_probabilities_or_a_named_error(classifier, problem):
    check_outcome(classifier, problem)


# Casting a drawn 1e39 to float32 overflows (scikit-learn then says so in its error).
@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
@SETTINGS
@given(problem=problems("regression"))
def test_a_regressor_fit_gives_finite_predictions_or_a_named_error(regressor, problem):
    check_outcome(regressor, problem)
