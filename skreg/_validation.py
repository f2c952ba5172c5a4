"""The one place that imports scikit-learn's private helpers.

scikit-learn's parameter-validation vocabulary (``Interval``, ``StrOptions``) and the
``_fit_context`` decorator are not public API yet; keeping every such import here means a
scikit-learn rename touches one file.
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions

__all__ = ["Interval", "InvalidParameterError", "StrOptions", "_fit_context"]
