"""Side-by-side timing: skreg against scikit-learn's MLPClassifier, scikeras and plain Keras.

Every contender trains the same network (same layers, epochs, batch size and L2 penalty) on
the same data. Each repetition runs every contender in a fresh process of its own, in turn, so
machine noise spreads evenly; a process measures

- ``first fit``: the first fit of the process (skreg pays tracing and XLA compilation here);
- ``fit``: the median of further fits with new seeds (what a grid search or CV loop pays);
- ``fixed``: the median fit of 1 epoch on 100 rows, after the first fit;
- ``predict 1``, ``predict 10k``: median ``predict_proba`` time on 1 and on 10,000 rows;
- peak resident memory and held-out accuracy;
- ``GFLOP/s``: the training arithmetic of a fit (6 floating-point operations per weight and
  training row per epoch: forward, and backward to the weights and the inputs) over its
  time, against a peak measured in the same process, after the fits: a 2048 x 2048 float32
  matrix product compiled by the contender's own backend (XLA for skreg and Keras, NumPy's
  BLAS for scikit-learn), on the threads the fits had.

``skreg`` decides its threads (one for small networks, every core for large ones);
``skreg-1`` is skreg with ``SKREG_NUM_THREADS=1``, on one thread whatever the network.

The table reports medians over repetitions and each time as a ratio to skreg, and is written
as Markdown and JSON to ``benchmarks/results/``.

    python benchmarks/bench_fit.py                      # digits case
    python benchmarks/bench_fit.py --case large
    KERAS_BACKEND=jax python benchmarks/bench_fit.py
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

CASES = {
    # digits 1797 x 64 (75% for training), 100-100 network, 50 epochs, batch 32
    "digits": dict(hidden=(100, 100), epochs=50, batch_size=32, alpha=1e-4),
    # 20,000 x 100 synthetic classification, 256-256-256 network, 10 epochs, batch 128
    "large": dict(hidden=(256, 256, 256), epochs=10, batch_size=128, alpha=1e-4),
    # 20,000 x 784 synthetic 10-class images' worth of features, 256-256 network, dropout 0.2
    # (skreg and Keras; scikit-learn has none), 10 epochs, batch 128: issue 16's case
    "image": dict(hidden=(256, 256), epochs=10, batch_size=128, alpha=1e-4, dropout=0.2),
}
# skreg-1: skreg with n_threads=1 instead of its default, which decides by the network's size.
CONTENDERS = ("skreg", "skreg-1", "sklearn", "scikeras", "keras")
METRICS = ("first_fit_s", "fit_s", "fixed_s", "predict_1_ms", "predict_10k_ms", "gflops")


def load_case(name: str):
    import numpy as np
    from sklearn.datasets import load_digits, make_classification
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    if name == "digits":
        X, y = load_digits(return_X_y=True)
    elif name == "large":
        X, y = make_classification(
            n_samples=25_000, n_features=100, n_informative=40, n_classes=5, random_state=0
        )
    else:
        X, y = make_classification(
            n_samples=25_000, n_features=784, n_informative=60, n_redundant=100, n_classes=10,
            class_sep=1.5, random_state=0,
        )  # fmt: skip
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2 if name != "digits" else 0.25, random_state=0, stratify=y
    )
    if name != "digits":
        X_train, y_train = X_train[:20_000], y_train[:20_000]
    scaler = StandardScaler().fit(X_train)
    return (
        scaler.transform(X_train).astype(np.float32),
        scaler.transform(X_test).astype(np.float32),
        y_train,
        y_test,
    )


def make_estimator(contender: str, config: dict, seed: int, epochs: int | None = None):
    """An object with ``fit`` and ``predict_proba`` for one contender."""
    hidden, batch_size, alpha = config["hidden"], config["batch_size"], config["alpha"]
    epochs = epochs or config["epochs"]
    if contender == "sklearn":
        from sklearn.neural_network import MLPClassifier

        # tol=0 and n_iter_no_change=epochs: run every epoch, as the others do.
        return MLPClassifier(
            hidden,
            alpha=alpha,
            batch_size=batch_size,
            max_iter=epochs,
            tol=0.0,
            n_iter_no_change=epochs,
            random_state=seed,
        )
    from skreg import RegularizedMLPClassifier, l2_from_sklearn_alpha

    l2 = l2_from_sklearn_alpha(alpha, batch_size)
    dropout = config.get("dropout", 0.0)
    if contender in ("skreg", "skreg-1"):
        return RegularizedMLPClassifier(
            hidden, l2=l2, dropout=dropout, batch_size=batch_size, max_iter=epochs,
            random_state=seed,
        )  # fmt: skip
    if contender == "scikeras":
        from scikeras.wrappers import KerasClassifier

        return KerasClassifier(
            _keras_model,
            model__hidden=hidden,
            model__l2=l2,
            model__dropout=dropout,
            loss="sparse_categorical_crossentropy",
            optimizer="adam",
            epochs=epochs,
            batch_size=batch_size,
            random_state=seed,
            verbose=0,
        )
    return _PlainKeras(hidden, l2, batch_size, epochs, dropout)


def _keras_model(hidden, l2, meta, dropout=0.0):
    import keras

    regularizer = keras.regularizers.L2(l2)
    layers = [keras.Input((meta["n_features_in_"],))]
    for units in hidden:
        layers.append(keras.layers.Dense(units, "relu", kernel_regularizer=regularizer))
        if dropout:
            layers.append(keras.layers.Dropout(dropout))
    layers += [keras.layers.Dense(meta["n_classes_"], "softmax", kernel_regularizer=regularizer)]
    return keras.Sequential(layers)


class _PlainKeras:
    """Keras as a tutorial writes it: ``model.fit`` and ``model.predict`` on NumPy arrays."""

    def __init__(self, hidden, l2, batch_size, epochs, dropout=0.0):
        self.hidden, self.l2, self.batch_size, self.epochs = hidden, l2, batch_size, epochs
        self.dropout = dropout

    def fit(self, X, y):
        meta = {"n_features_in_": X.shape[1], "n_classes_": int(y.max()) + 1}
        self.model = _keras_model(self.hidden, self.l2, meta, self.dropout)
        self.model.compile("adam", "sparse_categorical_crossentropy")
        self.model.fit(X, y, batch_size=self.batch_size, epochs=self.epochs, verbose=0)
        return self

    def predict_proba(self, X):
        return self.model.predict(X, verbose=0)


def _median_seconds(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(contender: str, case: str, fits: int) -> dict:
    """One contender, in this process."""
    import numpy as np

    X_train, X_test, y_train, y_test = load_case(case)
    config = CASES[case]
    make_estimator(contender, config, seed=0)  # imports (TensorFlow's take seconds) untimed
    start = time.perf_counter()
    estimator = make_estimator(contender, config, seed=0).fit(X_train, y_train)
    first_fit = time.perf_counter() - start
    seeds = iter(range(1, 1000))
    fit = _median_seconds(
        lambda: make_estimator(contender, config, next(seeds)).fit(X_train, y_train), fits
    )
    small_X, small_y = X_train[:100], y_train[:100]
    fixed = _median_seconds(
        lambda: make_estimator(contender, config, next(seeds), epochs=1).fit(small_X, small_y),
        5,
    )
    accuracy = float(np.mean(np.argmax(estimator.predict_proba(X_test), axis=1) == y_test))
    rows_10k = np.resize(X_test, (10_000, X_test.shape[1]))
    estimator.predict_proba(X_test[:1])
    estimator.predict_proba(rows_10k)
    predict_1 = _median_seconds(lambda: estimator.predict_proba(X_test[:1]), 100)
    predict_10k = _median_seconds(lambda: estimator.predict_proba(rows_10k), 10)
    sizes = (X_train.shape[1], *config["hidden"], int(y_train.max()) + 1)
    weights = sum(a * b for a, b in zip(sizes, sizes[1:]))
    flops = 6.0 * weights * len(X_train) * config["epochs"]
    peak = _peak_gflops(contender)
    return {
        "first_fit_s": first_fit,
        "fit_s": fit,
        "fixed_s": fixed,
        "predict_1_ms": 1000 * predict_1,
        "predict_10k_ms": 1000 * predict_10k,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "accuracy": accuracy,
        "gflops": flops / fit / 1e9,
        "peak_gflops": peak,
        "threads": _threads(contender),
    }


def _peak_gflops(contender: str, n: int = 2048) -> float:
    """The float32 arithmetic rate of a large matrix product on the contender's backend and
    threads: the best of 5 after a warm-up."""
    import numpy as np

    a = np.random.default_rng(0).normal(size=(n, n)).astype(np.float32)
    if contender == "sklearn":

        def product():
            return a @ a
    else:
        import keras

        if keras.backend.backend() == "jax":
            import jax

            compiled = jax.jit(lambda x: x @ x)
            device = jax.device_put(a)

            def product():
                return compiled(device).block_until_ready()
        else:
            import tensorflow as tf

            compiled = tf.function(lambda x: x @ x, jit_compile=True)
            device = tf.constant(a)

            def product():
                return compiled(device).numpy()

    product()
    best = min(_median_seconds(product, 1) for _ in range(5))
    return 2.0 * n**3 / best / 1e9


def _threads(contender: str):
    if contender.startswith("skreg"):
        from skreg import _engine

        return _engine.settings()["n_threads"]
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=sorted(CASES), default="digits")
    parser.add_argument("--repeats", type=int, default=3, help="processes per contender")
    parser.add_argument("--fits", type=int, default=3, help="timed fits per process")
    parser.add_argument("--contenders", nargs="+", choices=CONTENDERS, default=list(CONTENDERS))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--child", metavar="CONTENDER", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.case, args.fits)))
        return

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    runs: dict[str, list[dict]] = {c: [] for c in args.contenders}
    for repeat in range(args.repeats):
        for contender in args.contenders:
            command = [sys.executable, __file__, "--child", contender, "--case", args.case]
            command += ["--fits", str(args.fits)]
            threads = {"SKREG_NUM_THREADS": "1"} if contender == "skreg-1" else {}
            out = subprocess.run(command, capture_output=True, text=True, env={**env, **threads})
            if out.returncode:
                sys.exit(f"{contender} failed:\n{out.stderr[-3000:]}")
            runs[contender].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"repeat {repeat + 1}/{args.repeats} {contender}: {runs[contender][-1]}")

    summary = {
        contender: {
            **{key: statistics.median(r[key] for r in results) for key in METRICS},
            "accuracy": statistics.median(r["accuracy"] for r in results),
            "peak_gflops": statistics.median(r["peak_gflops"] for r in results),
            "threads": results[0]["threads"],
            "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
            "runs": results,
        }
        for contender, results in runs.items()
    }
    table = _markdown(summary, args)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"fit_{args.case}_{_backend()}"
    stem.with_suffix(".md").write_text(table + "\n")
    stem.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")


def _backend() -> str:
    return os.environ.get("KERAS_BACKEND", "tensorflow")


def _markdown(summary: dict, args: argparse.Namespace) -> str:
    reference = summary.get("skreg")
    lines = [
        f"Case `{args.case}` {CASES[args.case]}, Keras backend `{_backend()}`; medians of "
        f"{args.repeats} processes per contender (alternating), {args.fits} timed fits each. "
        "Ratios are contender / skreg.",
        "",
        "| contender | threads | first fit s | fit s | fit ratio | fixed s | predict 1 row ms "
        "| predict 10k ms | 10k ratio | peak RSS MB | accuracy | fit GFLOP/s | peak GFLOP/s "
        "| of peak |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for contender, row in summary.items():

        def ratio(key: str, row=row) -> str:
            return f"{row[key] / reference[key]:.2f}" if reference else "-"

        threads = "all" if row["threads"] is None else row["threads"]
        lines.append(
            f"| {contender} | {threads if contender.startswith('skreg') else '-'} "
            f"| {row['first_fit_s']:.2f} | {row['fit_s']:.2f} | {ratio('fit_s')} "
            f"| {row['fixed_s']:.3f} | {row['predict_1_ms']:.2f} | {row['predict_10k_ms']:.1f} "
            f"| {ratio('predict_10k_ms')} | {row['peak_rss_mb']:.0f} | {row['accuracy']:.3f} "
            f"| {row['gflops']:.1f} | {row['peak_gflops']:.0f} "
            f"| {row['gflops'] / row['peak_gflops']:.0%} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
