"""What scikit-learn's callbacks cost a CV estimator's search (scikit-learn >= 1.9).

A data set of the development suite (``../shared/tabular-dev``; default glass), the training
part of ``bench_tabular.py``'s first outer split, ``RegularizedMLPClassifierCV`` (or
``RegressorCV``) with its defaults, one thread, one process; a first fit untimed, then each
variant fitted three times (minimum and every run printed; the callbacks' output discarded):

- no callback;
- a callback counting the fold models, which does not propagate (what ``skreg select``'s
  progress bar does);
- ``ProgressBar(max_propagation_depth=0)``: a bar over the search and its fold models;
- ``ProgressBar()``: it propagates to the fold models, whose epochs then return to Python
  one at a time for its per-epoch bars.

    python benchmarks/bench_callbacks.py                 # glass
    python benchmarks/bench_callbacks.py --set pima_diabetes
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_tabular import ONE_THREAD  # noqa: E402

os.environ.update(ONE_THREAD)


class CountFoldModels:
    """Counts the fold models as their tasks end; it does not propagate."""

    def __init__(self) -> None:
        self.count = 0

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context):
        self.count += context.task_name == "candidate-split-evaluation"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="glass")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from bench_cv import data, outer_folds
    from sklearn.callback import ProgressBar

    from skreg import RegularizedMLPClassifierCV, RegularizedMLPRegressorCV

    X, y, task = data(args.set)
    train, _ = outer_folds(args.set, X, y)[0]
    X, y = X.iloc[train], y[train]
    classification = task == "classification"
    cv_class = RegularizedMLPClassifierCV if classification else RegularizedMLPRegressorCV
    cv_class(random_state=0).fit(X, y)  # loads the backend and the program
    variants = {
        "no callback": list,
        "fold-model counter (no propagation)": lambda: [CountFoldModels()],
        "ProgressBar(max_propagation_depth=0)": lambda: [ProgressBar(max_propagation_depth=0)],
        "ProgressBar()": lambda: [ProgressBar()],
    }
    print(f"{args.set}: {len(X)} training rows, {cv_class.__name__} defaults, one thread")
    for label, make in variants.items():
        seconds = []
        for _ in range(args.repeats):
            cv = cv_class(random_state=0)
            callbacks = make()
            if callbacks:
                cv.set_callbacks(*callbacks)
            output = io.StringIO()
            with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
                start = time.perf_counter()
                cv.fit(X, y)
                seconds.append(time.perf_counter() - start)
        runs = ", ".join(f"{s:.2f}" for s in seconds)
        print(f"  {label:38s} {min(seconds):6.2f} s  (runs {runs})", flush=True)


if __name__ == "__main__":
    main()
