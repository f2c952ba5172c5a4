"""Quality on real tables: skreg's defaults on raw DataFrames against gradient boosting, the
scikit-learn MLP and RealMLP, on the development suite (``../shared/tabular-dev``).

Each data set is split by an outer 5-fold cross-validation (stratified for classification,
shuffled, seed 0); every contender fits each training fold with its defaults and predicts
the test fold. The error is ``1 - accuracy`` for classification and the RMSE for regression,
reported as the mean over the folds with its standard error (the standard deviation over the
folds divided by sqrt(5)), and the time is the folds' fit and predict seconds, summed. Every
(contender, data set) runs in a fresh process on one thread (``OMP_NUM_THREADS=1``,
``SKREG_NUM_THREADS=1``, torch's one thread).

Contenders:

- ``skreg``: ``RegularizedMLP*(random_state=0)`` on the raw DataFrame (categorical columns
  as ``category``, missing values as NaN);
- ``hgb``: ``HistGradientBoosting*(random_state=0)`` on the same frame
  (``categorical_features="from_dtype"``, its default);
- ``mlp``: scikit-learn's ``MLP*(random_state=0)`` after median imputation and standard
  scaling of the numeric columns and one-hot encoding of the categorical ones, the target
  standardized for regression;
- ``realmlp``: pytabkit's ``RealMLP_TD_*(random_state=0, n_threads=1)`` (which refuses
  missing numeric values: they get the training fold's median and an indicator column, as
  skreg does), from its own environment (it brings torch, never a dependency of skreg)::

      python -m venv ~/realmlp-env
      ~/realmlp-env/bin/pip install pytabkit torch==2.13.0 pandas scikit-learn
      python benchmarks/bench_tabular.py --contenders realmlp \\
          --realmlp-python ~/realmlp-env/bin/python

Variants of skreg for an ablation: ``--skreg-params '{"numeric_embedding": null}'`` (JSON;
``--name`` labels the row).

    python benchmarks/bench_tabular.py                       # skreg, hgb, mlp on all eight
    python benchmarks/bench_tabular.py --datasets glass ozone --contenders skreg
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

SUITE = Path(__file__).resolve().parents[2] / "shared" / "tabular-dev"
TASKS = {
    "glass": "classification",
    "ozone": "regression",
    "house_votes": "classification",
    "pima_diabetes": "classification",
    "sacramento": "regression",
    "ames": "regression",
    "satellite": "classification",
    "letter": "classification",
}
CONTENDERS = ("skreg", "hgb", "mlp", "realmlp")
ONE_THREAD = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "SKREG_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "3",
}


def load(name: str, suite: Path):
    import pandas as pd

    frame = pd.read_csv(suite / f"{name}.csv.gz")
    y = frame.pop("target")
    for column in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            frame[column] = frame[column].astype("category")
    if TASKS[name] == "classification":
        y = y.astype(str)
    return frame, y.to_numpy()


def make(contender: str, task: str, params: dict):
    if contender == "skreg":
        from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor

        cls = RegularizedMLPClassifier if task == "classification" else RegularizedMLPRegressor
        return cls(**{"random_state": 0, **params})
    if contender == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        cls = (
            HistGradientBoostingClassifier
            if task == "classification"
            else HistGradientBoostingRegressor
        )
        return cls(random_state=0)
    if contender == "mlp":
        return _sklearn_mlp(task)
    raise ValueError(contender)


def _sklearn_mlp(task: str):
    from sklearn.compose import ColumnTransformer, TransformedTargetRegressor, make_column_selector
    from sklearn.impute import SimpleImputer
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    prepare = ColumnTransformer(
        [
            ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
             make_column_selector(dtype_include="number")),
            ("categorical", make_pipeline(
                SimpleImputer(strategy="most_frequent"),
                OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
             make_column_selector(dtype_exclude="number")),
        ]
    )  # fmt: skip
    if task == "classification":
        return make_pipeline(prepare, MLPClassifier(random_state=0))
    regressor = TransformedTargetRegressor(
        MLPRegressor(random_state=0), transformer=StandardScaler()
    )
    return make_pipeline(prepare, regressor)


def folds(name: str, X, y):
    from sklearn.model_selection import KFold, StratifiedKFold

    split = StratifiedKFold if TASKS[name] == "classification" else KFold
    return list(split(5, shuffle=True, random_state=0).split(X, y))


def error(task: str, y_true, y_pred) -> float:
    import numpy as np

    if task == "classification":
        return float(np.mean(y_true != y_pred))
    return float(np.sqrt(np.mean((np.asarray(y_true, float) - y_pred) ** 2)))


def child(contender: str, name: str, params: dict, suite: Path) -> dict:
    """One contender on one data set, in this process."""
    import warnings

    warnings.filterwarnings("ignore")
    X, y = load(name, suite)
    task = TASKS[name]
    errors, seconds = [], 0.0
    for train, test in folds(name, X, y):
        model = make(contender, task, params)
        start = time.perf_counter()
        model.fit(X.iloc[train], y[train])
        predicted = model.predict(X.iloc[test])
        seconds += time.perf_counter() - start
        errors.append(error(task, y[test], predicted))
    return {"errors": errors, "seconds": seconds}


def realmlp_child(name: str, suite: Path) -> dict:
    """pytabkit's RealMLP-TD on one data set (run by the benchmark environment's Python)."""
    import warnings

    warnings.filterwarnings("ignore")
    import torch
    from pytabkit import RealMLP_TD_Classifier, RealMLP_TD_Regressor

    torch.set_num_threads(1)
    X, y = load(name, suite)
    task = TASKS[name]
    errors, seconds = [], 0.0
    for train, test in folds(name, X, y):
        cls = RealMLP_TD_Classifier if task == "classification" else RealMLP_TD_Regressor
        model = cls(random_state=0, n_threads=1, device="cpu", verbosity=0)
        start = time.perf_counter()
        X_train, X_test = _impute_numeric(X.iloc[train], X.iloc[test])
        model.fit(X_train, y[train])
        predicted = model.predict(X_test)
        seconds += time.perf_counter() - start
        errors.append(error(task, y[test], predicted))
    return {"errors": errors, "seconds": seconds}


def _impute_numeric(train, test):
    """RealMLP refuses missing numeric values: the training fold's median, with an indicator
    column for each numeric column that has some (skreg's own treatment)."""
    import pandas as pd

    train, test = train.copy(), test.copy()
    for column in train.columns:
        if pd.api.types.is_numeric_dtype(train[column]) and _has_missing(train, test, column):
            median = train[column].median()
            for part in (train, test):
                part[f"{column}_missing"] = part[column].isna().astype(float)
                part[column] = part[column].fillna(median)
    return train, test


def _has_missing(train, test, column) -> bool:
    return bool(train[column].isna().any() or test[column].isna().any())


def run(contender: str, name: str, args: argparse.Namespace) -> dict:
    python = args.realmlp_python if contender == "realmlp" else sys.executable
    command = [python, __file__, "--child", contender, "--datasets", name]
    command += ["--skreg-params", args.skreg_params, "--suite", str(args.suite)]
    out = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **ONE_THREAD})
    if out.returncode:
        sys.exit(f"{contender} on {name} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", choices=sorted(TASKS), default=list(TASKS))
    parser.add_argument(
        "--contenders", nargs="+", choices=CONTENDERS, default=["skreg", "hgb", "mlp"]
    )
    parser.add_argument("--skreg-params", default="{}", help="JSON of skreg parameters")
    parser.add_argument("--name", default=None, help="label of the skreg row")
    parser.add_argument("--suite", type=Path, default=SUITE)
    parser.add_argument("--realmlp-python", default=str(Path.home() / "realmlp-env/bin/python"))
    parser.add_argument("--json", type=Path, help="append the results to this JSON-lines file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        (name,) = args.datasets
        if args.child == "realmlp":
            result = realmlp_child(name, args.suite)
        else:
            result = child(args.child, name, json.loads(args.skreg_params), args.suite)
        print(json.dumps(result))
        return
    label = {"skreg": args.name or "skreg"}
    print(f"{'data set':<14} {'task':<6} {'contender':<24} {'error':>16} {'seconds':>8}")
    for name in args.datasets:
        for contender in args.contenders:
            result = run(contender, name, args)
            mean = statistics.mean(result["errors"])
            sem = statistics.stdev(result["errors"]) / len(result["errors"]) ** 0.5
            row = label.get(contender, contender)
            task = "class" if TASKS[name] == "classification" else "regr"
            print(f"{name:<14} {task:<6} {row:<24} {mean:>9.4f} ± {sem:<5.4f} "
                  f"{result['seconds']:>8.1f}", flush=True)  # fmt: skip
            if args.json:
                with args.json.open("a") as out:
                    record = {
                        "dataset": name,
                        "contender": row,
                        **result,
                        "params": args.skreg_params if contender == "skreg" else None,
                    }
                    out.write(json.dumps(record) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
