"""Regularizers side by side on scikit-learn's digits.

Fits the same network with no regularization, L2, L1, dropout and early stopping, scores each
by 3-fold cross-validation, prints a table (train accuracy, CV accuracy, the gap, epochs run)
and saves the training-loss curves to ``skreg-output/digits_loss_curves.png``.

Run: ``python examples/plot_regularizers_digits.py`` (about a minute on 2 cores).
"""

import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import cross_validate  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skreg import RegularizedMLPClassifier  # noqa: E402

X, y = load_digits(return_X_y=True)
network = dict(hidden_layer_sizes=(256, 256), max_iter=40, batch_size=32, random_state=0)
variants = {
    "none": {},
    "l2=1e-3": {"l2": 1e-3},
    "l1=1e-4": {"l1": 1e-4},
    "dropout=0.3": {"dropout": 0.3},
    "early stopping": {"early_stopping": True, "n_iter_no_change": 5},
}

out = Path("skreg-output")
out.mkdir(exist_ok=True)
fig, ax = plt.subplots(figsize=(7, 4))
print(f"{'variant':<16}{'train acc':>10}{'CV acc':>16}{'gap':>8}{'epochs':>8}{'fit s':>8}")
for name, params in variants.items():
    pipe = make_pipeline(StandardScaler(), RegularizedMLPClassifier(**network, **params))
    start = time.perf_counter()
    cv = cross_validate(pipe, X, y, cv=3, return_train_score=True, return_estimator=True)
    seconds = (time.perf_counter() - start) / 3
    train, test = cv["train_score"].mean(), cv["test_score"]
    epochs = cv["estimator"][0][-1].n_iter_
    print(
        f"{name:<16}{train:>10.3f}{test.mean():>9.3f} ± {test.std():.3f}"
        f"{train - test.mean():>8.3f}{epochs:>8d}{seconds:>8.1f}"
    )
    ax.plot(range(1, epochs + 1), cv["estimator"][0][-1].loss_curve_, label=name)
ax.set(xlabel="epoch", ylabel="training loss (penalty included)", yscale="log")
ax.set_title("Digits, 256-256 network, first CV fold")
ax.legend()
fig.tight_layout()
fig.savefig(out / "digits_loss_curves.png", dpi=100)
print(f"saved {out / 'digits_loss_curves.png'}")
