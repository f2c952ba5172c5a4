"""skreg: scikit-learn estimators that train regularized neural networks with Keras 3.

The public names load on first use (PEP 562), and Keras with its backend only at the first fit
or predict (:mod:`skreg._engine`): ``import skreg`` costs a few milliseconds.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._config import (
    clear_program_cache,
    config_context,
    get_config,
    program_cache_info,
    set_config,
)
from ._warnings import ProgramCacheWarning

__version__ = "0.1.0"

# Public name -> the submodule that defines it.
_LAZY = {
    "RegularizedMLPClassifier": "._classifier",
    "RegularizedMLPClassifierCV": "._classifier_cv",
    "RegularizedMLPRegressor": "._regressor",
    "RegularizedMLPRegressorCV": "._regressor_cv",
    "GaussianNoise": ".augmentation",
    "ImageAugmentation": ".augmentation",
    "Mixup": ".augmentation",
    "SwapNoise": ".augmentation",
    "ZCAWhitening": ".preprocessing",
    "load_keras_model": "._engine",
    "l2_from_sklearn_alpha": ".regularizers",
    "sklearn_alpha_from_l2": ".regularizers",
}

# importlib.reload(skreg) (a notebook's autoreload) runs this module again in its own
# namespace: the names __getattr__ stored there would keep the classes of before a reload of
# their modules (which then failed to pickle: "not the same object").
for _name in _LAZY:
    globals().pop(_name, None)
del _name

__all__ = [
    "GaussianNoise",
    "ImageAugmentation",
    "Mixup",
    "ProgramCacheWarning",
    "RegularizedMLPClassifier",
    "RegularizedMLPClassifierCV",
    "RegularizedMLPRegressor",
    "RegularizedMLPRegressorCV",
    "SwapNoise",
    "ZCAWhitening",
    "__version__",
    "clear_program_cache",
    "config_context",
    "get_config",
    "l2_from_sklearn_alpha",
    "load_keras_model",
    "program_cache_info",
    "set_config",
    "sklearn_alpha_from_l2",
]

if TYPE_CHECKING:
    from ._classifier import RegularizedMLPClassifier
    from ._classifier_cv import RegularizedMLPClassifierCV
    from ._engine import load_keras_model
    from ._regressor import RegularizedMLPRegressor
    from ._regressor_cv import RegularizedMLPRegressorCV
    from .augmentation import GaussianNoise, ImageAugmentation, Mixup, SwapNoise
    from .preprocessing import ZCAWhitening
    from .regularizers import l2_from_sklearn_alpha, sklearn_alpha_from_l2


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'skreg' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
