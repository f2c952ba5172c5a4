"""What ``skreg compare`` and ``skreg diagnose`` do, once :mod:`skreg.cli` parsed the arguments.

The CSV's preprocessing (imputation, scaling, one-hot encoding) sits inside the pipeline, so
cross-validation stays honest.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.datasets import load_digits
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from . import (
    GaussianNoise,
    RegularizedMLPClassifier,
    RegularizedMLPRegressor,
    SwapNoise,
    _backend,
)
from .cli import DataError
from .datasets import make_noisy_moons
from .inspection import diagnose, diagnose_estimator

# Integer targets with at most this many distinct values are read as classes.
_MAX_CLASSES_FOR_INTEGER_TARGET = 20
_L2_PATH = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)


@dataclass
class Dataset:
    """Features, target and task of the data a command runs on."""

    X: pd.DataFrame
    y: pd.Series
    task: str
    name: str
    numeric: list[str]
    categorical: list[str]
    # Training settings that suit the data, used unless the command line gives others.
    max_iter: int = 40
    learning_rate: float = 1e-3


def load_data(path: str | None, target: str | None, task: str = "auto") -> Dataset:
    """The noisy moons (by default), the digits, or a CSV file's features and target, with the
    task inferred or checked."""
    if path is None:
        return _noisy_moons()
    if path == "digits" and not Path(path).is_file():
        digits = load_digits(as_frame=True)
        return Dataset(
            X=digits.data,
            y=digits.target,
            task="classification",
            name="digits",
            numeric=list(digits.data.columns),
            categorical=[],
        )
    frame = _read_csv(path, target)
    y = frame.pop(target)
    present = y.notna().to_numpy()
    if not present.any():
        raise DataError(f"the target {target!r} is empty (missing in every row).")
    frame, y = frame[present].reset_index(drop=True), y[present].reset_index(drop=True)
    if len(frame.columns) == 0:
        raise DataError(f"{path} has no feature columns besides the target {target!r}.")
    numeric = list(frame.select_dtypes("number").columns)
    if not numeric:
        raise DataError(f"{path} has no numeric feature columns.")
    for name, values in [*frame[numeric].items(), (target, y)]:
        _check_finite(name, values, is_target=values is y)
    categorical = [c for c in frame.columns if c not in numeric]
    for column in categorical:
        values = frame[column]
        frame[column] = values.where(values.isna(), values.astype(str))
    task = _task(y, task, target)
    if task == "classification":
        if y.nunique() < 2:
            raise DataError(f"the target {target!r} has a single class, {y.iloc[0]!r}.")
    elif not pd.api.types.is_numeric_dtype(y):
        raise DataError(f"--task regression needs a numeric target; {target!r} is not.")
    return Dataset(frame, y, task, Path(path).name, numeric, categorical)


def _noisy_moons() -> Dataset:
    """The default data: small and noisy, so that an unregularized network overfits visibly.

    200 points of scikit-learn's two moons with Gaussian noise 0.3 and 10% of the labels
    flipped. Trained long enough to memorize (300 epochs at learning_rate=1e-2), the
    unregularized (128, 64) network fits the flips and its train/validation gap opens; the
    regularizers close it (the getting-started page shows the table).
    """
    X, y = make_noisy_moons(200, noise=0.3, label_noise=0.1, random_state=0)
    columns = ["x1", "x2"]
    return Dataset(
        X=pd.DataFrame(X, columns=columns),
        y=pd.Series(y, name="label"),
        task="classification",
        name="noisy moons",
        numeric=columns,
        categorical=[],
        max_iter=300,
        learning_rate=1e-2,
    )


def make_model(data: Dataset, hidden: tuple[int, ...], max_iter: int, seed: int) -> Pipeline:
    """Preprocessing and the unregularized network, as one pipeline."""
    transformers = []
    if data.numeric:
        # A column missing in every row of a training fold is kept (as zeros), not dropped.
        numeric = make_pipeline(
            SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler()
        )
        transformers.append(("numeric", numeric, data.numeric))
    if data.categorical:
        categorical = make_pipeline(
            SimpleImputer(strategy="constant", fill_value="missing", keep_empty_features=True),
            OneHotEncoder(handle_unknown="ignore", sparse_output=False),
        )
        transformers.append(("categorical", categorical, data.categorical))
    if data.task == "classification":
        network = RegularizedMLPClassifier(
            hidden, max_iter=max_iter, learning_rate=data.learning_rate, random_state=seed
        )
    else:
        # Standardized targets: a network starts near 0 and takes an age to reach prices.
        network = TransformedTargetRegressor(
            RegularizedMLPRegressor(
                hidden, max_iter=max_iter, learning_rate=data.learning_rate, random_state=seed
            ),
            transformer=StandardScaler(),
        )
    return Pipeline([("prepare", ColumnTransformer(transformers)), ("network", network)])


def set_network_params(model: Pipeline, **params: Any) -> Pipeline:
    """Set parameters of the network in a pipeline from :func:`make_model`."""
    prefix = "network__regressor__" if _is_wrapped(model) else "network__"
    return model.set_params(**{prefix + name: value for name, value in params.items()})


def fitted_network(model: Pipeline) -> Any:
    """The fitted skreg estimator in a pipeline from :func:`make_model`."""
    return model[-1].regressor_ if _is_wrapped(model) else model[-1]


def _is_wrapped(model: Pipeline) -> bool:
    return isinstance(model[-1], TransformedTargetRegressor)


def variants(data: Dataset, max_iter: int) -> dict[str, dict[str, Any]]:
    """The regularizers ``compare`` tries, as parameters of the network step."""
    # Swap noise keeps one-hot columns valid; Gaussian noise suits scaled numeric features.
    augmentation = SwapNoise(0.1) if data.categorical else GaussianNoise(0.1)
    stopping = {"early_stopping": True, "n_iter_no_change": max(5, max_iter // 10)}
    return {
        "none": {},
        "L2 (1e-3)": {"l2": 1e-3},
        "L1 (1e-4)": {"l1": 1e-4},
        "dropout (0.3)": {"dropout": 0.3},
        "early stopping": stopping,
        f"augmentation ({augmentation!r})": {"augmentation": augmentation},
        "L2 + dropout + early stopping": {"l2": 1e-3, "dropout": 0.2, **stopping},
    }


def compare(args: argparse.Namespace) -> int:
    """``skreg compare``: every regularizer by cross-validation, one table, two figures."""
    data = load_data(args.data, args.target, args.task)
    args.max_iter = args.max_iter or data.max_iter
    out = _output_folder(args.out)
    model = make_model(data, args.hidden, args.max_iter, args.seed)
    splits = list(_cv(data, args.cv, args.seed).split(data.X, data.y))
    _check_early_stopping_split(len(data.y), args.cv)
    _check_backend(args.verbose)
    tried = variants(data, args.max_iter)
    # Every fit is one job: each variant's folds and its monitored fit, then the L2 path.
    jobs: list[tuple[tuple[str, Any], Pipeline, Any]] = []
    for name, params in tried.items():
        variant = set_network_params(clone(model), **params)
        jobs += [(("variant", name), variant, split) for split in splits]
        jobs.append((("curve", name), _monitored(variant, args.max_iter), None))
    for l2 in _L2_PATH:
        variant = set_network_params(clone(model), l2=l2)
        jobs += [(("path", l2), variant, split) for split in splits]
    from joblib import delayed
    from tqdm.auto import tqdm

    results: dict[tuple[str, Any], list] = {key: [] for key, _, _ in jobs}
    progress = tqdm(
        total=len(jobs), desc="fitting", unit="fit", disable=args.quiet, file=sys.stderr
    )
    with progress, _parallel(args) as parallel:
        tasks = (delayed(_run_job)(job_model, data, split) for _, job_model, split in jobs)
        for (key, _, _), result in zip(jobs, parallel(tasks)):
            results[key].append(result)
            progress.update()
    rows = [{"variant": name, **_summary(results["variant", name])} for name in tried]
    curves = {name: results["curve", name][0] for name in tried}
    path = [_summary(results["path", l2]) for l2 in _L2_PATH]
    table = pd.DataFrame(rows)
    score = "accuracy" if data.task == "classification" else "R2"
    print(
        f"{data.name}: {data.task}, {len(data.X)} rows, {data.X.shape[1]} columns, "
        f"{args.cv}-fold CV, {score}, network {args.hidden}, max_iter={args.max_iter}, "
        f"learning_rate={data.learning_rate:g}"
    )
    print(_format_table(table))
    print(_verdict(table))
    table.drop(columns=["train_scores", "test_scores"]).to_csv(out / "compare.csv", index=False)
    _save_figures(curves, path, score, out)
    print(f"wrote {out / 'compare.csv'}, {out / 'loss_curves.png'}, {out / 'l2_path.png'}")
    return 0


def diagnose_command(args: argparse.Namespace) -> int:
    """``skreg diagnose``: the bias/variance verdict from given errors or from a fit."""
    given = (args.train_error is not None, args.validation_error is not None)
    if any(given) and not all(given):
        raise DataError("give both --train-error and --validation-error, or neither.")
    if all(given):
        result = diagnose(
            args.train_error,
            args.validation_error,
            bayes_error=args.bayes_error,
            tolerance=args.tolerance,
        )
    else:
        data = load_data(args.data, args.target, args.task)
        args.max_iter = args.max_iter or data.max_iter
        _holdout(data, args.validation_fraction)
        _check_backend(args.verbose)
        model = make_model(data, args.hidden, args.max_iter, args.seed)
        set_network_params(model, l2=args.l2, dropout=args.dropout)
        stratify = data.y if data.task == "classification" else None
        X_train, X_val, y_train, y_val = train_test_split(
            data.X,
            data.y,
            test_size=args.validation_fraction,
            random_state=args.seed,
            stratify=stratify,
        )
        model.fit(X_train, y_train)
        error = "1 - accuracy" if data.task == "classification" else "1 - R2"
        print(
            f"{data.name}: error = {error}, validation = {args.validation_fraction:.0%} hold-out"
        )
        result = diagnose_estimator(
            model,
            X_train,
            y_train,
            X_val,
            y_val,
            bayes_error=args.bayes_error,
            tolerance=args.tolerance,
        )
    print(result)
    return 0


def _read_csv(path: str, target: str | None) -> pd.DataFrame:
    if target is None:
        raise DataError("--data needs --target, the name of the column to predict.")
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise DataError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise DataError(f"--data {path} is a folder; name a CSV file.") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else "empty file"
        raise DataError(f"cannot read {path} as CSV: {message}") from None
    if target not in frame.columns:
        columns = ", ".join(map(str, frame.columns[:10]))
        raise DataError(f"{path} has no column {target!r} (columns: {columns}).")
    if len(frame) == 0:
        raise DataError(f"{path} has no rows.")
    return frame


# Larger values overflow the scalers' squares (float64 beyond about 1e154) or, unscaled, the
# float32 network; no real measurement needs them.
_LARGEST_VALUE = 1e30


def _check_finite(name: str, values: pd.Series, *, is_target: bool) -> None:
    """Refuse infinite values and values beyond what float32 training can hold."""
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return
    array = values.to_numpy(dtype=float)
    what = "the target" if is_target else "the feature"
    if np.isinf(array).any():
        raise DataError(f"{what} {name!r} contains infinite values; remove or replace them.")
    largest = np.nanmax(np.abs(array)) if np.isfinite(array).any() else 0.0
    if largest > _LARGEST_VALUE:
        raise DataError(
            f"{what} {name!r} has values up to {largest:.3g}, too large to scale and train on "
            f"(at most {_LARGEST_VALUE:.0e}); rescale it, for example to other units or its "
            "logarithm."
        )


def _task(y: pd.Series, task: str, target: str) -> str:
    if task != "auto":
        return task
    if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
        return "classification"
    values = y.to_numpy(dtype=float)
    integral = np.all(np.mod(values, 1) == 0)
    if integral and y.nunique() <= _MAX_CLASSES_FOR_INTEGER_TARGET:
        return "classification"
    return "regression"


def _cv(data: Dataset, n_splits: int, seed: int) -> KFold | StratifiedKFold:
    if len(data.y) < 2 * n_splits:
        raise DataError(f"{len(data.y)} rows are too few for {n_splits}-fold cross-validation.")
    if data.task == "regression":
        return KFold(n_splits, shuffle=True, random_state=seed)
    counts = data.y.value_counts()
    if counts.min() < n_splits:
        remedy = "lower --cv" if n_splits > 2 else "remove or merge the smallest classes"
        raise DataError(
            f"the smallest class, {counts.idxmin()!r}, has {counts.min()} rows; "
            f"{n_splits}-fold cross-validation needs at least {n_splits} ({remedy})."
        )
    return StratifiedKFold(n_splits, shuffle=True, random_state=seed)


def _check_early_stopping_split(n_rows: int, n_splits: int) -> None:
    """Early stopping holds out 10% of each training fold and needs 2 rows there."""
    train_rows = n_rows - -(-n_rows // n_splits)
    held_out = -(-train_rows // 10)
    if held_out < 2:
        raise DataError(
            f"{n_rows} rows are too few for the early-stopping variants: they hold out 10% of "
            f"a fold's {train_rows} training rows, {held_out} row, and need at least 2 "
            "(give more rows)."
        )


def _holdout(data: Dataset, fraction: float) -> None:
    """Check that ``diagnose``'s stratified hold-out split can be made."""
    held_out = -(-len(data.y) * fraction // 1)
    if data.task == "regression":
        if len(data.y) < 4:
            raise DataError(f"{len(data.y)} rows are too few to hold out a validation split.")
        return
    counts = data.y.value_counts()
    if counts.min() < 2:
        raise DataError(
            f"the class {counts.idxmin()!r} has a single row; a stratified hold-out needs at "
            "least 2 rows per class (remove or merge it)."
        )
    if held_out < len(counts) or len(data.y) - held_out < len(counts):
        raise DataError(
            f"{len(data.y)} rows are too few to hold out {fraction:.0%} with a row of each of "
            f"the {len(counts)} classes (change --validation-fraction or give more rows)."
        )


def _check_backend(verbose: bool) -> None:
    """Refuse an unsupported backend, then load it, quietly unless ``verbose``.

    TensorFlow writes lines to the standard error before its log level applies (absl's
    start-up notice, the GPU probes of its import and of its first op); they go to /dev/null
    while it loads and runs one op.
    """
    backend = _backend.backend_name()
    if backend not in ("tensorflow", "jax"):
        raise DataError(
            f"the Keras backend is {backend!r} (KERAS_BACKEND); skreg runs on 'tensorflow' or "
            "'jax'."
        )
    if verbose or _backend.loaded():
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            _backend.keras().ops.convert_to_numpy(0.0)  # the first op starts the runtime
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _output_folder(path: str) -> Path:
    """The folder for the results, made before any fit so that no run is lost to it."""
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise DataError(f"--out {path} exists and is not a folder; name a folder.") from None
    except OSError as error:
        raise DataError(f"cannot create the folder --out {path}: {error.strerror}.") from None
    return out


@contextmanager
def _parallel(args: argparse.Namespace) -> Iterator[Any]:
    """joblib's Parallel for ``--n-jobs``, on the Dask cluster ``--scheduler`` names, if any.

    It yields results in submission order as they finish, for the progress bar.
    """
    from joblib import Parallel, parallel_config

    if args.scheduler is None:
        yield Parallel(n_jobs=args.n_jobs or 1, return_as="generator")
        return
    client = _dask_client(args.scheduler)
    try:
        with parallel_config(backend="dask"):
            yield Parallel(n_jobs=args.n_jobs or -1, return_as="generator")
    finally:
        client.close()


def _dask_client(address: str) -> Any:
    try:
        from dask.distributed import Client
    except ImportError:
        raise DataError(
            "--scheduler needs dask.distributed: pip install 'skreg[distributed]'."
        ) from None
    try:
        return Client(address, timeout=10)
    except (OSError, TimeoutError, ValueError) as error:
        raise DataError(f"cannot reach the Dask scheduler at {address}: {error}") from None


def _run_job(model: Pipeline, data: Dataset, split: Any) -> Any:
    """One job of ``compare``: a fold's scores, or (without a split) the model fitted on all."""
    if split is None:
        return model.fit(data.X, data.y)
    train, test = split
    start = time.perf_counter()
    model.fit(data.X.iloc[train], data.y.iloc[train])
    return {
        "seconds": time.perf_counter() - start,
        "train": model.score(data.X.iloc[train], data.y.iloc[train]),
        "test": model.score(data.X.iloc[test], data.y.iloc[test]),
        "epochs": fitted_network(model).n_iter_,
    }


def _summary(folds: list[dict[str, Any]]) -> dict[str, Any]:
    train_scores = np.array([fold["train"] for fold in folds])
    test_scores = np.array([fold["test"] for fold in folds])
    return {
        "train": train_scores.mean(),
        "cv_mean": test_scores.mean(),
        "cv_std": test_scores.std(),
        "gap": train_scores.mean() - test_scores.mean(),
        "epochs": float(np.mean([fold["epochs"] for fold in folds])),
        "fit_seconds": float(np.mean([fold["seconds"] for fold in folds])),
        "train_scores": train_scores,
        "test_scores": test_scores,
    }


def _verdict(table: pd.DataFrame) -> str:
    """The best variant, its gain over none with the spread of that gain, and the gaps.

    Every variant is scored on the same folds, so the gain is measured fold by fold: its
    spread is the standard deviation of the per-fold differences, and a mean gain within one
    such deviation is within the noise of the folds.
    """
    none = table.iloc[0]
    best = table.iloc[int(np.argmax(table["cv_mean"]))]
    if best["variant"] == none["variant"]:
        return "best: none; no regularizer improved the CV score."
    differences = best["test_scores"] - none["test_scores"]
    gain, spread = differences.mean(), differences.std()
    line = (
        f"best: {best['variant']}, CV {best['cv_mean']:.3f}, {gain:+.3f} ± {spread:.3f} over "
        f"none (per fold); gap {best['gap']:.3f} against {none['gap']:.3f} without "
        "regularization."
    )
    if abs(gain) <= spread:
        line += " The gain is within the noise of the folds."
    return line


def _monitored(model: Pipeline, max_iter: int) -> Pipeline:
    """The model set to record the validation loss of every epoch, for the loss curves."""
    monitored = set_network_params(clone(model), validation_fraction=0.2)
    network = monitored[-1].regressor if _is_wrapped(monitored) else monitored[-1]
    if not network.early_stopping:
        # Record every epoch: patience longer than training never stops it.
        set_network_params(monitored, early_stopping=True, n_iter_no_change=max_iter)
    return monitored


def _format_table(table: pd.DataFrame) -> str:
    width = max(len(name) for name in table["variant"])
    lines = [
        f"{'variant':<{width}}  {'train':>6}  {'CV mean ± std':>15}  {'gap':>6}  "
        f"{'epochs':>6}  {'fit s':>6}"
    ]
    for row in table.itertuples():
        lines.append(
            f"{row.variant:<{width}}  {row.train:>6.3f}  {row.cv_mean:>7.3f} ± {row.cv_std:<5.3f}"
            f"  {row.gap:>6.3f}  {row.epochs:>6.1f}  {row.fit_seconds:>6.2f}"
        )
    return "\n".join(lines)


def _save_figures(curves: dict[str, Pipeline], path: list[dict], score: str, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .inspection import RegularizationPathDisplay, TrainingHistoryDisplay

    n_cols = 4
    n_rows = -(-len(curves) // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(4 * n_cols, 3.2 * n_rows), sharey=True)
    for ax, (name, model) in zip(axes.flat, curves.items()):
        TrainingHistoryDisplay.from_estimator(fitted_network(model), ax=ax, name=name)
        ax.title.set_fontsize(9)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(curves) :]:
        ax.set_axis_off()
    fig.suptitle("Training and validation loss (20% hold-out)")
    fig.tight_layout()
    fig.savefig(out / "loss_curves.png", dpi=90)
    plt.close(fig)

    display = RegularizationPathDisplay(
        param_name="l2",
        param_range=np.array(_L2_PATH),
        train_scores=np.array([p["train_scores"] for p in path]),
        test_scores=np.array([p["test_scores"] for p in path]),
        score_name=score,
    ).plot()
    display.ax_.set_title(f"Cross-validated {score} along the L2 strength")
    display.figure_.tight_layout()
    display.figure_.savefig(out / "l2_path.png", dpi=90)
    plt.close(display.figure_)
