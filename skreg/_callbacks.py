"""scikit-learn's callbacks (``sklearn.callback``, scikit-learn >= 1.9) around one fit, and
around a CV estimator's search."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
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


class SearchCallbacks:
    """scikit-learn's callbacks around a CV estimator's fit, in the task tree GridSearchCV
    builds: the fit is the root task, with the search and then the refit
    ("refit-with-best-params", with ``refit=True``) as its subtasks; each fold model is a
    subtask of the search ("candidate-split-evaluation"), and the fold model's own fit and
    epochs hang below it. Racing trains fewer fold models than candidates x folds: the
    search's size is the number the racing schedule trains. Callbacks that propagate
    (``ProgressBar``) reach the fold models and the refit, as GridSearchCV passes them on.
    Without a callback to see it (none set, none propagated from a meta-estimator), or on
    older scikit-learn, there is no tree and every method does nothing; so the fold models'
    tasks do not carry the CV estimator (and a previous fit's models) to worker processes.
    """

    def __init__(self, estimator, X, y, sample_weight, refit) -> None:
        self.root = self.search = None
        seen = getattr(estimator, "_skl_callbacks", None) or hasattr(
            estimator, "_parent_callback_ctx"
        )
        if not (seen and hasattr(estimator, "_init_callback_context")):
            return
        self.estimator = estimator
        self.arguments = dict(
            X=X, y=y, metadata=None if sample_weight is None else {"sample_weight": sample_weight}
        )
        self.root = estimator._init_callback_context(max_subtasks=1 + (refit is True))
        self.root.call_on_fit_task_begin(estimator=estimator, **self.arguments)
        self.n_tasks = 0

    def begin_search(self, n_fits: int) -> None:
        if self.root is not None:
            self.search = self.root.subcontext(
                task_name="search", max_subtasks=n_fits, sequential_subtasks=False
            ).call_on_fit_task_begin(estimator=self.estimator)

    def fold_tasks(self, count: int) -> list[tuple[Any, Any]]:
        """The next ``count`` fold models' tasks for :func:`fold_task`: each its context,
        made before it is dispatched (as GridSearchCV makes them, so that a worker process
        gets them whole), and the CV estimator."""
        if self.search is None:
            return [(None, None)] * count
        first, self.n_tasks = self.n_tasks, self.n_tasks + count
        return [
            (
                self.search.subcontext(task_name="candidate-split-evaluation", task_id=task_id),
                self.estimator,
            )
            for task_id in range(first, self.n_tasks)
        ]

    def end_search(self) -> None:
        if self.search is not None:
            self.search.call_on_fit_task_end(estimator=self.estimator)

    @contextmanager
    def refit(self, model) -> Iterator[None]:
        """The refit's task around ``model``'s fit, with the propagated callbacks."""
        if self.root is None:
            yield
            return
        context = self.root.subcontext(task_name="refit-with-best-params")
        with context.propagate_callback_context(model):
            context.call_on_fit_task_begin(estimator=self.estimator, **self.arguments)
            yield
        context.call_on_fit_task_end(estimator=self.estimator, **self.arguments)

    def finish(self) -> None:
        if self.root is not None:
            self.root.call_on_fit_task_end(estimator=self.estimator, **self.arguments)


@contextmanager
def fold_task(context, caller, X, y, sample_weight) -> Iterator[Callable[[Any], Any]]:
    """A fold model's task (:meth:`SearchCallbacks.fold_tasks`), as GridSearchCV runs it:
    within, ``begun(member)`` begins it around the fold model's fit, which gets the
    propagated callbacks (an error there is the fit's, so ``error_score`` applies); on
    leaving, after the fold's score, the task ends whatever happened, and a callback
    raising there stops the search."""
    if context is None:
        yield lambda member: nullcontext()
        return
    arguments = dict(
        X=X, y=y, metadata=None if sample_weight is None else {"sample_weight": sample_weight}
    )

    @contextmanager
    def begun(member) -> Iterator[None]:
        with context.propagate_callback_context(member):
            context.call_on_fit_task_begin(estimator=caller, **arguments)
            yield

    try:
        yield begun
    finally:
        context.call_on_fit_task_end(estimator=caller, **arguments)
