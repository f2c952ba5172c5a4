"""``skreg select``: L2 and dropout chosen by cross-validation, with the path printed."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from .data import (
    check_backend,
    cv_model,
    cv_splitter,
    load_data,
    make_model,
    output_folder,
    writing,
)


def run(args: argparse.Namespace) -> int:
    """``skreg select``: cross-validate the grid, print the path table and the choice."""
    data = load_data(args.data, args.target, args.task)
    args.max_iter = args.max_iter or data.max_iter
    folds = cv_splitter(data, args.cv, args.seed)  # checked before the backend loads
    check_backend(args.verbose)
    # After the checks: a refused run leaves no folder.
    out = output_folder(args.out, ["select.csv"])
    model = cv_model(
        make_model(data, args.hidden, args.max_iter, args.seed),
        l2s=args.l2s,
        dropouts=args.dropouts,
        cv=folds,
        pruning=not args.no_pruning,
        n_jobs=args.n_jobs,
    )
    # The bar follows fold models that run in this process (scikit-learn >= 1.9 callbacks).
    with fold_progress(model, disable=args.quiet or (args.n_jobs or 1) != 1):
        model.fit(data.X, data.y)
    table = path_table(model.cv_results_)
    score = "accuracy" if data.task == "classification" else "R2"
    print(
        f"{data.name}: {data.task}, {len(data.X)} rows, {args.cv}-fold CV, {score}, network "
        f"{args.hidden}, max_iter={args.max_iter}, racing {'off' if args.no_pruning else 'on'}"
    )
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if (table["folds_run"] < table["folds_run"].max()).any():
        print(
            "racing dropped the candidates with fewer folds_run: they rank after those it "
            "kept, then by their mean over the folds they ran (cv_std NaN: one fold)"
        )
    fits = int((model.n_iter_ > 0).sum())
    print(
        f"chosen: l2={model.l2_:.4g}, dropout={model.dropout_}, CV {score} "
        f"{model.best_score_:.3f}, best epoch {model.best_epoch_} ({fits} fold models of "
        f"{model.n_iter_.size})"
    )
    with writing(out / "select.csv"):
        table.to_csv(out / "select.csv", index=False)
    print(f"wrote {out / 'select.csv'}")
    return 0


def path_table(results: dict) -> pd.DataFrame:
    """``cv_results_`` as the path: one row per candidate, best first."""
    table = pd.DataFrame(
        {
            "l2": np.asarray(results["param_l2"], dtype=float),
            "dropout": list(results["param_dropout"]),
            "cv_mean": results["mean_test_score"],
            # The spread of one fold's score is unknown, not 0 (a candidate racing dropped).
            "cv_std": np.where(results["n_folds_run"] > 1, results["std_test_score"], np.nan),
            "folds_run": results["n_folds_run"],
            "best_epoch": results["mean_best_epoch"],
            "rank": results["rank_test_score"],
        }
    )
    return table.sort_values(["rank", "l2"]).reset_index(drop=True)


@contextmanager
def fold_progress(model: Any, disable: bool) -> Iterator[None]:
    """A progress bar on standard error over the fold models ``model`` (a CV estimator)
    trains, through scikit-learn's callbacks; none on scikit-learn < 1.9. Warnings raised
    meanwhile are shown once the bar is done, each on its own line, not inside the bar's."""
    if disable or not hasattr(model, "set_callbacks"):
        yield
        return
    from tqdm.auto import tqdm

    raised: list = []
    try:
        with warnings.catch_warnings(record=True) as raised:
            try:
                with tqdm(desc="fold models", unit="fit", file=sys.stderr) as bar:
                    model.set_callbacks(_Advance(bar))
                    yield
            finally:
                model.set_callbacks()
    finally:  # also when the fit fails: what was raised before the error still shows
        for warning in raised:  # as the filters in force let them through
            warnings.showwarning(
                warning.message, warning.category, warning.filename, warning.lineno
            )


class _Advance:
    """A scikit-learn callback: sizes ``bar`` by the search, advances it per fold model."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        if context.task_name == "search":
            self.bar.reset(total=context.max_subtasks)

    def on_fit_task_end(self, estimator, context):
        if context.task_name == "candidate-split-evaluation":
            self.bar.update()
