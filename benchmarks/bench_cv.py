"""The CV estimators against the grid searches they replace (issue 26).

On the development suite (``../shared/tabular-dev``) and on scikit-learn's digits, each
contender is trained on the training part of an outer split and scored on its test part;
every contender runs in its own process on one thread:

- ``cv``: ``RegularizedMLPClassifierCV`` / ``RegularizedMLPRegressorCV`` with their defaults
  (4 penalties x 2 dropout rates, 5 folds, racing, the fold ensemble);
- ``cv-refit``: the same with ``refit=True``;
- ``cv-joint``: the same as ``cv`` with ``joint=True``: each racing round's fold models
  trained as the lanes of one compiled program (JAX only: run with ``KERAS_BACKEND=jax``;
  on TensorFlow it trains one by one);
- ``grid``: ``GridSearchCV`` over the same grid and folds, around the base estimator;
- ``mlp-grid``: ``GridSearchCV`` over an alpha grid of the same size (8 values) around
  scikit-learn's MLP in a StandardScaler/OneHotEncoder pipeline (target standardized);
- ``hgb``: ``HistGradientBoosting*`` defaults.

It prints the test error (1 - accuracy, or RMSE), the seconds of fit + predict, and for skreg's
contenders the fold models trained, the programs and epoch traces compiled
(``skreg.program_cache_info()``) and the epochs the fold models ran (racing stops a fold
model past its best before its budget). Run::

    python benchmarks/bench_cv.py                       # small sets + digits, 1 outer split
    python benchmarks/bench_cv.py --sets glass digits --outer 5
    python benchmarks/bench_cv.py --warm        # time fits after an untimed first fit
    KERAS_BACKEND=jax python benchmarks/bench_cv.py --contenders cv cv-joint
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_tabular import ONE_THREAD, SUITE, TASKS, error, folds, load  # noqa: E402

CONTENDERS = ("cv", "cv-refit", "cv-joint", "grid", "mlp-grid", "hgb")
DEFAULT_CONTENDERS = ("cv", "cv-refit", "grid", "mlp-grid", "hgb")
DEFAULT_SETS = ("glass", "ozone", "house_votes", "pima_diabetes", "digits")


def data(name: str):
    if name == "digits":
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True, as_frame=True)
        return X, y.to_numpy(), "classification"
    X, y = load(name, SUITE)
    return X, y, TASKS[name]


def outer_folds(name: str, X, y):
    if name == "digits":
        from sklearn.model_selection import StratifiedKFold

        return list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    return folds(name, X, y)


def make(contender: str, task: str, X_train, y_train):
    """The contender, built for this training set (the grid's penalties depend on its rows)."""
    import numpy as np
    from sklearn.base import is_classifier
    from sklearn.model_selection import GridSearchCV, check_cv

    from skreg import (
        RegularizedMLPClassifier,
        RegularizedMLPClassifierCV,
        RegularizedMLPRegressor,
        RegularizedMLPRegressorCV,
    )
    from skreg._search import l2_path

    classification = task == "classification"
    if contender in ("cv", "cv-refit", "cv-joint"):
        cls = RegularizedMLPClassifierCV if classification else RegularizedMLPRegressorCV
        return cls(
            random_state=0,
            refit=True if contender == "cv-refit" else "ensemble",
            joint=True if contender == "cv-joint" else "auto",
        )
    if contender == "grid":
        base = (RegularizedMLPClassifier if classification else RegularizedMLPRegressor)(
            random_state=0
        )
        splits = check_cv(5, y_train, classifier=is_classifier(base)).split(X_train, y_train)
        n_train = min(len(train) for train, _ in splits)
        grid = {"l2": l2_path(4, n_train), "dropout": [0.0, 0.15]}
        return GridSearchCV(base, grid, cv=5)
    if contender == "mlp-grid":
        from bench_tabular import _sklearn_mlp

        pipe = _sklearn_mlp(task)
        step = pipe.steps[-1][0]
        name = f"{step}__alpha" if classification else f"{step}__regressor__alpha"
        return GridSearchCV(pipe, {name: list(np.geomspace(1e-5, 10, 8))}, cv=5)
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    cls = HistGradientBoostingClassifier if classification else HistGradientBoostingRegressor
    return cls(random_state=0)


def child(contender: str, name: str, n_outer: int, warm: bool = False) -> dict:
    import warnings

    import numpy as np

    warnings.filterwarnings("ignore")
    X, y, task = data(name)
    errors, seconds, fold_models, programs, traces, epochs = [], 0.0, 0, 0, 0, 0
    splits = outer_folds(name, X, y)[:n_outer]
    if warm:  # an untimed fit first: the timed ones find the backend loaded, the program built
        train, _ = splits[0]
        make(contender, task, X.iloc[train], y[train]).fit(X.iloc[train], y[train])
    for train, test in splits:
        model = make(contender, task, X.iloc[train], y[train])
        before = _cache_info()
        start = time.perf_counter()
        model.fit(X.iloc[train], y[train])
        predicted = model.predict(X.iloc[test])
        seconds += time.perf_counter() - start
        after = _cache_info()
        errors.append(error(task, y[test], predicted))
        if contender.startswith("cv"):
            fold_models += int((model.n_iter_ > 0).sum()) + (contender == "cv-refit")
            epochs += int(model.n_iter_.sum())  # the fold models' (racing stops some early)
        elif contender == "grid":
            fold_models += len(model.cv_results_["params"]) * 5 + 1
        if after is not None:
            programs += after.misses - (before.misses if before else 0)
            traces += after.epoch_compiles - (before.epoch_compiles if before else 0)
    return {
        "error": float(np.mean(errors)),
        # Standard error of the mean over the outer splits (0 with one split).
        "se": float(np.std(errors, ddof=1) / np.sqrt(len(errors))) if len(errors) > 1 else 0.0,
        "seconds": seconds,
        "fits": fold_models,
        "programs": programs,
        "traces": traces,
        "epochs": epochs,
    }


def _cache_info():
    from skreg import _engine

    if not _engine.loaded():
        return None
    import skreg

    return skreg.program_cache_info()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=list(DEFAULT_SETS))
    parser.add_argument(
        "--contenders", nargs="+", default=list(DEFAULT_CONTENDERS), choices=CONTENDERS
    )
    parser.add_argument("--outer", type=int, default=1, help="outer splits (of 5) to run")
    parser.add_argument(
        "--warm",
        action="store_true",
        help="fit once untimed in each process first (a process's fixed cost left out)",
    )
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args.outer, args.warm)))
        return
    env = {**os.environ, **ONE_THREAD}
    warm = "; after an untimed first fit" if args.warm else ""
    print(
        f"outer splits: {args.outer}; error = 1 - accuracy or RMSE; one thread per process{warm}"
    )
    print(
        f"{'set':<15}{'contender':<10}{'error':>12}{'± se':>10}{'seconds':>9}{'fits':>6}"
        f"{'progs':>6}{'traces':>7}{'epochs':>8}"
    )
    for name in args.sets:
        results = {}
        for contender in args.contenders:
            command = [
                sys.executable,
                __file__,
                "--outer",
                str(args.outer),
                *(["--warm"] if args.warm else []),
                "--child",
                contender,
                name,
            ]
            out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
            results[contender] = r = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"{name:<15}{contender:<10}{r['error']:>12.4g}{r['se']:>10.3g}{r['seconds']:>9.1f}"
                f"{r['fits']:>6}{r['programs']:>6}{r['traces']:>7}{r['epochs'] or '':>8}",
                flush=True,
            )
        for contender in ("cv", "cv-refit", "cv-joint"):
            for reference in ("cv", "grid", "mlp-grid"):
                if contender == reference:
                    continue
                if contender in results and reference in results:
                    ratio = results[contender]["seconds"] / results[reference]["seconds"]
                    print(f"{'':<15}{contender} / {reference} time: {ratio:.2f}x")


if __name__ == "__main__":
    main()
