"""A grid search run serially, on joblib's loky workers, on a Dask LocalCluster and on Ray.

The search: digits (1797 rows, scaled to [0, 1]), ``RegularizedMLPClassifier(max_iter=200,
random_state=0)``, a grid of 2 networks x 3 ``l2`` x 3 ``dropout`` (18 candidates), 5-fold
``GridSearchCV`` with refit: 91 fits. Each mode runs in its own fresh process, as a user's
script would:

- ``serial``: ``n_jobs=1``; every fit on one thread (skreg's default for these networks,
  whose steps are small; also in the workers below).
- ``serial-cores``: ``n_jobs=1`` with ``SKREG_NUM_THREADS`` set to the number of cores
  (a model's last digits depend on the thread count; see docs/parallel.md).
- ``loky``: ``n_jobs=2`` on joblib's default backend. The parent process imports the
  backend at its refit, after the search.
- ``loky-import``, ``dask-import``: the same with the parent importing the backend in a
  background thread while the workers fit (an experiment of issue 16, not what skreg does:
  on 2 cores the import competes with the workers; see benchmarks/README.md).
- ``dask``: ``n_jobs=2`` under ``joblib.parallel_config(backend="dask")``, on a
  ``LocalCluster`` of 2 worker processes with 1 thread each, started before the timer.
- ``dask-noprofile``: the same with Dask's statistical profiler off
  (``distributed.worker.profile.enabled: False``), as docs/parallel.md suggests for skreg.
- ``dask-quiet``: the same, also with Dask's periodic checks slowed down as docs/parallel.md
  suggests for small machines (event-loop tick every 1 s instead of 20 ms, memory monitor
  every 1 s instead of 100 ms, system monitor every 2 s instead of 500 ms).
- ``dask-warm``: Dask's defaults, with the workers warmed before the timer as docs/parallel.md
  shows (``client.run`` of one tiny fit: each worker imports scikit-learn and the backend).
- ``ray``: ``n_jobs=2`` under ``joblib.parallel_config(backend="ray")`` after
  ``ray.init(num_cpus=2)`` (started before the timer).
- ``serial-again``, ``loky-again``, ``dask-again``: the mode's search run twice in one
  process, timing the second, as a notebook's next search: the process, loky's reused
  workers and the cluster's workers have loaded the backend and every network. Their
  speed-up is over ``serial-again``.

Printed per mode: the search's wall time (workers' imports and compiles included), the time
to start the cluster, the speed-up over serial, and whether ``cv_results_``' scores and the
best parameters are identical to the serial run's. By default the on-disk compilation cache
is the user's (warm after the first run); ``--cold`` gives every mode an empty one.

A 2-core virtual machine's speed drifts by a third over minutes, so ``--repeats N`` runs the
modes in rounds (serial first in each) and prints medians; the speed-up is the median of
each round's ratio to that round's serial run, with its range.

    python benchmarks/bench_parallel_search.py
    KERAS_BACKEND=jax python benchmarks/bench_parallel_search.py --repeats 3
    python benchmarks/bench_parallel_search.py --modes serial loky --cold
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

MODES = (
    "serial", "serial-cores", "loky", "loky-import", "dask", "dask-import",
    "dask-noprofile", "dask-quiet", "dask-warm", "ray",
)  # fmt: skip
# Dask settings of the dask-noprofile and dask-quiet modes.
NO_PROFILE = {"distributed.worker.profile.enabled": False}
QUIET = {
    **NO_PROFILE,
    "distributed.admin.tick.interval": "1s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
}
AGAIN = ("serial-again", "loky-again", "dask-again")
GRID = {
    "hidden_layer_sizes": [(64,), (128, 64)],
    "l2": [0.0, 1e-4, 1e-3],
    "dropout": [0.0, 0.1, 0.3],
}


def _import_in_the_background() -> None:
    import threading

    from skreg._engine import _loader

    def run():
        with _loader._LOCK:
            if _loader._imported_in is None:
                _loader._import()  # the thread pools are still sized at the first fit

    threading.Thread(target=run, daemon=True).start()


def child(mode: str) -> dict:
    """Run the search in this process; return its time and scores."""
    again = mode.endswith("-again")
    mode = mode.removesuffix("-again")
    import joblib
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import GridSearchCV

    from skreg import RegularizedMLPClassifier

    if mode.endswith("-import"):  # the parent imports the backend while the workers fit
        mode = mode.removesuffix("-import")
        _import_in_the_background()
    X, y = load_digits(return_X_y=True)
    X = X / 16.0

    def search() -> GridSearchCV:
        return GridSearchCV(
            RegularizedMLPClassifier(max_iter=200, random_state=0),
            GRID,
            cv=5,
            n_jobs=1 if mode.startswith("serial") else 2,
        )

    start = time.perf_counter()
    backend, cluster = "loky", None
    if mode.startswith("dask"):
        import dask
        from dask.distributed import Client, LocalCluster

        dask.config.set({"dask-noprofile": NO_PROFILE, "dask-quiet": QUIET}.get(mode, {}))
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None,
        )  # fmt: skip
        client = Client(cluster)
        backend = "dask"
        if mode == "dask-warm":
            client.run(lambda: RegularizedMLPClassifier((8,), max_iter=1).fit(X[:50], y[:50]))
    elif mode == "ray":
        import ray
        from ray.util.joblib import register_ray

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        register_ray()
        backend = "ray"
    with joblib.parallel_config(backend=backend):
        if again:
            search().fit(X, y)
        started = time.perf_counter()
        searched = search().fit(X, y)
    seconds = time.perf_counter() - started
    if mode.startswith("dask"):
        client.close()
        cluster.close()
    elif mode == "ray":
        ray.shutdown()
    return {
        "seconds": seconds,
        "start_seconds": started - start if not again else 0.0,
        "scores": np.asarray(searched.cv_results_["mean_test_score"]).tolist(),
        "best_params": repr(searched.best_params_),
        "best_score": float(searched.best_score_),
    }


def run(mode: str, cache: str | None) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    if mode == "serial-cores":
        env["SKREG_NUM_THREADS"] = str(os.cpu_count())
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
    parser.add_argument("--modes", nargs="+", choices=MODES + AGAIN, default=list(MODES))
    parser.add_argument("--repeats", type=int, default=1, help="rounds of all modes")
    parser.add_argument("--cold", action="store_true", help="empty compilation cache per mode")
    parser.add_argument("--child", choices=MODES + AGAIN, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        json.dump(child(args.child), open(args.out, "w"))
        return
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    print(
        f"backend {backend}; {'empty' if args.cold else 'warm'} compilation cache; "
        f"{os.cpu_count()} cores; 18 candidates x 5 folds + refit on digits; "
        f"{args.repeats} round(s)"
    )
    modes = ["serial"] + [m for m in args.modes if m != "serial"]
    runs: dict[str, list[dict]] = {mode: [] for mode in modes}
    for _ in range(args.repeats):
        for mode in modes:
            with tempfile.TemporaryDirectory() as cache:
                try:
                    runs[mode].append(run(mode, cache if args.cold else None))
                except subprocess.CalledProcessError as error:
                    print(f"{mode:>14}: failed ({error})")
                    runs[mode].append({})
    references = [m for m in ("serial", "serial-cores") if m in runs]

    def same(mode: str, reference: str) -> str:
        key = [(r["scores"], r["best_params"]) for r in runs[reference] if r]
        ok = all((r["scores"], r["best_params"]) in key[:1] for r in runs[mode] if r)
        return "yes" if ok and key else "NO"

    print(
        f"{'mode':>14}  {'search s':>8}  {'start s':>7}  {'speed-up':>8}  {'range':>11}  "
        + "  ".join(f"same as {m}" for m in references)
    )
    for mode, results in runs.items():
        base = "serial-again" if mode.endswith("-again") and "serial-again" in runs else "serial"
        pairs = [(s, r) for s, r in zip(runs[base], results) if s and r]
        if not pairs:
            continue
        ratios = [s["seconds"] / r["seconds"] for s, r in pairs]
        print(
            f"{mode:>14}  {statistics.median(r['seconds'] for _, r in pairs):>8.1f}  "
            f"{statistics.median(r['start_seconds'] for _, r in pairs):>7.1f}  "
            f"{statistics.median(ratios):>7.2f}x  {min(ratios):>5.2f}-{max(ratios):.2f}x  "
            + "  ".join(f"{same(mode, m):>{8 + len(m)}}" for m in references)
        )
    best = next(r for r in runs["serial"] if r)
    print(f"best {best['best_params']}, score {best['best_score']:.4f}")


if __name__ == "__main__":
    main()
