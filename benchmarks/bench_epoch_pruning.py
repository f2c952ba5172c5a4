"""Where would pruning over epochs cut? The CV estimators' default candidates on one fold.

For each set of the development suite (``../shared/tabular-dev``), on the training part of
the first outer split (as ``bench_cv.py``), the first of the CV estimator's 5 folds, the
default candidates (the 4-penalty path x dropout 0 and 0.15) each train as a fold model
does (skreg's defaults: coslog4 over 200 epochs, the best epoch kept on a 10% validation
split). Printed per candidate: the validation loss at the schedule's low points (the ends
of its cycles, epochs 14, 41, 94 and 200: where successive halving over epochs would rank
the candidates, and where racing stops a fold model whose loss is no lower than at the
previous one), the best epoch, and the score on the fold's test rows (accuracy or R^2).
One thread. Run::

    python benchmarks/bench_epoch_pruning.py --sets glass pima_diabetes ozone sacramento
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_tabular import ONE_THREAD, SUITE, TASKS, folds, load  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["glass", "pima_diabetes", "ozone"])
    args = parser.parse_args()
    os.environ.update(ONE_THREAD)
    import numpy as np
    from sklearn.model_selection import check_cv

    from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor
    from skreg._search import candidates, l2_path
    from skreg._specs import LearningRateSchedule

    # The ends of coslog4's four cycles over the default 200 epochs.
    low_points = (*LearningRateSchedule(name="coslog4", horizon=200).low_points(), 200)

    for name in args.sets:
        X, y = load(name, SUITE)
        y = np.asarray(y)
        train, _ = folds(name, X, y)[0]
        X, y = X.iloc[train], y[train]
        classification = TASKS[name] == "classification"
        inner, test = next(check_cv(5, y, classifier=classification).split(X, y))
        base = RegularizedMLPClassifier if classification else RegularizedMLPRegressor
        print(f"{name}: {len(inner)} training rows, validation loss at epochs {low_points}")
        for params in candidates(l2_path(4, len(inner)), (0.0, 0.15)):
            model = base(random_state=0, **params).fit(X.iloc[inner], y[inner])
            losses = np.asarray(model.history_["val_loss"])
            at = " ".join(f"{losses[e - 1]:.4f}" for e in low_points)
            print(
                f"  l2={params['l2']:<8.2g} dropout={params['dropout']:<5} {at}  best epoch "
                f"{model.best_epoch_:3d}  test score {model.score(X.iloc[test], y[test]):.4f}"
            )


if __name__ == "__main__":
    main()
