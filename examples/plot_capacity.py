"""
Network capacity: a small and a large network on the same data
==============================================================

The number of units and layers (``hidden_layer_sizes``) is the bluntest regularizer: a small
network cannot represent a function complicated enough to fit noise, a large one can. This
script trains both on the same 700 rows of a generated classification problem
(:func:`~sklearn.datasets.make_classification` with 20 features, 20% of the labels replaced
by random ones) and compares their validation loss, epoch by epoch.

Both use ``early_stopping=True`` with ``n_iter_no_change`` equal to ``max_iter``, so the
validation loss (on 20% of the training rows, held out by the estimator) is recorded for
every epoch and never stops the fit, and the weights of the epoch with the lowest validation
loss are kept. The small network's training and validation losses fall together and level
off; the large network's validation loss reaches its minimum within a few epochs and then
climbs as the network memorizes the training rows, while its training loss goes to zero.
Because the kept weights are those of the best epoch, early stopping still gives the large
network a usable model; the validation loss at the last epoch shows what training to the
end would have given. The script prints the
number of weights, the best epoch, the training and validation losses at the best and at
the last epoch, and the accuracy of the kept weights on a test set that neither network
saw, and saves the two histories, drawn by :class:`skreg.inspection.TrainingHistoryDisplay`,
to ``skreg-output/capacity.png``.

Run: ``python examples/plot_capacity.py`` (about 20 seconds on 2 cores).
"""

import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skreg import RegularizedMLPClassifier  # noqa: E402
from skreg.inspection import TrainingHistoryDisplay  # noqa: E402

X, y = make_classification(
    n_samples=1000, n_features=20, n_informative=6, flip_y=0.2, random_state=0
)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)
max_iter = 150
training = dict(
    max_iter=max_iter,
    batch_size=32,
    early_stopping=True,
    validation_fraction=0.2,
    n_iter_no_change=max_iter,  # record every epoch; never stop early
    random_state=0,
)
networks = {"small (4,)": (4,), "large (512, 512)": (512, 512)}

fig, axes = plt.subplots(1, len(networks), figsize=(11, 4), sharey=True)
print(
    f"{'network':<18}{'weights':>9}{'best epoch':>12}{'train loss':>18}{'val loss':>18}"
    f"{'test acc':>10}{'fit s':>7}"
)
print(f"{'':<39}{'best / last':>18}{'best / last':>18}")
for ax, (name, sizes) in zip(axes, networks.items()):
    model = make_pipeline(StandardScaler(), RegularizedMLPClassifier(sizes, **training))
    start = time.perf_counter()
    model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    clf = model[-1]
    best = clf.best_epoch_ - 1
    loss, val_loss = clf.history_["loss"], clf.history_["val_loss"]
    print(
        f"{name:<18}{clf.model_.count_params():>9d}{clf.best_epoch_:>12d}"
        f"{loss[best]:>10.3f} / {loss[-1]:.3f}{val_loss[best]:>10.3f} / {val_loss[-1]:.3f}"
        f"{model.score(X_test, y_test):>10.3f}{seconds:>7.1f}"
    )
    TrainingHistoryDisplay.from_estimator(model, ax=ax, name=f"{name} hidden units")
    ax.set_yscale("log")
fig.suptitle("Same data, same training: validation loss of a small and a large network")
fig.tight_layout()
out = Path("skreg-output")
out.mkdir(exist_ok=True)
fig.savefig(out / "capacity.png", dpi=100)
print(f"saved {out / 'capacity.png'}")
