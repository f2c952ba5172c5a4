"""Write ``<backend>.npz``: the predictions of every case in ``cases.py`` on this backend."""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).parent))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from cases import CASES, machine  # noqa: E402

if __name__ == "__main__":
    backend = keras.backend.backend()
    outputs = {name: case() for name, case in CASES.items()}
    path = Path(__file__).with_name(f"{backend}.npz")
    np.savez(path, machine=np.array(machine()), **outputs)
    print(f"wrote {path}: {', '.join(outputs)}")
