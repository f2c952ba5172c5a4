"""Looking at a fit: training-history and regularization-path Displays, and the bias/variance
diagnosis.

The Displays follow scikit-learn's conventions: ``from_estimator`` (or ``from_cv_results``)
computes and plots, ``plot(ax=...)`` draws on given axes, and the drawn objects are kept as
``figure_``, ``ax_`` and ``lines_``. matplotlib is imported only when something is plotted.
"""

from ._diagnosis import Diagnosis, diagnose, diagnose_estimator
from ._history import TrainingHistoryDisplay
from ._path import RegularizationPathDisplay

__all__ = [
    "Diagnosis",
    "RegularizationPathDisplay",
    "TrainingHistoryDisplay",
    "diagnose",
    "diagnose_estimator",
]
