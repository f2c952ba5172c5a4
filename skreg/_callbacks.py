"""scikit-learn's callbacks (``sklearn.callback``, scikit-learn >= 1.9) around one fit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._specs import EpochHooks, NetworkState, TrainingResult


class FitCallbacks:
    """The fit is the root task and each epoch a subtask, so ``ProgressBar`` counts epochs and
    ``ScoringMonitor`` scores every epoch's network, which the hooks get as
    ``fitted_estimator`` (a copy predicting with the weights being trained). Epochs return
    to the host one at a time only when the estimator has callbacks; otherwise the fit still
    opens its task, so a search's task tree is complete. A hook returning True stops
    training after that epoch. On older scikit-learn every method does nothing.
    """

    def __init__(self, estimator=None, given=(), epochs=0, incremental=False) -> None:
        self.estimator = estimator
        self.per_epoch = False
        if estimator is None:
            return
        X, y, sample_weight = given
        self.arguments = dict(
            X=X, y=y, metadata=None if sample_weight is None else {"sample_weight": sample_weight}
        )
        self.context = estimator._init_callback_context(
            task_name="partial_fit" if incremental else "fit", max_subtasks=epochs
        )
        self.context.call_on_fit_task_begin(estimator=estimator, **self.arguments)
        self.per_epoch = bool(getattr(estimator, "_skl_callbacks", None))

    @classmethod
    def start(cls, estimator, X, y, sample_weight, epochs, incremental) -> FitCallbacks:
        if not hasattr(estimator, "_init_callback_context"):
            return cls()
        return cls(estimator, (X, y, sample_weight), epochs, incremental)

    def hooks(
        self,
        fitted: Callable[[NetworkState], Any],
        attributes: Callable[[TrainingResult], dict[str, Any]],
    ) -> Callable[[Callable[[], NetworkState]], EpochHooks] | None:
        """The engine's factory of per-epoch hooks, or None without callbacks. ``fitted``
        turns a network state into the fitted record a copy of the estimator predicts with,
        ``attributes`` the call's result so far into the run's fitted attributes (``n_iter_``,
        ``history_``, ...), so that the copy is the estimator as if the fit had stopped
        there: a continued fit on it starts a new optimizer state from its weights."""
        if not self.per_epoch:
            return None

        def make(current: Callable[[], NetworkState]) -> EpochHooks:
            epoch_context = []

            def call(method, result):
                def reconstruct():
                    return {"_fitted": fitted(current()), **attributes(result)}

                return method(
                    estimator=self.estimator, reconstruction_attributes=reconstruct,
                    **self.arguments,
                )  # fmt: skip

            def begin(epoch, result):
                epoch_context[:] = [self.context.subcontext(task_name="epoch")]
                call(epoch_context[0].call_on_fit_task_begin, result)

            def end(epoch, result):
                return call(epoch_context[0].call_on_fit_task_end, result)

            return EpochHooks(begin, end)

        return make

    def finish(self) -> None:
        """End the fit's task; the estimator itself is now the fitted estimator."""
        if self.estimator is not None:
            self.context.call_on_fit_task_end(
                estimator=self.estimator, reconstruction_attributes={}, **self.arguments
            )
