"""
The regularization path and the fold ensemble in one call
==========================================================

``RegularizedMLPClassifierCV`` cross-validates a grid of L2 penalties and dropout rates,
races the candidates (after each fold the better half goes on, until two remain), and keeps
the best candidate's fold models as an ensemble. Here, on the breast-cancer data that
scikit-learn ships, it draws the path it computed (without fitting again), then compares on
held-out rows the fold ensemble, each of its fold models alone, and the same candidate
refitted on all the training rows for its best epoch count. The script prints the path table
and saves ``skreg-output/cv_path.png``.

Run: ``python examples/plot_cv_path.py`` (about a minute on 2 cores).
"""

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.datasets import load_breast_cancer  # noqa: E402
from sklearn.metrics import accuracy_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from skreg import RegularizedMLPClassifier, RegularizedMLPClassifierCV  # noqa: E402
from skreg.inspection import RegularizationPathDisplay  # noqa: E402

X, y = load_breast_cancer(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)

# %%
# The search: 4 penalties x 2 dropout rates, 5 folds, racing, the fold ensemble.
network = dict(hidden_layer_sizes=(32,), max_iter=60, random_state=0)
clf = RegularizedMLPClassifierCV(l2s=4, dropouts=(0.0, 0.15), cv=5, **network)
clf.fit(X_train, y_train)

table = pd.DataFrame(clf.cv_results_)[
    ["param_l2", "param_dropout", "mean_test_score", "n_folds_run", "rank_test_score"]
]
print(table.sort_values("rank_test_score").to_string(index=False))
print(f"chosen: l2={clf.l2_:.3g}, dropout={clf.dropout_}, best epoch {clf.best_epoch_}")

# %%
# The fold ensemble against its members and against a refit at the chosen candidate.
refit = RegularizedMLPClassifier(**network).set_params(
    l2=clf.l2_, dropout=clf.dropout_, max_iter=clf.best_epoch_, early_stopping=False
)
refit.fit(X_train, y_train)
members = [accuracy_score(y_test, m.predict(X_test)) for m in clf.estimators_]
scores = {
    "fold ensemble": accuracy_score(y_test, clf.predict(X_test)),
    "fold models (mean)": sum(members) / len(members),
    "refit on all rows": accuracy_score(y_test, refit.predict(X_test)),
}
for name, score in scores.items():
    print(f"{name:<20} held-out accuracy {score:.3f}")

# %%
# The path the search computed, and the three models side by side.
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
RegularizationPathDisplay.from_estimator(clf, ax=left, score_name="CV accuracy")
left.set_title("CV accuracy along l2 (best dropout at each l2)")
right.bar(list(scores), list(scores.values()), color=["tab:green", "tab:gray", "tab:blue"])
right.set_ylim(min(scores.values()) - 0.03, 1.0)
right.set_ylabel("held-out accuracy")
fig.tight_layout()
out = Path("skreg-output")
out.mkdir(exist_ok=True)
fig.savefig(out / "cv_path.png", dpi=100)
