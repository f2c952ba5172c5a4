"""What Keras and TensorFlow import at their own import for features skreg never uses.

Measured on the 2-core machine (``python -X importtime``, TensorFlow 2.21, Keras 3.15, in a
process that had imported scikit-learn, as a worker has): of the 5.6 s that importing Keras
on TensorFlow took, 2.0 s went to three optional imports: ``matplotlib.pyplot`` for
``keras.visualization`` (0.8 s), ``IPython`` for ``keras.saving``'s notebook display (0.4 s)
and JAX for TensorFlow Lite's JAX converter (0.8 s). On JAX, matplotlib and IPython took
0.8 s of 2.2 s. ``import tensorflow`` itself runs namespaces of its public API that Keras 3
does not use: ``tf.compat`` (the v1 API), ``tf.feature_column`` (which imports TensorFlow's
legacy Keras layers) and two test utilities of ``tf.__internal__.distribute``;
deferring them saved another 0.25 s of 3.7 s (medians of 7 alternated pairs). ``tf.lite`` is
not deferred: importing it later would also import TensorFlow's own ``tensorflow.lite``
package, which would then replace the API namespace as ``tf.lite``. A search pays the import
in every worker and again in the parent's refit.

While skreg loads the backend, in the loading thread only:

- The modules of ``DEFERRED`` (``IPython`` and the TensorFlow namespaces above), when not yet
  imported, are imported lazily (:class:`importlib.util.LazyLoader`): the module is in
  ``sys.modules`` at once and runs at its first attribute access, so a later ``import
  IPython`` or ``tf.compat.v1.reset_default_graph()`` works as usual and pays the import then.
  The TensorFlow namespaces only re-export functions of modules; what they import first and
  nothing else does registers no gradient or kernel a fit needs (checked by listing the
  modules a fit leaves unimported).
- The imports of ``SKIPPED`` fail, for the importers listed, as if the module were not
  installed; each importer is written for that case. On a backend other than JAX: JAX, for
  TensorFlow Lite's JAX converter and Keras' Orbax checkpoint callback (to patch
  ``jax.monitoring``). On both: matplotlib, for ``keras.visualization``. After the load, the
  ``None`` that ``keras.visualization`` keeps for ``pyplot`` and ``patches`` is replaced by
  an :class:`OnFirstUse` stand-in (``RESTORED``), so its plots work and import matplotlib at
  their first call. Deferring ``matplotlib.pyplot`` lazily was not enough: importing a
  submodule runs its package, and ``matplotlib`` alone took 0.16 s. Skipping it took the
  backend's load from 0.93 s to 0.73 s on JAX and from 1.96 s to 1.87 s on TensorFlow
  (medians of 5 and 14 alternated pairs, in a process that had imported scikit-learn).

Before Python 3.12, LazyLoader does not lock the first attribute access: two threads that touch
one of these modules for the first time at the same moment may see a half-run module.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import threading
from collections.abc import Iterator
from importlib.machinery import ModuleSpec
from typing import Any

# Imported lazily by the loading thread.
DEFERRED = frozenset(
    {
        "IPython",
        "tensorflow._api.v2.compat",
        "tensorflow._api.v2.feature_column",
        "tensorflow._api.v2.__internal__.feature_column",
        "tensorflow._api.v2.__internal__.distribute.combinations",
        "tensorflow._api.v2.__internal__.distribute.multi_process_runner",
    }
)
# Not imported for importers whose module name starts with one of these.
_KERAS_PLOTS = ("keras.src.visualization.",)
SKIPPED = {
    "jax": ("tensorflow.lite.", "keras.src.callbacks.orbax_checkpoint"),
    "matplotlib": _KERAS_PLOTS,
    "matplotlib.pyplot": _KERAS_PLOTS,
    "matplotlib.patches": _KERAS_PLOTS,
}
# After the load, what a skipped import left as None becomes a module imported at first use:
# (module, its attribute, the module the attribute names).
RESTORED = (
    ("keras.src.visualization.plot_image_gallery", "plt", "matplotlib.pyplot"),
    ("keras.src.visualization.plot_bounding_box_gallery", "patches", "matplotlib.patches"),
)
_IMPORT_MACHINERY = frozenset({"importlib._bootstrap", "importlib._bootstrap_external"})


class _Finder:
    """A meta path finder active in one thread; see the module's docstring."""

    def __init__(self, skipped: dict[str, tuple[str, ...]]) -> None:
        self.thread = threading.get_ident()
        self.skipped = skipped

    def find_spec(self, name: str, path=None, target=None) -> ModuleSpec | None:
        if threading.get_ident() != self.thread:
            return None
        if name in self.skipped and _importer().startswith(self.skipped[name]):
            raise ModuleNotFoundError(f"No module named {name!r} (deferred by skreg)", name=name)
        if name not in DEFERRED:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is None:
                continue
            if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                spec.loader = importlib.util.LazyLoader(spec.loader)
            return spec
        return None


def _importer() -> str:
    """The name of the module whose code runs the import statement being resolved."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if name not in _IMPORT_MACHINERY and not name.startswith("_frozen_importlib"):
            return name
        frame = frame.f_back
    return ""


@contextlib.contextmanager
def deferred_imports(backend: str) -> Iterator[None]:
    """Defer and skip the imports above in this thread while ``backend`` loads."""
    finder = _Finder({name: by for name, by in SKIPPED.items() if name != backend})
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
    for module, attribute, target in RESTORED:
        _restore(module, attribute, target)


class OnFirstUse:
    """Stands for module ``name``, which is imported at the first attribute access."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self._name), attribute)

    def __repr__(self) -> str:
        return f"<{self._name}, imported at its first use>"


def _restore(module: str, attribute: str, target: str) -> None:
    """Point ``module.attribute`` (None after a skipped import) at ``target``, if installed."""
    owner = sys.modules.get(module)
    top = target.partition(".")[0]
    if owner is None or getattr(owner, attribute, 0) is not None:
        return
    if top in sys.modules or importlib.util.find_spec(top) is not None:
        setattr(owner, attribute, OnFirstUse(target))
