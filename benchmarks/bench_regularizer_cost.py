"""What each regularizer costs in fit time, measured side by side in one process.

Fits the same network on digits with no regularization and with each regularizer, one
configuration after the other as the folds of a cross-validation run, and prints the median
steady fit time of each (the first fit of every configuration, which pays compilation, is
excluded) and its ratio to no regularization. The whole sequence runs twice and the second
pass is reported, so no configuration is measured cold.
Dropout, Gaussian noise and swap noise draw random numbers inside the XLA-compiled step;
image rotation runs without XLA on TensorFlow.

    python benchmarks/bench_regularizer_cost.py [--repeats 5] [--epochs 40]
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from skreg import (  # noqa: E402
    GaussianNoise,
    ImageAugmentation,
    Mixup,
    RegularizedMLPClassifier,
    SwapNoise,
)

VARIANTS = {
    "none": {},
    "l2=1e-3": {"l2": 1e-3},
    "l1=1e-4": {"l1": 1e-4},
    "dropout=0.3": {"dropout": 0.3},
    "early_stopping": {"early_stopping": True, "n_iter_no_change": 1000},
    "GaussianNoise(0.1)": {"augmentation": GaussianNoise(0.1)},
    "SwapNoise(0.1)": {"augmentation": SwapNoise(0.1)},
    "Mixup(0.2)": {"augmentation": Mixup(0.2)},
    "ImageAugmentation(flip)": {"augmentation": ImageAugmentation(horizontal_flip=True)},
    "ImageAugmentation(rotation=10)": {"augmentation": ImageAugmentation(rotation=10)},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args()
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    for _ in range(2):
        times: dict[str, list[float]] = {name: [] for name in VARIANTS}
        for name, params in VARIANTS.items():
            for repeat in range(args.repeats + 1):
                clf = RegularizedMLPClassifier(
                    (128, 64), max_iter=args.epochs, random_state=repeat, **params
                )
                start = time.perf_counter()
                clf.fit(X, y)
                if repeat:  # the first fit of a configuration pays compilation
                    times[name].append(time.perf_counter() - start)
    base = statistics.median(times["none"])
    print(
        f"backend {keras.backend.backend()}, digits, 128-64 network, {args.epochs} epochs, "
        f"median of {args.repeats} fits"
    )
    print(f"| {'variant':<32} | fit s | ratio to none |")
    print(f"|{'-' * 34}|------:|--------------:|")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| {name:<32} | {median:5.3f} | {median / base:13.2f} |")


if __name__ == "__main__":
    main()
