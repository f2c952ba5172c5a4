"""skrub's ``SquashingScaler`` against skreg's ``RobustSmoothScaler`` (issue 14: use a
maintained library where one fits).

On the numeric columns of the development suite (``../shared/tabular-dev``), it prints for
each table how many columns the two scale to the same values (to 1e-9), the seconds of a fit
and transform of each (mean of 5), and those of skreg's whole ``TablePreprocessor``. skrub
is not a dependency of skreg; run it from an environment that has both::

    python -m venv --system-site-packages ~/skrub-env
    ~/skrub-env/bin/pip install skrub
    ~/skrub-env/bin/python benchmarks/bench_skrub.py
    ~/skrub-env/bin/python -X importtime -c "import skrub" 2>&1 | tail -1
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_tabular import SUITE, load  # noqa: E402

SETS = ("glass", "ozone", "sacramento", "ames", "satellite", "letter")


def seconds(make, X, repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        make().fit(X).transform(X)
    return (time.perf_counter() - start) / repeats


def main() -> None:
    from skrub import SquashingScaler

    from skreg._scaling import RobustSmoothScaler
    from skreg._tabular import TablePreprocessor

    print(f"{'set':<12}{'rows':>7}{'numeric':>9}{'same':>6}{'skreg ms':>10}{'skrub ms':>10}"
          f"{'table ms':>10}")  # fmt: skip
    for name in SETS:
        X, _ = load(name, SUITE)
        numeric = X.select_dtypes("number").to_numpy(dtype=float)
        ours = RobustSmoothScaler().fit(numeric).transform(numeric)
        theirs = SquashingScaler().fit(numeric).transform(numeric)
        finite = np.isfinite(ours) & np.isfinite(theirs)
        same = np.all(np.isclose(ours, theirs, atol=1e-9) | ~finite, axis=0).sum()
        print(
            f"{name:<12}{len(X):>7}{numeric.shape[1]:>9}{same:>6}"
            f"{1e3 * seconds(RobustSmoothScaler, numeric, 5):>10.1f}"
            f"{1e3 * seconds(SquashingScaler, numeric, 5):>10.1f}"
            f"{1e3 * seconds(TablePreprocessor, X, 3):>10.0f}"
        )


if __name__ == "__main__":
    main()
