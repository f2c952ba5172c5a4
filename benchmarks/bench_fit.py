"""Side-by-side fit timing: skreg against scikit-learn's MLPClassifier and plain Keras.

Every contender trains the same network (same layers, epochs, batch size and L2 penalty) on
the same data. Each measurement runs in a fresh process (one warm-up fit on a few rows, then
the timed fit), and repetitions alternate between contenders so that machine noise spreads
evenly. The script prints a Markdown table of median fit seconds, the ratio to skreg, peak
resident memory and held-out accuracy, and writes it as Markdown and JSON.

    python benchmarks/bench_fit.py                 # digits case, 5 repetitions
    python benchmarks/bench_fit.py --case large --repeats 3
    KERAS_BACKEND=jax python benchmarks/bench_fit.py
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

CASES = {
    # digits 1797 x 64, 100-100 network, 50 epochs, batch 32
    "digits": dict(hidden=(100, 100), epochs=50, batch_size=32, alpha=1e-4),
    # 20,000 x 100 synthetic classification, 256-256-256 network, 10 epochs, batch 128
    "large": dict(hidden=(256, 256, 256), epochs=10, batch_size=128, alpha=1e-4),
}
CONTENDERS = ("skreg", "sklearn", "keras")


def load_case(name: str):
    import numpy as np
    from sklearn.datasets import load_digits, make_classification
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    if name == "digits":
        X, y = load_digits(return_X_y=True)
    else:
        X, y = make_classification(
            n_samples=25_000, n_features=100, n_informative=40, n_classes=5, random_state=0
        )
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2 if name == "large" else 0.25, random_state=0, stratify=y
    )
    if name == "large":
        X_train, y_train = X_train[:20_000], y_train[:20_000]
    scaler = StandardScaler().fit(X_train)
    as32 = lambda a: scaler.transform(a).astype(np.float32)  # noqa: E731
    return as32(X_train), as32(X_test), y_train, y_test


def make_fit(contender: str, config: dict):
    """Return ``fit(X, y) -> predict`` for one contender."""
    hidden, epochs, batch_size, alpha = (
        config["hidden"],
        config["epochs"],
        config["batch_size"],
        config["alpha"],
    )
    if contender == "sklearn":
        from sklearn.neural_network import MLPClassifier

        def fit(X, y):
            # tol=0 and n_iter_no_change=epochs: run every epoch, as the others do.
            est = MLPClassifier(
                hidden,
                alpha=alpha,
                batch_size=batch_size,
                max_iter=epochs,
                tol=0.0,
                n_iter_no_change=epochs,
                random_state=0,
            ).fit(X, y)
            return est.predict

        return fit
    from skreg import RegularizedMLPClassifier, l2_from_sklearn_alpha

    l2 = l2_from_sklearn_alpha(alpha, batch_size)
    if contender == "skreg":

        def fit(X, y):
            est = RegularizedMLPClassifier(
                hidden, l2=l2, batch_size=batch_size, max_iter=epochs, random_state=0
            ).fit(X, y)
            return est.predict

        return fit

    import keras
    import numpy as np

    def fit(X, y):
        # Plain Keras, as a tutorial writes it: model.fit on NumPy arrays.
        regularizer = keras.regularizers.L2(l2)
        n_classes = int(y.max()) + 1
        layers = [keras.Input((X.shape[1],))]
        layers += [keras.layers.Dense(u, "relu", kernel_regularizer=regularizer) for u in hidden]
        layers += [keras.layers.Dense(n_classes, "softmax", kernel_regularizer=regularizer)]
        model = keras.Sequential(layers)
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(X, y, batch_size=batch_size, epochs=epochs, verbose=0)
        return lambda A: np.argmax(model.predict(A, verbose=0), axis=1)

    return fit


def measure(contender: str, case: str) -> dict:
    """One measurement, in this process: warm up, then time one fit."""
    import resource

    import numpy as np

    X_train, X_test, y_train, y_test = load_case(case)
    fit = make_fit(contender, CASES[case])
    warm = np.concatenate([np.flatnonzero(y_train == c)[:10] for c in np.unique(y_train)])
    fit(X_train[warm], y_train[warm])
    start = time.perf_counter()
    predict = fit(X_train, y_train)
    seconds = time.perf_counter() - start
    accuracy = float(np.mean(predict(X_test) == y_test))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"seconds": seconds, "accuracy": accuracy, "rss_mb": peak_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=sorted(CASES), default="digits")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--contenders", nargs="+", choices=CONTENDERS, default=list(CONTENDERS))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--child", nargs=2, metavar=("CONTENDER", "CASE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(*args.child)))
        return

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    runs: dict[str, list[dict]] = {c: [] for c in args.contenders}
    for repeat in range(args.repeats):
        for contender in args.contenders:
            out = subprocess.run(
                [sys.executable, __file__, "--child", contender, args.case],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            ).stdout
            runs[contender].append(json.loads(out.strip().splitlines()[-1]))
            print(f"repeat {repeat + 1}/{args.repeats} {contender}: {runs[contender][-1]}")

    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    summary = {}
    for contender, results in runs.items():
        summary[contender] = {
            "median_seconds": statistics.median(r["seconds"] for r in results),
            "accuracy": statistics.median(r["accuracy"] for r in results),
            "peak_rss_mb": max(r["rss_mb"] for r in results),
            "runs": results,
        }
    reference = summary.get("skreg", next(iter(summary.values())))["median_seconds"]
    lines = [
        f"Case `{args.case}` {CASES[args.case]}, Keras backend `{backend}`, "
        f"{args.repeats} alternating repetitions, one process per measurement.",
        "",
        "| contender | median fit s | time / skreg | peak RSS MB | held-out accuracy |",
        "|---|---:|---:|---:|---:|",
    ]
    for contender, row in summary.items():
        seconds = row["median_seconds"]
        lines.append(
            f"| {contender} | {seconds:.2f} | {seconds / reference:.2f}"
            f" | {row['peak_rss_mb']:.0f} | {row['accuracy']:.3f} |"
        )
    table = "\n".join(lines)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"fit_{args.case}_{backend}"
    stem.with_suffix(".md").write_text(table + "\n")
    stem.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
