"""Write the predictions of every case in ``cases.py`` on this process's backend.

``python tests/golden/make_golden.py`` saves them as ``tests/golden/<backend>.npz``; with a
path, to that file. A fresh process, because on TensorFlow whether a network runs on XLA
depends on how many networks the process compiled before (see ``program_cache_size``).
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).parent))

import numpy as np  # noqa: E402
from cases import CASES, machine  # noqa: E402

if __name__ == "__main__":
    outputs = {name: case() for name, case in CASES.items()}
    import keras

    default = Path(__file__).with_name(f"{keras.backend.backend()}.npz")
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    np.savez(path, machine=np.array(machine()), **outputs)
    print(f"wrote {path}: {', '.join(outputs)}")
