"""``skreg compare``: every regularizer by cross-validation, one table, two figures."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from .. import GaussianNoise, SwapNoise
from .data import (
    Dataset,
    check_backend,
    check_early_stopping_split,
    cv_model,
    cv_splitter,
    fitted_network,
    load_data,
    make_model,
    note,
    output_folder,
    require,
    set_network_params,
    writing,
)
from .errors import DataError

# What a run writes in --out; each is checked before the fits (output_folder).
_WRITTEN = ("compare.csv", "loss_curves.png", "l2_path.png")
_L2_PATH = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
# The row that chooses l2 and dropout itself, by racing over 3 inner folds (nested CV):
# 6 candidates make 6 + 3 + 2 = 11 fold models per outer fold.
CROSS_VALIDATED = "cross-validated (l2, dropout)"
# refit=True: one model refitted on the training fold at the chosen penalty and best epoch
# count, as every other row is one model (the fold ensemble's members train on two thirds
# of the rows: fewer steps in the same epochs; digits at --max-iter 20: 0.902 against 0.943).
_CV_GRID = {"l2s": (1e-4, 1e-3, 1e-2), "dropouts": (0.0, 0.2), "cv": 3, "refit": True}


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


def run(args: argparse.Namespace) -> int:
    """``skreg compare``: every regularizer by cross-validation, one table, two figures."""
    data = load_data(args.data, args.target, args.task)
    args.max_iter = args.max_iter or data.max_iter
    model = make_model(data, args.hidden, args.max_iter, args.seed)
    splits = list(cv_splitter(data, args.cv, args.seed).split(data.X, data.y))
    check_early_stopping_split(len(data.y), args.cv)
    check_backend(args.verbose)
    require("matplotlib", "plots", "drawing its figures")
    if args.scheduler is not None:
        require("distributed", "distributed", "--scheduler")
    # After the checks: a refused run leaves no folder.
    out = output_folder(args.out, _WRITTEN)
    tried = variants(data, args.max_iter)
    # Every fit is one job: each variant's folds and its monitored fit, then the L2 path.
    jobs: list[tuple[tuple[str, Any], Any, Any]] = []
    for name, params in tried.items():
        variant = set_network_params(clone(model), **params)
        jobs += [(("variant", name), variant, split) for split in splits]
        jobs.append((("curve", name), _monitored(variant, args.max_iter), None))
    for l2 in _L2_PATH:
        variant = set_network_params(clone(model), l2=l2)
        jobs += [(("path", l2), variant, split) for split in splits]
    # The cross-validated row searches inside each training fold; its inner folds need a
    # class with a row in each (StratifiedKFold's rule), or the rows for KFold.
    inner = [data.y.iloc[train] for train, _ in splits]
    searchable = all(
        (len(y) if data.task == "regression" else y.value_counts().max()) >= _CV_GRID["cv"]
        for y in inner
    )
    if searchable:
        jobs += [
            (("variant", CROSS_VALIDATED), cv_model(model, **_CV_GRID), split) for split in splits
        ]
    else:
        note(
            f"no {CROSS_VALIDATED!r} row: its {_CV_GRID['cv']}-fold search inside each training "
            f"fold needs a class with at least {_CV_GRID['cv']} rows there (give more rows per "
            "class, or lower --cv)."
        )
    from joblib import delayed
    from tqdm.auto import tqdm

    results: dict[tuple[str, Any], list] = {key: [] for key, _, _ in jobs}
    # The cluster first: a scheduler out of reach is one line, with no progress bar drawn.
    with (
        _parallel(args) as parallel,
        tqdm(
            total=len(jobs), desc="fitting", unit="fit", disable=args.quiet, file=sys.stderr
        ) as progress,
    ):
        tasks = (delayed(_run_job)(job_model, data, split) for _, job_model, split in jobs)
        for (key, _, _), result in zip(jobs, parallel(tasks)):
            results[key].append(result)
            progress.update()
    rows = [
        {"variant": name, **_summary(results["variant", name])}
        for name in [*tried, *([CROSS_VALIDATED] if searchable else [])]
    ]
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
    with writing(out / "compare.csv"):
        table.drop(columns=["train_scores", "test_scores"]).to_csv(
            out / "compare.csv", index=False
        )
    _save_figures(curves, path, score, out)
    print(f"wrote {', '.join(str(out / name) for name in _WRITTEN)}")
    return 0


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
    from dask.distributed import Client  # installed: run() checked

    try:
        return Client(address, timeout=10)
    except (OSError, TimeoutError, ValueError) as error:
        raise DataError(f"cannot reach the Dask scheduler at {address}: {error}") from None


def _run_job(model: Any, data: Dataset, split: Any) -> Any:
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
        "epochs": _epochs(model),
    }


def _epochs(model: Any) -> float:
    """Epochs the fit ran: a CV estimator's mean over the fold models it trained."""
    if hasattr(model, "cv_results_"):
        return float(np.mean(model.n_iter_[model.n_iter_ > 0]))
    return fitted_network(model).n_iter_


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


def _monitored(model: Any, max_iter: int) -> Any:
    """The model set to record the validation loss of every epoch, for the loss curves."""
    monitored = set_network_params(clone(model), validation_fraction=0.2)
    network = fitted_network(monitored)
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


def _save_figures(curves: dict[str, Any], path: list[dict], score: str, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..inspection import RegularizationPathDisplay, TrainingHistoryDisplay

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
    with writing(out / "loss_curves.png"):
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
    with writing(out / "l2_path.png"):
        display.figure_.savefig(out / "l2_path.png", dpi=90)
    plt.close(display.figure_)
