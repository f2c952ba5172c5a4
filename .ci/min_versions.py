"""The quick test suite, on both backends, with every dependency at its declared lower bound.

Each ``>=`` bound of pyproject.toml (the dependencies and the ``jax`` and ``test`` extras)
becomes a pin to that release series, ``keras>=3.13`` to ``keras==3.13.*`` (its newest patch
release: TensorFlow has no 2.16.0), in a new virtual environment of this Python (CI's is the
oldest that ``requires-python`` allows); pip chooses the packages they pull in. A bound that
no longer works fails here, not on a user's machine::

    python .ci/min_versions.py            # about 20 minutes on 2 cores
    python .ci/min_versions.py --pins     # print the pins only
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXTRAS = ("jax", "test")
# A requirement with a lower bound: its name (with extras), then the bound.
BOUND = r"([A-Za-z0-9_.\-]+(?:\[[^\]]*\])?)\s*>=\s*([0-9][0-9.]*)"
# The quick suite; the slow tests run in the README's command, on the newest versions.
PYTEST = ["-m", "pytest", "-q", "-m", "not slow", "-p", "no:cacheprovider"]


def pins(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """``name==bound.*`` for each requirement of the dependencies and :data:`EXTRAS` (all
    have a ``>=`` bound; extras in brackets are kept)."""
    project = tomllib.loads(pyproject.read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in EXTRAS:
        requirements += project["optional-dependencies"][extra]
    pinned = {}
    for requirement in requirements:
        match = re.fullmatch(BOUND, requirement)
        if match is None:
            raise SystemExit(f"min_versions: no '>=' bound to pin in {requirement!r}")
        pinned[match[1]] = f"{match[1]}=={match[2]}.*"
    return sorted(pinned.values(), key=str.lower)


def run(command: list[str], **kwargs) -> None:
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True, **kwargs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pins", action="store_true", help="print the pins and stop")
    args = parser.parse_args()
    required = pins()
    if args.pins:
        print("\n".join(required))
        return
    with tempfile.TemporaryDirectory(prefix="skreg-min-") as folder:
        venv = Path(folder) / "venv"
        run([sys.executable, "-m", "venv", str(venv)])
        python = str(venv / "bin" / "python")
        run([python, "-m", "pip", "install", "-q", *required])
        run([python, "-m", "pip", "install", "-q", "--no-deps", "-e", str(ROOT)])
        run([python, "-m", "pip", "list", "--format=freeze"])
        for backend in ("tensorflow", "jax"):
            env = {**os.environ, "KERAS_BACKEND": backend}
            run([python, *PYTEST], cwd=ROOT, env=env)


if __name__ == "__main__":
    main()
