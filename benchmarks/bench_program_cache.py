"""Compiled programs in long searches: what is compiled, how long fits take, what memory does.

Two measurements in fresh processes, each printing compile counts (``skreg.program_cache_info``)
and resident memory (psutil):

1. Randomized search on digits: ``RandomizedSearchCV`` over ``dropout ~ U(0, 0.5)``,
   ``l2 ~ loguniform(1e-6, 1e-2)`` and ``GaussianNoise.std ~ U(0.01, 0.5)``, 40 candidates x 3
   folds, one network. Reports epoch programs compiled, RSS growth after the first fit, and
   the mean fit time against fits of one fixed setting in the same process.
2. Cache churn: 200 fits cycling 20 architectures (more than the cache holds), then 60 fits
   cycling 6 (fewer): RSS growth and compiles after the first cycle.

    python benchmarks/bench_program_cache.py
    KERAS_BACKEND=jax python benchmarks/bench_program_cache.py
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _rss_mb() -> float:
    import psutil

    gc.collect()
    return psutil.Process().memory_info().rss / 2**20


def randomized_search() -> None:
    import numpy as np
    from scipy.stats import loguniform, uniform
    from sklearn.datasets import load_digits
    from sklearn.model_selection import RandomizedSearchCV

    import skreg
    from skreg import GaussianNoise, RegularizedMLPClassifier

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    fit_times: list[float] = []
    rss: list[float] = []

    class Timed(RegularizedMLPClassifier):
        def fit(self, X, y, sample_weight=None):
            start = time.perf_counter()
            super().fit(X, y, sample_weight)
            fit_times.append(time.perf_counter() - start)
            rss.append(_rss_mb())
            return self

    Timed.__name__ = "RegularizedMLPClassifier"
    network = dict(hidden_layer_sizes=(128, 64), max_iter=20, random_state=0)
    before = skreg.program_cache_info()
    clf = Timed(augmentation=GaussianNoise(0.1), **network)
    fixed = [clf.fit(X[:1198], y[:1198]) for _ in range(4)]
    fixed_times = fit_times[1:]
    fit_times.clear()
    rss.clear()
    search = RandomizedSearchCV(
        Timed(augmentation=GaussianNoise(0.1), **network),
        {
            "dropout": uniform(0, 0.5),
            "l2": loguniform(1e-6, 1e-2),
            "augmentation__std": uniform(0.01, 0.49),
        },
        n_iter=40,
        cv=3,
        random_state=0,
    ).fit(X, y)
    after = skreg.program_cache_info()
    del fixed, search
    print("Randomized search: 40 candidates x 3 folds + refit on digits, (128, 64), 20 epochs")
    compiled = after.epoch_compiles - before.epoch_compiles
    print(f"  epoch programs compiled (fixed fits and search): {compiled}")
    print(
        f"  RSS after the search's first fit {rss[0]:.0f} MB, max {max(rss):.0f} MB, "
        f"growth {max(rss) - rss[0]:.1f} MB over {len(rss)} fits"
    )
    mean, fixed_mean = np.mean(fit_times), np.mean(fixed_times)
    print(
        f"  mean fit {mean * 1000:.0f} ms; fixed-setting fit {fixed_mean * 1000:.0f} ms; "
        f"ratio {mean / fixed_mean:.2f}"
    )


def churn() -> None:
    import numpy as np
    from sklearn.datasets import load_digits

    import skreg
    from skreg import RegularizedMLPClassifier

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    size = skreg.get_config()["program_cache_size"]
    for n_architectures, n_fits in ((20, 200), (6, 60)):
        skreg.clear_program_cache()
        rss = []
        compiles = []
        start = time.perf_counter()
        for i in range(n_fits):
            width = 16 + 8 * (i % n_architectures) + (0 if n_architectures == 20 else 400)
            RegularizedMLPClassifier((width,), max_iter=2, random_state=i).fit(X, y).predict(X)
            rss.append(_rss_mb())
            compiles.append(skreg.program_cache_info().epoch_compiles)
        seconds = time.perf_counter() - start
        cycle = n_architectures
        print(
            f"Cache churn: {n_fits} fits cycling {n_architectures} architectures "
            f"(cache holds {size}), {seconds:.0f} s"
        )
        print(
            f"  RSS after fit 1 {rss[0]:.0f} MB, after fit {cycle} {rss[cycle - 1]:.0f} MB, "
            f"last {rss[-1]:.0f} MB, max {max(rss):.0f} MB: growth {max(rss) - rss[0]:.1f} MB"
        )
        print(f"  compiles after the first cycle: {compiles[-1] - compiles[cycle - 1]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=("search", "churn"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        {"search": randomized_search, "churn": churn}[args.worker]()
        return
    print(f"Keras backend: {os.environ.get('KERAS_BACKEND', 'tensorflow')}")
    for worker in ("search", "churn"):
        subprocess.run([sys.executable, __file__, "--worker", worker], check=True)


if __name__ == "__main__":
    main()
