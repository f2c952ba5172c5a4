"""Fifty sequential fits in one process, as a grid search does: memory and time drift.

Prints resident memory after fits 1, 10 and 50, the growth from fit 10 to fit 50, and the
median time of the last ten fits over the first ten (after the first, which pays imports and
tracing of shared code).

    python benchmarks/bench_sequential_fits.py
"""

import gc
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import psutil  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from skreg import RegularizedMLPClassifier  # noqa: E402


def main(n_fits: int = 50) -> None:
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    process = psutil.Process()
    durations, rss = [], {}
    for i in range(1, n_fits + 1):
        start = time.perf_counter()
        RegularizedMLPClassifier((100, 100), l2=1e-4, max_iter=5, random_state=i).fit(X, y)
        durations.append(time.perf_counter() - start)
        if i in (1, 10, n_fits):
            gc.collect()
            rss[i] = process.memory_info().rss / 2**20
    first, last = statistics.median(durations[1:11]), statistics.median(durations[-10:])
    print(
        f"RSS MB after fit 1: {rss[1]:.0f}, fit 10: {rss[10]:.0f}, fit {n_fits}: {rss[n_fits]:.0f}"
    )
    print(f"RSS growth fits 10->{n_fits}: {rss[n_fits] - rss[10]:.1f} MB")
    print(f"median fit s, fits 2-11: {first:.3f}; last 10: {last:.3f}; ratio {last / first:.2f}")


if __name__ == "__main__":
    main()
