"""The user's workflow: nested cross-validation of a small grid on small tabular data.

Protocol, per data set (all shipped with scikit-learn): outer 5-fold cross-validation
(stratified for classes); inside each outer fold a 3-fold ``GridSearchCV`` picks the
regularization; ``StandardScaler`` in the pipeline; ``early_stopping=True, max_iter=300``;
default network ``(100,)``; the regression target standardized by
``TransformedTargetRegressor``. skreg searches ``l2 x dropout`` (3 x 3); MLPClassifier and
MLPRegressor, which have no dropout, search 9 values of ``alpha``: the same number of fits.
Each library runs the whole protocol on every data set in its own fresh process, as a
notebook would (import and compilation included), one thread each. Printed per data set:
time, mean outer score (accuracy or R^2) and mean epochs per fit; then the whole process's
wall time.

    python benchmarks/bench_nested_cv.py                 # TensorFlow
    KERAS_BACKEND=jax python benchmarks/bench_nested_cv.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

THREADS = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    "TF_CPP_MIN_LOG_LEVEL": "3",
}
DATASETS = ("iris", "wine", "breast_cancer", "digits_1000", "diabetes")
SKREG_GRID = {"l2": [0.0, 1e-4, 1e-3], "dropout": [0.0, 0.1, 0.3]}
ALPHA_GRID = {"alpha": [1e-5, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0]}


def load(name: str):
    from sklearn import datasets

    if name == "digits_1000":
        X, y = datasets.load_digits(return_X_y=True)
        return X[:1000], y[:1000], "classification"
    loader = getattr(datasets, f"load_{name}")
    X, y = loader(return_X_y=True)
    return X, y, "regression" if name == "diabetes" else "classification"


def run(library: str, dataset: str, skreg_params: dict | None = None) -> dict:
    """One library's nested CV on one data set, in this process."""
    import numpy as np
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y, task = load(dataset)
    epochs: list[int] = []
    if library == "skreg":
        from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor

        base = RegularizedMLPClassifier if task == "classification" else RegularizedMLPRegressor
        grid = SKREG_GRID
    else:
        from sklearn.neural_network import MLPClassifier, MLPRegressor

        base = MLPClassifier if task == "classification" else MLPRegressor
        grid = ALPHA_GRID

    class Recording(base):
        def fit(self, X, y, *args, **kwargs):
            super().fit(X, y, *args, **kwargs)
            epochs.append(self.n_iter_)
            return self

    Recording.__name__ = base.__name__
    extra = skreg_params or {} if library == "skreg" else {}
    model = Recording(early_stopping=True, max_iter=300, random_state=0, **extra)
    inner_cv = (StratifiedKFold if task == "classification" else KFold)(
        3, shuffle=True, random_state=0
    )
    outer_cv = (StratifiedKFold if task == "classification" else KFold)(
        5, shuffle=True, random_state=1
    )
    model = make_pipeline(StandardScaler(), model)
    prefix = f"{base.__name__.lower()}__"
    if task == "regression":  # standardized targets, as MLPs need
        model = TransformedTargetRegressor(model, transformer=StandardScaler())
        prefix = "regressor__" + prefix
    grid = {prefix + name: values for name, values in grid.items()}
    search = GridSearchCV(model, grid, cv=inner_cv)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLP's ConvergenceWarning
        start = time.perf_counter()
        scores = cross_val_score(search, X, y, cv=outer_cv)
        seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "score": float(np.mean(scores)),
        "epochs": float(np.mean(epochs)),
        "fits": len(epochs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument(
        "--skreg-params", default="{}", help="JSON of extra skreg parameters, e.g. an ablation"
    )
    parser.add_argument("--libraries", nargs="+", default=["sklearn", "skreg"])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        params = json.loads(args.skreg_params)
        print(json.dumps({d: run(args.worker, d, params) for d in args.datasets}))
        return
    env = {**os.environ, **THREADS}
    backend = env.get("KERAS_BACKEND", "tensorflow")
    results, wall = {}, {}
    for library in args.libraries:
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, __file__, "--worker", library, "--datasets", *args.datasets,
             "--skreg-params", args.skreg_params],
            capture_output=True, text=True, env=env, check=True,
        )  # fmt: skip
        wall[library] = time.perf_counter() - start
        results[library] = json.loads(out.stdout.strip().splitlines()[-1])
    for dataset in args.datasets:
        print(_row(dataset, {lib: results[lib][dataset] for lib in results}))
    print(f"\nKeras backend: {backend}; one thread per library; one fresh process per library.")
    parts = []
    for lib in results:
        score = sum(r["score"] for r in results[lib].values()) / len(args.datasets)
        parts.append(f"{NAMES[lib]} {wall[lib]:.1f} s (mean score {score:.3f})")
    ratio = f", ratio {wall['skreg'] / wall['sklearn']:.2f}" if len(wall) == 2 else ""
    print(f"whole process: {', '.join(parts)}{ratio}")


NAMES = {"skreg": "skreg", "sklearn": "MLP"}


def _row(dataset: str, result: dict) -> str:
    cells = [
        f"{NAMES[lib]} {r['seconds']:6.1f} s  score {r['score']:.3f}  epochs {r['epochs']:5.1f}"
        for lib, r in sorted(result.items(), key=lambda item: item[0] != "skreg")
    ]
    if len(result) == 2:
        cells.append(f"time ratio {result['skreg']['seconds'] / result['sklearn']['seconds']:.2f}")
    return f"{dataset:<14} " + "  | ".join(cells)


if __name__ == "__main__":
    main()
