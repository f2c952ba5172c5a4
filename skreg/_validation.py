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


def scorer_accepts_sample_weight(scorer, fitting: object = None) -> bool:
    """Whether ``scorer`` takes ``sample_weight``, as GridSearchCV decides it before it
    passes the fit's weights to the scorer (a scorer object's private ``_accept_sample_weight``
    on recent scikit-learn, else the callable's signature). With metadata routing enabled,
    a scorer's own request decides where it made one (``set_score_request(sample_weight=
    True)`` or ``False``; GridSearchCV routes them so), and an unset request is read as
    without routing. ``fitting``: the estimator fitting with weights, named in GridSearchCV's
    warning when the scorer cannot take them (none where a request decided)."""
    import inspect

    from ._warnings import warn

    request = scorer_request(scorer)
    if request is not None:
        return request is True or request == "sample_weight"
    accept = getattr(scorer, "_accept_sample_weight", None)
    if accept is not None:
        accept = bool(accept())
    else:
        try:
            accept = "sample_weight" in inspect.signature(scorer).parameters
        except (TypeError, ValueError):
            accept = False
    if not accept and fitting is not None:
        warn(
            f"The scoring {scorer} does not support sample_weight, which may lead to "
            f"statistically incorrect results when fitting {fitting} with sample weights: "
            "its scores are unweighted."
        )
    return accept


def scorer_request(scorer) -> object:
    """The scorer's ``sample_weight`` request under metadata routing (True, False or an
    alias), or None: routing off, or no request made."""
    import sklearn

    if sklearn.get_config().get("enable_metadata_routing") and hasattr(
        scorer, "get_metadata_routing"
    ):
        return scorer.get_metadata_routing().score.requests.get("sample_weight")
    return None


__all__ = [
    "HAS_CALLBACKS",
    "CallbackSupportMixin",
    "Interval",
    "InvalidParameterError",
    "StrOptions",
    "_fit_context",
    "scorer_accepts_sample_weight",
    "_safe_indexing",
]
