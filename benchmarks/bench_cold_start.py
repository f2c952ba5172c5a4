"""What a fresh process pays: import, ``skreg --help``, the first fit, and a whole script.

Every figure is the median over ``--repeats`` fresh processes, one thread each (as in the
nested-CV benchmark), MLPClassifier measured alongside in the same run:

- ``import``: ``python -c "import skreg"`` and ``from skreg import RegularizedMLPClassifier``
  against ``from sklearn.neural_network import MLPClassifier`` (whole process).
- ``--help``: ``skreg --help`` (whole process).
- ``first fit``: inside a script, the first ``fit`` of ``RegularizedMLPClassifier(random_state=0)``
  on digits (scaled to [0, 1]; default network and 200 epochs), which loads the backend and
  compiles, with the on-disk compilation cache warm (a private folder, filled by one unreported
  run) and off; against ``MLPClassifier(random_state=0)``'s first fit. skreg imports the
  backend at that fit (it used to at ``import skreg``); that part is also shown alone.
- ``script``: the whole process of a script that imports, loads digits, fits and predicts.

    python benchmarks/bench_cold_start.py                  # TensorFlow and JAX
    python benchmarks/bench_cold_start.py --backends jax --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

THREADS = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "3",
}
SCRIPT = """
import json, time
start = time.perf_counter()
from sklearn.datasets import load_digits
{imports}
X, y = load_digits(return_X_y=True)
X = X / 16.0
loaded = time.perf_counter()
model = {model}(random_state=0).fit(X, y)
fitted = time.perf_counter()
model.predict(X)
backend = __import__("sys").modules.get("skreg._engine._loader")
load = backend.settings()["load_seconds"] if backend else 0.0
print(json.dumps({{"import": loaded - start, "first_fit": fitted - loaded, "backend_load": load}}))
"""
LIBRARIES = {
    "skreg": ("from skreg import RegularizedMLPClassifier", "RegularizedMLPClassifier"),
    "sklearn": ("from sklearn.neural_network import MLPClassifier", "MLPClassifier"),
}


def timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, out.stdout


def median_of(repeats: int, command: list[str], env: dict[str, str]) -> dict[str, float]:
    """Medians of the process's wall time and of what it printed as JSON, if anything."""
    runs = []
    for _ in range(repeats):
        seconds, stdout = timed(command, env)
        lines = stdout.strip().splitlines()
        printed = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
        runs.append({"process": seconds, **printed})
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    base = {k: v for k, v in os.environ.items() if not k.startswith("SKREG_")}
    base.update(THREADS)
    python = sys.executable
    # The installed command, as a user types it (``python -m skreg`` without one).
    skreg_cli = [shutil.which("skreg")] if shutil.which("skreg") else [python, "-m", "skreg"]

    def script(library: str) -> list[str]:
        imports, model = LIBRARIES[library]
        return [python, "-c", SCRIPT.format(imports=imports, model=model)]

    print(f"{os.cpu_count()} cores, one thread per process, median of {args.repeats} runs")
    rows = []
    mlp_import = median_of(args.repeats, [python, "-c", LIBRARIES["sklearn"][0]], base)
    bare = median_of(args.repeats, [python, "-c", "import skreg"], base)
    rows.append(("import skreg", bare["process"], None))
    rows.append(("(MLP: from sklearn.neural_network import ...)", mlp_import["process"], None))
    full = median_of(args.repeats, [python, "-c", LIBRARIES["skreg"][0]], base)
    rows.append(("from skreg import RegularizedMLPClassifier", full["process"], None))
    helped = median_of(args.repeats, [*skreg_cli, "--help"], base)
    rows.append(("skreg --help", helped["process"], None))
    mlp = median_of(args.repeats, script("sklearn"), base)
    for backend in args.backends:
        with tempfile.TemporaryDirectory() as cache:
            env = dict(base, KERAS_BACKEND=backend, SKREG_COMPILATION_CACHE_DIR=cache)
            timed(script("skreg"), env)  # fills the cache
            warm = median_of(args.repeats, script("skreg"), env)
        off = median_of(
            args.repeats, script("skreg"), dict(env, SKREG_COMPILATION_CACHE_DIR="off")
        )
        rows.append((f"{backend}: first fit, cache warm", warm["first_fit"], mlp["first_fit"]))
        rows.append((f"{backend}: first fit, cache off", off["first_fit"], mlp["first_fit"]))
        rows.append((f"{backend}:   of which backend import", warm["backend_load"], None))
        rows.append(
            (
                f"{backend}: first fit without the import, cache warm",
                warm["first_fit"] - warm["backend_load"],
                mlp["first_fit"],
            )
        )
        rows.append((f"{backend}: whole script, cache warm", warm["process"], mlp["process"]))
        rows.append((f"{backend}: whole script, cache off", off["process"], mlp["process"]))
    width = max(len(name) for name, _, _ in rows)
    print(f"{'':<{width}}  {'skreg s':>8}  {'MLP s':>6}  {'ratio':>6}")
    for name, ours, theirs in rows:
        against = f"{theirs:>6.2f}  {ours / theirs:>5.2f}x" if theirs else f"{'':>6}  {'':>6}"
        print(f"{name:<{width}}  {ours:>8.2f}  {against}")


if __name__ == "__main__":
    main()
