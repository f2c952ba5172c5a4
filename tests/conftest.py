"""Fixtures of the tests; the backend is loaded as a user's first fit loads it."""

import json
import os
import subprocess
import sys
import textwrap

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.datasets import load_iris, make_classification, make_regression  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skreg import _engine  # noqa: E402

# Test modules import Keras at their top; skreg loads it first (threads, compilation cache,
# deferred imports), as it does at a user's first fit, before any test module is collected.
_engine.load()


@pytest.fixture(scope="session")
def classification_data():
    X, y = make_classification(
        n_samples=200, n_features=8, n_informative=5, n_classes=3, class_sep=2.0, random_state=0
    )
    return StandardScaler().fit_transform(X).astype(np.float32), y


@pytest.fixture(scope="session")
def binary_data():
    X, y = make_classification(n_samples=160, n_features=6, n_informative=4, random_state=1)
    return StandardScaler().fit_transform(X).astype(np.float32), y


@pytest.fixture(scope="session")
def regression_data():
    X, y = make_regression(n_samples=200, n_features=6, n_targets=2, noise=0.1, random_state=0)
    return StandardScaler().fit_transform(X), y / y.std(axis=0)


@pytest.fixture(scope="session")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="session")
def numpy_forward():
    return _numpy_forward


def _numpy_forward(estimator, X):
    """A fitted (ReLU, no batch normalization) network's outputs computed in NumPy from its
    ``coefs_`` and ``intercepts_``: no dropout and no augmentation, whatever the training."""
    hidden = np.asarray(X, dtype=np.float64)
    for kernel, bias in zip(estimator.coefs_[:-1], estimator.intercepts_[:-1]):
        hidden = np.maximum(hidden @ kernel + bias, 0)
    outputs = hidden @ estimator.coefs_[-1] + estimator.intercepts_[-1]
    if not hasattr(estimator, "predict_proba"):
        return outputs.ravel() if outputs.shape[1] == 1 else outputs
    shifted = outputs - outputs.max(axis=1, keepdims=True)
    return np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)


@pytest.fixture(scope="session")
def run_python():
    """Run code in a fresh interpreter on this backend, with skreg's settings from ``env``
    only (a value of None unsets a variable); return the JSON it printed on its last line."""

    def run(code, cwd=None, **env):
        environ = {k: v for k, v in os.environ.items() if not k.startswith("SKREG_")}
        environ.update(KERAS_BACKEND=_engine.backend_name(), TF_CPP_MIN_LOG_LEVEL="3", **env)
        environ = {k: v for k, v in environ.items() if v is not None}
        out = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            capture_output=True, text=True, env=environ, cwd=cwd, timeout=300,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr[-3000:]
        return json.loads(out.stdout.strip().splitlines()[-1])

    return run
