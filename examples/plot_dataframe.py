"""
A raw DataFrame: categorical columns, missing values and unseen levels
=======================================================================

A generated table of flat sales: a numeric surface with missing values, a floor, a
``district`` with 30 levels (embedded), a ``heating`` type with 4 levels and missing values
(one-hot), and a ``garden`` flag. The price depends on all of them, non-linearly. The
estimator takes the DataFrame as it is, with its defaults, and is compared by 5-fold
cross-validation with ``HistGradientBoostingRegressor`` on the same frame and with
scikit-learn's ``MLPRegressor`` behind the usual hand-written preprocessing. A prediction
for a district never seen in training still works. The script prints a table and saves a
bar chart to ``skreg-output/dataframe.png``.

Run: ``python examples/plot_dataframe.py`` (under a minute on 2 cores).
"""

import os
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.compose import (  # noqa: E402
    ColumnTransformer,
    TransformedTargetRegressor,
    make_column_selector,
)
from sklearn.ensemble import HistGradientBoostingRegressor  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.model_selection import KFold, cross_val_score  # noqa: E402
from sklearn.neural_network import MLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

from skreg import RegularizedMLPRegressor  # noqa: E402


def flats(n=1200, seed=0):
    """A table of flats and their prices (in thousands)."""
    rng = np.random.default_rng(seed)
    district_value = rng.normal(0, 0.4, 30)
    district = rng.integers(0, 30, n)
    surface = rng.lognormal(4.0, 0.35, n)
    floor = rng.integers(0, 12, n)
    heating = rng.choice(["gas", "electric", "heat pump", "wood"], n)
    garden = rng.random(n) < 0.3
    log_price = (
        np.log(surface)
        + district_value[district]
        + 0.02 * floor
        - 0.004 * (floor - 5) ** 2
        + np.select([heating == "heat pump", heating == "wood"], [0.1, -0.05], 0.0)
        + 0.15 * garden
        + rng.normal(0, 0.1, n)
    )
    frame = pd.DataFrame(
        {
            "surface": np.where(rng.random(n) < 0.1, np.nan, surface),
            "floor": floor,
            "district": pd.Categorical([f"d{d:02d}" for d in district]),
            "heating": pd.Categorical(np.where(rng.random(n) < 0.15, None, heating)),
            "garden": garden,
        }
    )
    return frame, np.exp(log_price + 1.0)


# scikit-learn's MLP reaches its max_iter=200 before its own convergence test on this data
# (and says so at every fold); its defaults are kept, as in benchmarks/bench_tabular.py.
warnings.filterwarnings("ignore", category=ConvergenceWarning)
X, y = flats()
hand_written = ColumnTransformer(
    [
        ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
         make_column_selector(dtype_include="number")),
        ("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False),
         make_column_selector(dtype_exclude="number")),
    ]
)  # fmt: skip
models = {
    "skreg, defaults on the frame": RegularizedMLPRegressor(random_state=0),
    "HistGradientBoosting": HistGradientBoostingRegressor(random_state=0),
    "MLPRegressor + preprocessing": make_pipeline(
        hand_written,
        TransformedTargetRegressor(MLPRegressor(random_state=0), transformer=StandardScaler()),
    ),
}
cv = KFold(5, shuffle=True, random_state=0)
rmse = {}
print(f"{'model':<32}{'CV RMSE':>18}")
for name, model in models.items():
    scores = -cross_val_score(model, X, y, cv=cv, scoring="neg_root_mean_squared_error")
    rmse[name] = scores
    print(f"{name:<32}{scores.mean():>11.1f} ± {scores.std() / np.sqrt(len(scores)):.1f}")

# A district, and a heating type, that training never saw: the estimator still predicts.
model = RegularizedMLPRegressor(random_state=0).fit(X, y)
new = pd.DataFrame(
    {"surface": [55.0], "floor": [3], "district": ["new district"], "heating": ["solar"],
     "garden": [True]}
)  # fmt: skip
print(f"predicted price of a flat in an unseen district: {model.predict(new)[0]:.0f}")
width = model.coefs_[0].shape[0]
print(f"{model.n_features_in_} columns become {width} values at the first layer: scaled numbers,")
print("a missing-value indicator, one-hot levels, periodic features and an embedding")

fig, ax = plt.subplots(figsize=(6, 3))
names = list(rmse)
ax.barh(names, [rmse[n].mean() for n in names],
        xerr=[rmse[n].std() / np.sqrt(5) for n in names], color="C0")  # fmt: skip
ax.set_xlabel("5-fold RMSE (lower is better)")
ax.invert_yaxis()
fig.tight_layout()
out = Path("skreg-output")
out.mkdir(exist_ok=True)
fig.savefig(out / "dataframe.png", dpi=120)
plt.show()
