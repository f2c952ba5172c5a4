"""skreg: scikit-learn estimators that train regularized neural networks with Keras 3."""

from ._classifier import RegularizedMLPClassifier
from ._config import config_context, get_config, set_config
from ._programs import clear_program_cache, program_cache_info
from ._regressor import RegularizedMLPRegressor
from .augmentation import GaussianNoise, ImageAugmentation, Mixup, SwapNoise
from .preprocessing import ZCAWhitening
from .regularizers import l2_from_sklearn_alpha, sklearn_alpha_from_l2

__version__ = "0.1.0"

__all__ = [
    "GaussianNoise",
    "ImageAugmentation",
    "Mixup",
    "RegularizedMLPClassifier",
    "RegularizedMLPRegressor",
    "SwapNoise",
    "ZCAWhitening",
    "__version__",
    "clear_program_cache",
    "config_context",
    "get_config",
    "l2_from_sklearn_alpha",
    "program_cache_info",
    "set_config",
    "sklearn_alpha_from_l2",
]
