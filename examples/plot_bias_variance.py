"""
Bias and variance: the train/dev/test workflow
==============================================

The data are split once into three parts: a training set to fit on, a dev set to compare
models and choose one, and a test set that is used once, at the very end, to report the
chosen model's error. Choosing on the test set would make its error an optimistic estimate.

The recipe compares three errors:

- the *Bayes error*, the lowest error any model can reach on these data;
- the *training error*: its excess over the Bayes error is the avoidable bias, which a bigger
  network or longer training reduces;
- the *dev error*: its excess over the training error is the variance, which more data or
  more regularization reduces.

The data are :func:`skreg.datasets.make_noisy_moons` with little point noise (the moons
barely overlap) and 15% of the labels flipped, so the Bayes error is known: about 0.15, the
flipped share. Only 400 rows are used for training, which leaves room to overfit. Three
networks go through :func:`skreg.inspection.diagnose_estimator`: a network with two hidden
units (too small to bend around the moons: high bias), a 256-256 network trained for 1,000
epochs without regularization (it learns the flipped labels: high variance) and the same
network with an L2 penalty. The tolerance is 0.03 rather than the default 0.02 because a dev
set of 600 rows measures an error near 0.15 only to about +/- 0.015. The script prints each
diagnosis, chooses the network with the lowest dev error, prints its test error, and saves a
bar chart of the training and dev errors to ``skreg-output/bias_variance.png``.

Run: ``python examples/plot_bias_variance.py`` (about 20 seconds on 2 cores).
"""

import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skreg import RegularizedMLPClassifier  # noqa: E402
from skreg.datasets import make_noisy_moons  # noqa: E402
from skreg.inspection import diagnose_estimator  # noqa: E402

LABEL_NOISE = 0.15
X, y = make_noisy_moons(1600, noise=0.1, label_noise=LABEL_NOISE, random_state=0)
X_train, X_rest, y_train, y_rest = train_test_split(
    X, y, train_size=400, stratify=y, random_state=0
)
X_dev, X_test, y_dev, y_test = train_test_split(
    X_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=0
)
print(f"train {len(X_train)} rows, dev {len(X_dev)} rows, test {len(X_test)} rows\n")

training = dict(batch_size=32, learning_rate=3e-3, random_state=0)
candidates = {
    "too small (2,)": RegularizedMLPClassifier((2,), max_iter=300, **training),
    "big (256, 256)": RegularizedMLPClassifier((256, 256), max_iter=1000, **training),
    "big + L2 3e-3": RegularizedMLPClassifier((256, 256), max_iter=1000, l2=3e-3, **training),
}

diagnoses, models = {}, {}
for name, network in candidates.items():
    model = make_pipeline(StandardScaler(), network)
    start = time.perf_counter()
    model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    diagnosis = diagnose_estimator(
        model, X_train, y_train, X_dev, y_dev, bayes_error=LABEL_NOISE, tolerance=0.03
    )
    diagnoses[name], models[name] = diagnosis, model
    print(f"== {name} (fit in {seconds:.1f} s)\n{diagnosis}\n")

print(f"{'model':<18}{'train error':>12}{'dev error':>11}  verdict")
for name, diagnosis in diagnoses.items():
    print(
        f"{name:<18}{diagnosis.train_error:>12.3f}{diagnosis.validation_error:>11.3f}"
        f"  {diagnosis.verdict}"
    )

# The choice is made on the dev set; the test set is touched once, for the chosen model.
chosen = min(diagnoses, key=lambda name: diagnoses[name].validation_error)
test_error = 1.0 - models[chosen].score(X_test, y_test)
print(f"\nchosen on the dev set: {chosen}; its test error: {test_error:.3f}")

fig, ax = plt.subplots(figsize=(7, 4))
positions = np.arange(len(diagnoses))
train_errors = [d.train_error for d in diagnoses.values()]
dev_errors = [d.validation_error for d in diagnoses.values()]
ax.bar(positions - 0.2, train_errors, width=0.4, label="training error")
ax.bar(positions + 0.2, dev_errors, width=0.4, label="dev error")
ax.axhline(LABEL_NOISE, color="k", linestyle="--", label=f"Bayes error ({LABEL_NOISE})")
ax.set_xticks(positions, [f"{name}\n{d.verdict}" for name, d in diagnoses.items()])
ax.set(ylabel="error (1 - accuracy)", title="Noisy moons, 400 training rows")
ax.set_ylim(0, 1.35 * max(train_errors + dev_errors))  # room for the legend
ax.legend(loc="upper right")
fig.tight_layout()
out = Path("skreg-output")
out.mkdir(exist_ok=True)
fig.savefig(out / "bias_variance.png", dpi=100)
print(f"saved {out / 'bias_variance.png'}")
