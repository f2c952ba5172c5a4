"""Where more threads pay: a warm fit's time on 1 thread and on every core, by network size.

skreg decides a process's thread count at its first fit, from that fit's work per training
step (``skreg._specs.NetworkSpec.step_flops``): one thread below a threshold, every core (or
a worker's share) above it. This measures the threshold. Each (network, thread count) runs
in a fresh process: the thread pools are sized once per process. A process fits once to
compile, then times ``--fits`` fits of ``--epochs`` epochs on ``--rows`` rows.

    python benchmarks/bench_threads.py
    KERAS_BACKEND=jax python benchmarks/bench_threads.py
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

# (features, hidden layers, batch size): from the digits networks to the large image case.
NETWORKS = [
    (64, (64,), 200),
    (64, (128, 64), 200),
    (100, (256,), 200),
    (100, (256, 256), 128),
    (784, (128,), 128),
    (784, (256, 256), 128),
    (100, (256, 256, 256), 128),
    (784, (512, 512), 128),
]


def child(features: int, hidden: tuple[int, ...], batch: int, rows: int, epochs: int, fits: int):
    import numpy as np
    from sklearn.datasets import make_classification

    from skreg import RegularizedMLPClassifier, _engine
    from skreg._specs import NetworkSpec

    X, y = make_classification(
        n_samples=rows, n_features=features, n_informative=min(features, 40), n_classes=5,
        random_state=0,
    )  # fmt: skip
    X = X.astype(np.float32)

    def fit(seed):
        clf = RegularizedMLPClassifier(
            hidden, batch_size=batch, max_iter=epochs, random_state=seed
        )
        return clf.fit(X, y)

    fit(0)
    times = []
    for seed in range(1, fits + 1):
        start = time.perf_counter()
        fit(seed)
        times.append(time.perf_counter() - start)
    spec = NetworkSpec(n_features=features, n_outputs=5, hidden_layer_sizes=hidden)
    return {
        "step_mflops": spec.step_flops(batch) / 1e6,
        "seconds": statistics.median(times),
        "threads": _engine.settings()["n_threads"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--fits", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        features, hidden, batch = json.loads(args.child)
        result = child(features, tuple(hidden), batch, args.rows, args.epochs, args.fits)
        print(json.dumps(result))
        return
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"backend {os.environ.get('KERAS_BACKEND', 'tensorflow')}, {cores} cores, "
          f"{args.rows} rows, {args.epochs} epochs, median of {args.fits} warm fits")  # fmt: skip
    print(f"{'features':>8} {'hidden':>16} {'batch':>5} {'MFLOP/step':>10} {'1 thread s':>10} "
          f"{f'{cores} threads s':>11} {'speed-up':>8}")  # fmt: skip
    for features, hidden, batch in NETWORKS:
        seconds = {}
        for threads in (1, cores):
            env = {**os.environ, "SKREG_NUM_THREADS": str(threads), "TF_CPP_MIN_LOG_LEVEL": "3"}
            command = [sys.executable, __file__, "--child", json.dumps([features, hidden, batch])]
            command += ["--rows", str(args.rows), "--epochs", str(args.epochs)]
            command += ["--fits", str(args.fits)]
            out = subprocess.run(command, capture_output=True, text=True, env=env)
            if out.returncode:
                sys.exit(out.stderr[-3000:])
            result = json.loads(out.stdout.strip().splitlines()[-1])
            seconds[threads] = result["seconds"]
        print(f"{features:>8} {str(hidden):>16} {batch:>5} {result['step_mflops']:>10.1f} "
              f"{seconds[1]:>10.2f} {seconds[cores]:>11.2f} "
              f"{seconds[1] / seconds[cores]:>8.2f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
