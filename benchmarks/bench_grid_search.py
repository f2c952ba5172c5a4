"""A grid search over the L2 penalty, skreg against MLPClassifier, side by side in one run.

Both search six penalty strengths with 3-fold cross-validation on digits, with the network
of ``bench_fit.py``'s digits case (100-100, 50 epochs, batch size 32, Adam, learning rate
1e-3); skreg's ``l2`` values are
MLPClassifier's ``alpha`` values converted by :func:`skreg.l2_from_sklearn_alpha`, so both
search the same penalties. skreg compiles one training engine for the whole grid (penalties
are run-time inputs), so the first candidate pays compilation and the others do not.

    python benchmarks/bench_grid_search.py
"""

import os
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402

from skreg import RegularizedMLPClassifier, l2_from_sklearn_alpha  # noqa: E402

ALPHAS = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0]


def main() -> None:
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    contenders = {
        "skreg": (
            RegularizedMLPClassifier((100, 100), max_iter=50, batch_size=32, random_state=0),
            {"l2": [l2_from_sklearn_alpha(a, 32) for a in ALPHAS]},
        ),
        "sklearn": (
            MLPClassifier((100, 100), max_iter=50, batch_size=32, random_state=0),
            {"alpha": ALPHAS},
        ),
    }
    seconds, best = {}, {}
    for name, (estimator, grid) in contenders.items():
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            search = GridSearchCV(estimator, grid, cv=3).fit(X, y)
        seconds[name] = time.perf_counter() - start
        best[name] = search.best_score_
    print(f"backend {keras.backend.backend()}: GridSearchCV, 6 penalties x 3 folds + refit")
    print("| contender | seconds | ratio to skreg | best CV accuracy |")
    print("|---|---:|---:|---:|")
    for name in contenders:
        ratio = seconds[name] / seconds["skreg"]
        print(f"| {name} | {seconds[name]:.1f} | {ratio:.2f} | {best[name]:.3f} |")


if __name__ == "__main__":
    main()
