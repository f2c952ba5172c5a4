"""skreg's warnings, pointed at the user's line: the first caller outside skreg and the
libraries that call into it (scikit-learn's wrappers of ``fit`` and its searches, joblib's
workers), whatever path inside skreg led to them (a fit, a prediction, the engine's first
load, a thread of joint training). A fixed ``stacklevel`` pointed into skreg, or into
scikit-learn's wrapper of ``fit``, from every path but the one it was counted for."""

from __future__ import annotations

import os
import sys
import warnings


class ProgramCacheWarning(UserWarning):
    """On TensorFlow, more networks were compiled with XLA in the process than
    ``program_cache_size``: later networks run without XLA (see ``set_config``).

    It says nothing of the data or the settings of the fit that raised it, so a test
    suite run with warnings as errors filters it by this category::

        warnings.filterwarnings("ignore", category=skreg.ProgramCacheWarning)
    """


# Packages whose frames are passed over, when imported (skreg's own always is).
_CALLERS = ("sklearn", "joblib", "concurrent", "threading")


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn(message, category)``, attributed to the first frame outside skreg
    and the libraries that call it; in a process or thread where every frame is theirs (a
    search's worker), to the outermost frame."""
    folders = tuple(_folder(name) for name in ("skreg", *_CALLERS) if name in sys.modules)
    frame, level = sys._getframe(0), 1
    while frame.f_back is not None and os.path.realpath(frame.f_code.co_filename).startswith(
        folders
    ):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def _folder(name: str) -> str:
    """The folder of the imported module ``name``'s files (a package's, or the module's)."""
    path = os.path.realpath(sys.modules[name].__file__)
    if os.path.basename(path) == "__init__.py":
        return os.path.dirname(path) + os.sep
    return path
