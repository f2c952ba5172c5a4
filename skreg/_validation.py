"""The one place that imports scikit-learn's private and experimental helpers.

scikit-learn's parameter-validation vocabulary (``Interval``, ``StrOptions``) and the
``_fit_context`` decorator are not public API yet, and its callback API (``sklearn.callback``,
scikit-learn >= 1.9) is experimental; keeping every such import here means a scikit-learn
rename touches one file.
"""

from sklearn.base import _fit_context
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions

try:
    from sklearn.callback import CallbackSupportMixin

    HAS_CALLBACKS = True
except ImportError:  # scikit-learn < 1.9: no callbacks, and no set_callbacks method

    class CallbackSupportMixin:  # type: ignore[no-redef]
        pass

    HAS_CALLBACKS = False

__all__ = [
    "HAS_CALLBACKS",
    "CallbackSupportMixin",
    "Interval",
    "InvalidParameterError",
    "StrOptions",
    "_fit_context",
    "_safe_indexing",
]
