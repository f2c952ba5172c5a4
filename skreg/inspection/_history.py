"""The training-history Display: training and validation loss per epoch."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ._plotting import require_matplotlib


class TrainingHistoryDisplay:
    """Training and validation loss per epoch, with the best epoch marked.

    Create it with :meth:`from_estimator`. The losses include the weight penalty, as the
    network minimizes them. When early stopping monitored a scikit-learn scorer, its
    validation score is drawn on a second y-axis.

    Parameters
    ----------
    history : dict of str to list of float
        Per-epoch values, as a fitted estimator's ``history_``: ``"loss"`` and optionally
        ``"val_loss"`` and ``"val_<score>"``.
    best_epoch : int or None, default=None
        The epoch (counted from 1) whose weights the model kept; marked when given.
    name : str or None, default=None
        Name for the title.

    Attributes
    ----------
    ax_ : matplotlib Axes
        Axes with the loss curves.
    score_ax_ : matplotlib Axes or None
        Twin axes with the monitored validation score, when there is one.
    figure_ : matplotlib Figure
        Figure containing the curves.
    lines_ : dict of str to matplotlib Line2D
        The drawn curves by history key.
    best_line_ : matplotlib Line2D or None
        The vertical line at the best epoch.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_iris
    >>> from skreg import RegularizedMLPClassifier
    >>> from skreg.inspection import TrainingHistoryDisplay
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = RegularizedMLPClassifier((8,), max_iter=20, early_stopping=True,
    ...                                validation_fraction=0.3, random_state=0).fit(X, y)
    >>> display = TrainingHistoryDisplay.from_estimator(clf)
    >>> sorted(display.lines_)
    ['loss', 'val_loss']
    """

    def __init__(self, *, history, best_epoch=None, name=None):
        self.history = history
        self.best_epoch = best_epoch
        self.name = name

    @classmethod
    def from_estimator(cls, estimator: Any, *, ax: Any = None, name: str | None = None):
        """Plot the history of a fitted skreg estimator (or a pipeline ending in one).

        Parameters
        ----------
        estimator : RegularizedMLPClassifier, RegularizedMLPRegressor or a fitted wrapper
            The fitted estimator, or a fitted Pipeline (its last step),
            TransformedTargetRegressor (its ``regressor_``) or search (its
            ``best_estimator_``) around one.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        name : str or None, default=None
            Title; the estimator's class name when None.

        Returns
        -------
        display : TrainingHistoryDisplay
            The plotted display.
        """
        require_matplotlib(f"{cls.__name__}.from_estimator")
        model = _trained_network(estimator)
        has_validation = "val_loss" in model.history_
        display = cls(
            history=model.history_,
            best_epoch=model.best_epoch_ if has_validation else None,
            name=type(model).__name__ if name is None else name,
        )
        return display.plot(ax=ax)

    def plot(self, ax: Any = None):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.

        Returns
        -------
        display : TrainingHistoryDisplay
            This display, with ``ax_``, ``figure_`` and ``lines_`` set.
        """
        require_matplotlib(f"{type(self).__name__}.plot")
        import matplotlib.pyplot as plt

        if "loss" not in self.history:
            raise ValueError(
                "history needs the training loss per epoch under 'loss' (a fitted "
                f"estimator's history_); it has {sorted(self.history)}."
            )
        if ax is None:
            _, ax = plt.subplots()
        epochs = np.arange(1, len(self.history["loss"]) + 1)
        self.lines_ = {}
        labels = {"loss": "training loss", "val_loss": "validation loss"}
        for key, label in labels.items():
            if key in self.history:
                (self.lines_[key],) = ax.plot(epochs, self.history[key], label=label)
        self.score_ax_ = None
        scores = [k for k in self.history if k.startswith("val_") and k != "val_loss"]
        if scores:
            # On axes that hold a display already: on the score axes made the first time.
            self.score_ax_ = _score_axes(ax)
            key = scores[0]
            (self.lines_[key],) = self.score_ax_.plot(
                epochs, self.history[key], color="tab:green", label=f"validation {key[4:]}"
            )
            self.score_ax_.set_ylabel(f"validation {key[4:]}")
        self.best_line_ = None
        if self.best_epoch:
            self.best_line_ = ax.axvline(
                self.best_epoch,
                color="gray",
                linestyle="--",
                label=f"best epoch ({self.best_epoch})",
            )
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss (penalty included)")
        handles = [*ax.get_legend_handles_labels()[0]]
        if self.score_ax_ is not None:
            handles += self.score_ax_.get_legend_handles_labels()[0]
        ax.legend(handles=handles)
        if self.name:
            ax.set_title(self.name)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self


def _final_step(estimator: Any) -> Any:
    return estimator[-1] if isinstance(estimator, Pipeline) else estimator


def _trained_network(estimator: Any) -> Any:
    """The fitted skreg estimator in ``estimator``: itself, a Pipeline's last step, or the
    fitted model a TransformedTargetRegressor or a search holds."""
    current = _final_step(estimator)
    while not hasattr(current, "history_"):
        inner = next(
            (getattr(current, name) for name in _FITTED_INNER if hasattr(current, name)), None
        )
        if inner is None:
            break
        current = _final_step(inner)
    else:
        return current
    check_is_fitted(current)  # an unfitted wrapper or skreg estimator says so
    models = getattr(current, "estimators_", None)
    if models and hasattr(models[0], "history_"):  # a CV estimator's fold ensemble
        raise TypeError(
            f"{type(current).__name__}(refit='ensemble') averages {len(models)} fold models "
            "and has no training history of its own: pass one of them, such as "
            "estimators_[0], or fit it with refit=True."
        )
    raise TypeError(
        f"{type(current).__name__} has no training history: pass a fitted skreg estimator, "
        "or a Pipeline, TransformedTargetRegressor or search that holds one."
    )


# Where scikit-learn's wrappers keep their fitted estimator.
_FITTED_INNER = ("regressor_", "best_estimator_", "estimator_")


_SCORE_AXES = "skreg: validation score"  # the label of the right-hand axes a plot makes


def _score_axes(ax: Any) -> Any:
    """The right-hand axes for validation scores on ``ax``: the one an earlier plot made
    there, or a new twin (a twin per plot stacked their scales on one another)."""
    for other in ax.get_shared_x_axes().get_siblings(ax):
        if other is not ax and other.get_label() == _SCORE_AXES:
            return other
    twin = ax.twinx()
    twin.set_label(_SCORE_AXES)
    return twin
