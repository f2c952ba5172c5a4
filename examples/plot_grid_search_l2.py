"""
Choosing the L2 penalty with a grid search
==========================================

``l2`` is a constructor parameter, so scikit-learn's
:class:`~sklearn.model_selection.GridSearchCV` searches it like any other hyperparameter; in
a pipeline it is addressed as ``regularizedmlpclassifier__l2``. Penalties act on a
multiplicative scale, so the grid is logarithmic, from a penalty too small to matter
(``1e-6``) to one strong enough to underfit (``0.1``).

The data are scikit-learn's breast-cancer set (30 features), half of it for the search and
half held out as a test set. A 256-256 network trained for 100 epochs has far more weights
than the 284 training rows: without a penalty it fits them perfectly. The search runs
5-fold cross-validation with ``return_train_score=True``, so the regularization path shows
both curves: as ``l2`` grows, the training score falls from 1, while the cross-validated
score first holds or rises and then falls when the penalty starts to underfit. The script
prints the mean training and cross-validated accuracy for every ``l2``, the best value, and
the test accuracy of the refitted best pipeline, and saves the path, drawn by
:class:`skreg.inspection.RegularizationPathDisplay`, to
``skreg-output/grid_search_l2.png``. The differences between neighbouring values are
within one standard deviation across folds: the path shows a range of good penalties more
than a single best one.

Run: ``python examples/plot_grid_search_l2.py`` (about 30 seconds on 2 cores).
"""

import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
from sklearn.datasets import load_breast_cancer  # noqa: E402
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skreg import RegularizedMLPClassifier  # noqa: E402
from skreg.inspection import RegularizationPathDisplay  # noqa: E402

X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.5, stratify=y, random_state=0
)
pipe = make_pipeline(
    StandardScaler(),
    RegularizedMLPClassifier((256, 256), max_iter=100, batch_size=32, random_state=0),
)
param = "regularizedmlpclassifier__l2"
grid = {param: [1e-6, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1]}
search = GridSearchCV(
    pipe, grid, cv=StratifiedKFold(5, shuffle=True, random_state=0), return_train_score=True
)
start = time.perf_counter()
search.fit(X_train, y_train)
print(f"grid search: {len(grid[param])} values x 5 folds in {time.perf_counter() - start:.0f} s")

results = search.cv_results_
print(f"{'l2':>8}{'train acc':>11}{'CV acc':>17}")
for value, train, test, std in zip(
    results[f"param_{param}"],
    results["mean_train_score"],
    results["mean_test_score"],
    results["std_test_score"],
):
    print(f"{value:>8g}{train:>11.3f}{test:>10.3f} ± {std:.3f}")
print(f"best l2: {search.best_params_[param]:g} (CV accuracy {search.best_score_:.3f})")
print(f"test accuracy of the refitted best pipeline: {search.score(X_test, y_test):.3f}")

display = RegularizationPathDisplay.from_cv_results(results, param, score_name="accuracy")
display.ax_.set_title("Breast cancer, 256-256 network: 5-fold CV along l2")
display.figure_.tight_layout()
out = Path("skreg-output")
out.mkdir(exist_ok=True)
display.figure_.savefig(out / "grid_search_l2.png", dpi=100)
print(f"saved {out / 'grid_search_l2.png'}")
