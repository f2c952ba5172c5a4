"""A grid search run serially, on joblib's loky workers, on a Dask LocalCluster and on Ray.

The search: digits (1797 rows, scaled to [0, 1]), ``RegularizedMLPClassifier(max_iter=200,
random_state=0)``, a grid of 2 networks x 3 ``l2`` x 3 ``dropout`` (18 candidates), 5-fold
``GridSearchCV`` with refit: 91 fits. Each mode runs in its own fresh process, as a user's
script would:

- ``serial``: ``n_jobs=1``, the backend on every core.
- ``serial-1t``: ``n_jobs=1`` with ``SKREG_NUM_THREADS=1``, the thread count of the workers
  below (on TensorFlow a model's last digits depend on it; see docs/parallel.md).
- ``loky``: ``n_jobs=2`` on joblib's default backend.
- ``dask``: ``n_jobs=2`` under ``joblib.parallel_config(backend="dask")``, on a
  ``LocalCluster`` of 2 worker processes with 1 thread each, started before the timer.
- ``ray``: ``n_jobs=2`` under ``joblib.parallel_config(backend="ray")`` after
  ``ray.init(num_cpus=2)`` (started before the timer).

Printed per mode: the search's wall time (workers' imports and compiles included), the time
to start the cluster, the speed-up over serial, and whether ``cv_results_``' scores and the
best parameters are identical to the serial run's. By default the on-disk compilation cache
is the user's (warm after the first run); ``--cold`` gives every mode an empty one.

    python benchmarks/bench_parallel_search.py
    KERAS_BACKEND=jax python benchmarks/bench_parallel_search.py
    python benchmarks/bench_parallel_search.py --modes serial loky --cold
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

MODES = ("serial", "serial-1t", "loky", "dask", "ray")
GRID = {
    "hidden_layer_sizes": [(64,), (128, 64)],
    "l2": [0.0, 1e-4, 1e-3],
    "dropout": [0.0, 0.1, 0.3],
}


def child(mode: str) -> dict:
    """Run the search in this process; return its time and scores."""
    import joblib
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import GridSearchCV

    from skreg import RegularizedMLPClassifier

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    search = GridSearchCV(
        RegularizedMLPClassifier(max_iter=200, random_state=0),
        GRID,
        cv=5,
        n_jobs=1 if mode.startswith("serial") else 2,
    )
    start = time.perf_counter()
    backend, cluster = "loky", None
    if mode == "dask":
        from dask.distributed import Client, LocalCluster

        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None,
        )  # fmt: skip
        client = Client(cluster)
        backend = "dask"
    elif mode == "ray":
        import ray
        from ray.util.joblib import register_ray

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        register_ray()
        backend = "ray"
    started = time.perf_counter()
    with joblib.parallel_config(backend=backend):
        search.fit(X, y)
    seconds = time.perf_counter() - started
    if mode == "dask":
        client.close()
        cluster.close()
    elif mode == "ray":
        ray.shutdown()
    return {
        "seconds": seconds,
        "start_seconds": started - start,
        "scores": np.asarray(search.cv_results_["mean_test_score"]).tolist(),
        "best_params": repr(search.best_params_),
        "best_score": float(search.best_score_),
    }


def run(mode: str, cache: str | None) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    if mode == "serial-1t":
        env["SKREG_NUM_THREADS"] = "1"
    if cache is not None:
        env["SKREG_COMPILATION_CACHE_DIR"] = cache
    with tempfile.NamedTemporaryFile("r", suffix=".json") as out:
        subprocess.run(
            [sys.executable, __file__, "--child", mode, "--out", out.name],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return json.load(open(out.name))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--cold", action="store_true", help="empty compilation cache per mode")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        json.dump(child(args.child), open(args.out, "w"))
        return
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    print(
        f"backend {backend}; {'empty' if args.cold else 'warm'} compilation cache; "
        f"{os.cpu_count()} cores; 18 candidates x 5 folds + refit on digits"
    )
    modes = ["serial"] + [m for m in args.modes if m != "serial"]
    results = {}
    for mode in modes:
        with tempfile.TemporaryDirectory() as cache:
            try:
                results[mode] = run(mode, cache if args.cold else None)
            except subprocess.CalledProcessError as error:
                print(f"{mode:>7}: failed ({error})")
    serial = results["serial"]
    references = [m for m in ("serial", "serial-1t") if m in results]

    def same(a: dict, b: dict) -> str:
        equal = (a["scores"], a["best_params"]) == (b["scores"], b["best_params"])
        return "yes" if equal else "NO"

    print(
        f"{'mode':>9}  {'search s':>8}  {'start s':>7}  {'speed-up':>8}  "
        + "  ".join(f"same as {m}" for m in references)
    )
    for mode, result in results.items():
        print(
            f"{mode:>9}  {result['seconds']:>8.1f}  {result['start_seconds']:>7.1f}  "
            f"{serial['seconds'] / result['seconds']:>7.2f}x  "
            + "  ".join(f"{same(result, results[m]):>{8 + len(m)}}" for m in references)
        )
    print(f"best {serial['best_params']}, score {serial['best_score']:.4f}")


if __name__ == "__main__":
    main()
