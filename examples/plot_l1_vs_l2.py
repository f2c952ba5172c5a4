"""
L1 versus L2: small weights or no weights
=========================================

Both penalties shrink the weights, differently. L2 (``l2 * sum(W**2)``) pulls each weight
towards zero in proportion to its size, so large weights shrink a lot and small ones hardly
at all: the weights get smaller but stay spread out. L1 (``l1 * sum(|W|)``) pulls every
weight by the same amount whatever its size, so the weights the data do not support collapse
to (near) zero and a few large ones remain.

The data are :func:`~sklearn.datasets.make_classification` with 30 features of which only
the first 5 are informative (``shuffle=False`` keeps them first) and the other 25 are noise.
The same one-hidden-layer network is trained without penalty, with L2 and with L1 of the
same coefficient. The script prints the share of first-layer weights with ``|w| < 1e-3``
for each and saves histograms of those weights to ``skreg-output/l1_vs_l2_weights.png``.
The optimizer takes plain gradient steps on the penalty, so L1 weights hover near zero rather
than being exactly zero; a threshold tells them apart.

A first-layer row of near-zero weights means an input feature the network does not use,
which makes L1 a feature selector: ``feature_importances_`` (the L1 norm of each feature's
row, normalized) feeds scikit-learn's :class:`~sklearn.feature_selection.SelectFromModel`
in a pipeline. The script prints the selected features and compares the test accuracy of a
network trained on them with one trained on all 30 features, and saves the importances to
``skreg-output/l1_feature_selection.png``.

Run: ``python examples/plot_l1_vs_l2.py`` (about 15 seconds on 2 cores).
"""

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.feature_selection import SelectFromModel  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skreg import RegularizedMLPClassifier  # noqa: E402

N_INFORMATIVE = 5
X, y = make_classification(
    n_samples=600,
    n_features=30,
    n_informative=N_INFORMATIVE,
    n_redundant=0,
    shuffle=False,
    random_state=0,
)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.5, stratify=y, random_state=0
)
network = dict(hidden_layer_sizes=(64,), max_iter=200, batch_size=32, random_state=0)
out = Path("skreg-output")
out.mkdir(exist_ok=True)

# 1. The first-layer weights under each penalty.
penalties = {"no penalty": {}, "L2 (l2=1e-2)": {"l2": 1e-2}, "L1 (l1=1e-2)": {"l1": 1e-2}}
weights = {}
print(f"{'penalty':<16}{'|w| < 1e-3':>12}{'max |w|':>10}{'train acc':>11}{'test acc':>10}")
for name, params in penalties.items():
    model = make_pipeline(StandardScaler(), RegularizedMLPClassifier(**network, **params))
    model.fit(X_train, y_train)
    W = model[-1].model_.get_layer("hidden_0").get_weights()[0]
    weights[name] = W.ravel()
    print(
        f"{name:<16}{np.mean(np.abs(W) < 1e-3):>12.1%}{np.abs(W).max():>10.3f}"
        f"{model.score(X_train, y_train):>11.3f}{model.score(X_test, y_test):>10.3f}"
    )

limit = max(np.abs(w).max() for w in weights.values())
bins = np.linspace(-limit, limit, 81)
fig, axes = plt.subplots(1, len(weights), figsize=(12, 3.5), sharex=True, sharey=True)
for ax, (name, w) in zip(axes, weights.items()):
    ax.hist(w, bins=bins, color="tab:blue")
    ax.set(title=f"{name}: {np.mean(np.abs(w) < 1e-3):.1%} with |w| < 1e-3", yscale="log")
    ax.set_xlabel("first-layer weight")
axes[0].set_ylabel("count (log scale)")
fig.suptitle(f"First-layer weights (30 inputs x {network['hidden_layer_sizes'][0]} units)")
fig.tight_layout()
fig.savefig(out / "l1_vs_l2_weights.png", dpi=100)
print(f"saved {out / 'l1_vs_l2_weights.png'}\n")

# 2. L1 as a feature selector: keep the features whose importance is above 1.5 x the mean.
selecting = make_pipeline(
    StandardScaler(),
    SelectFromModel(RegularizedMLPClassifier(**network, l1=1e-2), threshold="1.5*mean"),
    RegularizedMLPClassifier(**network),
)
all_features = make_pipeline(StandardScaler(), RegularizedMLPClassifier(**network))
selecting.fit(X_train, y_train)
all_features.fit(X_train, y_train)
selector = selecting.named_steps["selectfrommodel"]
selected = selector.get_support(indices=True)
print(f"informative features: {list(range(N_INFORMATIVE))}")
print(f"selected features:    {selected.tolist()}")
print(f"{'pipeline':<28}{'features':>9}{'test acc':>10}")
print(f"{'L1 selection + network':<28}{len(selected):>9d}{selecting.score(X_test, y_test):>10.3f}")
print(f"{'all features + network':<28}{X.shape[1]:>9d}{all_features.score(X_test, y_test):>10.3f}")

importances = selector.estimator_.feature_importances_
fig, ax = plt.subplots(figsize=(8, 3.5))
colors = ["tab:orange" if i < N_INFORMATIVE else "tab:gray" for i in range(X.shape[1])]
ax.bar(np.arange(X.shape[1]), importances, color=colors)
ax.axhline(selector.threshold_, color="k", linestyle="--", label="threshold (1.5 x mean)")
ax.set(xlabel="feature (the first 5 are informative)", ylabel="feature_importances_")
ax.set_title("First-layer importances of the L1 network (l1=1e-2) inside SelectFromModel")
ax.legend()
fig.tight_layout()
fig.savefig(out / "l1_feature_selection.png", dpi=100)
print(f"saved {out / 'l1_feature_selection.png'}")
