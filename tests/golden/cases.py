"""Fixed fits whose predictions are saved, to prove that a change of layout changes no bit.

``python tests/golden/make_golden.py`` (once per backend, ``KERAS_BACKEND=jax`` for JAX)
writes ``<backend>.npz`` from the code of the day; ``tests/test_golden.py`` fits the same
cases and compares. Saved from 560a964, the code before the engine package (issue 13).
"""

from __future__ import annotations

import functools
import hashlib
import platform
import sys
from pathlib import Path

import numpy as np
from sklearn.datasets import make_classification, make_regression
from sklearn.preprocessing import StandardScaler

import skreg
from skreg import GaussianNoise, ImageAugmentation, Mixup, SwapNoise

sys.path.insert(0, str(Path(__file__).parents[1]))
from plain import plain  # noqa: E402

# The cases were saved before the tabular defaults (issue 14) and run the plain estimators,
# so their predictions still hold: the plain engine did not change.
RegularizedMLPClassifier = functools.partial(
    skreg.RegularizedMLPClassifier, **plain(skreg.RegularizedMLPClassifier)
)
RegularizedMLPRegressor = functools.partial(
    skreg.RegularizedMLPRegressor, **plain(skreg.RegularizedMLPRegressor)
)


def _classification():
    X, y = make_classification(
        n_samples=240, n_features=9, n_informative=5, n_classes=3, random_state=3
    )
    return StandardScaler().fit_transform(X).astype(np.float32), y


def _regression():
    X, y = make_regression(n_samples=220, n_features=6, n_targets=2, noise=0.5, random_state=4)
    return StandardScaler().fit_transform(X), y / y.std(axis=0)


def _counts():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(200, 4))
    return X, rng.poisson(np.exp(0.5 * X[:, 0] - 0.3 * X[:, 1]))


def clf_penalties():
    X, y = _classification()
    clf = RegularizedMLPClassifier((16,), l1=1e-4, l2=1e-3, max_iter=25, random_state=0)
    return clf.fit(X, y).predict_proba(X)


def clf_early_stopping_dropout():
    X, y = _classification()
    clf = RegularizedMLPClassifier(
        (16, 8), dropout=(0.2, 0.1), early_stopping=True, learning_rate=1e-2, max_iter=40,
        random_state=1,
    )  # fmt: skip
    return clf.fit(X, y).predict_proba(X)


def clf_scorer_batch_norm_weights():
    X, y = _classification()
    weights = np.linspace(0.5, 1.5, len(y))
    clf = RegularizedMLPClassifier(
        (12,), batch_normalization=True, early_stopping=True, scoring="accuracy",
        class_weight="balanced", batch_size=32, max_iter=15, random_state=2,
    )  # fmt: skip
    return clf.fit(X, y, sample_weight=weights).predict_proba(X)


def clf_augmentation():
    X, y = _classification()
    clf = RegularizedMLPClassifier(
        (16,), augmentation=[SwapNoise(0.1), GaussianNoise(0.1), Mixup(0.3)], max_iter=15,
        random_state=3,
    )  # fmt: skip
    return clf.fit(X, y).predict_proba(X)


def clf_image_augmentation():
    X, y = _classification()
    X = X[:, :8]
    aug = ImageAugmentation((2, 4), horizontal_flip=True, rotation=10, contrast=0.2)
    clf = RegularizedMLPClassifier((8,), augmentation=aug, max_iter=5, random_state=4)
    return clf.fit(X, y).predict_proba(X)


def clf_warm_start_and_schedules():
    X, y = _classification()
    clf = RegularizedMLPClassifier(
        (16,), learning_rate_schedule="adaptive", n_iter_no_change=2, max_iter=10,
        warm_start=True, random_state=5,
    )  # fmt: skip
    clf.fit(X, y)
    clf.set_params(l2=1e-2, dropout=0.1, learning_rate_schedule="cosine")
    return clf.fit(X, y).predict_proba(X)


def clf_partial_fit():
    X, y = _classification()
    clf = RegularizedMLPClassifier(
        (16,), learning_rate_schedule="invscaling", learning_rate=1e-2, random_state=6
    )
    for start in range(0, 240, 60):
        clf.partial_fit(X[start : start + 60], y[start : start + 60], classes=[0, 1, 2])
    return clf.predict_proba(X)


def reg_early_stopping_r2():
    X, y = _regression()
    reg = RegularizedMLPRegressor(
        (16,), l2=1e-4, early_stopping=True, scoring="r2", learning_rate=1e-2, max_iter=30,
        random_state=7,
    )  # fmt: skip
    return reg.fit(X, y).predict(X)


def reg_dropout_noise_optimizer():
    X, y = _regression()
    reg = RegularizedMLPRegressor(
        (16, 16), dropout=0.1, augmentation=GaussianNoise(0.05), optimizer="rmsprop",
        learning_rate=1e-3, max_iter=20, random_state=8,
    )  # fmt: skip
    return reg.fit(X, y).predict(X)


def reg_poisson():
    X, y = _counts()
    reg = RegularizedMLPRegressor((8,), loss="poisson", learning_rate=1e-2, max_iter=25,
                                  random_state=9)  # fmt: skip
    return reg.fit(X, y).predict(X)


CASES = {
    f.__name__: f
    for f in (
        clf_penalties,
        clf_early_stopping_dropout,
        clf_scorer_batch_norm_weights,
        clf_augmentation,
        clf_image_augmentation,
        clf_warm_start_and_schedules,
        clf_partial_fit,
        reg_early_stopping_r2,
        reg_dropout_noise_optimizer,
        reg_poisson,
    )
}


def machine() -> str:
    """The CPU the predictions were made on: XLA picks kernels by the CPU's features."""
    flags = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            flags = next((line for line in cpuinfo if line.startswith(("flags", "Features"))), "")
    except OSError:
        pass
    return f"{platform.machine()}-{hashlib.sha256(flags.encode()).hexdigest()[:12]}"
