"""Coming from scikit-learn's MLPs: its arguments that skreg does not take, and their
equivalents (the user guide's migration table says the same)."""

from __future__ import annotations

from typing import Any

from ._validation import InvalidParameterError

SKLEARN_ONLY = {
    "alpha": "l2, or the CV estimators' l2s (l2 = skreg.regularizers.l2_from_sklearn_alpha("
    "alpha, batch_size, ...) gives the same penalty)",
    "solver": "optimizer ('adam', 'sgd', 'rmsprop', ...; there is no 'lbfgs')",
    "learning_rate_init": "learning_rate, which is the step size itself",
    "momentum": "optimizer='sgd' (Keras' SGD, without momentum) or optimizer='nadam'",
    "nesterovs_momentum": "optimizer='nadam' for Nesterov-accelerated Adam",
    "max_fun": "nothing: it only applies to solver='lbfgs', which skreg does not have",
}
# scikit-learn's activation names, as skreg (Keras) spells them.
ACTIVATION_ALIASES = {"logistic": "sigmoid", "identity": "linear"}
_SKLEARN_SCHEDULES = {"constant", "invscaling", "adaptive"}


class MigrationMixin:
    """Answers a scikit-learn MLP argument with its skreg equivalent, not just "unexpected
    keyword": in the constructor (``TypeError``), in ``set_params`` (``ValueError``), and for
    a schedule name given as ``learning_rate``."""

    def __new__(cls, *args: Any, **kwargs: Any):
        _refuse(cls, kwargs, TypeError)
        return super().__new__(cls)

    def set_params(self, **params: Any):
        _refuse(type(self), params, ValueError)
        _refuse_fields_in_a_list(self, params)
        return super().set_params(**params)

    def _validate_params(self) -> None:
        rate = getattr(self, "learning_rate", None)
        if isinstance(rate, str) and rate in _SKLEARN_SCHEDULES:
            raise InvalidParameterError(
                f"learning_rate={rate!r} is a scikit-learn schedule name. skreg's learning_rate "
                "is the step size itself (scikit-learn's learning_rate_init), and the schedule "
                f"is learning_rate_schedule: pass learning_rate=1e-3, learning_rate_schedule="
                f"{rate!r}."
            )
        super()._validate_params()


def _refuse_fields_in_a_list(estimator: Any, params: dict) -> None:
    """A ``<parameter>__<field>`` whose parameter holds a list (of augmentations, say):
    scikit-learn's answer would be "'list' object has no attribute 'set_params'"."""
    for name in params:
        outer, _, field = name.partition("__")
        held = getattr(estimator, outer, None) if field else None
        if isinstance(held, list | tuple):
            raise ValueError(
                f"{name}: {outer} holds a list, whose items' fields a grid search cannot "
                f"reach; search over whole lists instead, as in {{{outer!r}: [[...], [...]]}}, "
                f"or pass a single object to search its {field!r}."
            )


def _refuse(cls: type, params: dict, error: type[Exception]) -> None:
    names = [name for name in params if name in SKLEARN_ONLY]
    if names:
        uses = "; ".join(f"instead of {name}, use {SKLEARN_ONLY[name]}" for name in names)
        raise error(
            f"{cls.__name__} does not take scikit-learn's MLP argument(s) "
            f"{', '.join(map(repr, names))}: {uses}. See the migration table in the user guide."
        )
