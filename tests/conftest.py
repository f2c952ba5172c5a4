import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.datasets import load_iris, make_classification, make_regression  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402


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
