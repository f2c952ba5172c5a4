"""What a fit leaves, and the transaction that keeps a failed fit from leaving anything."""

from __future__ import annotations

import contextvars
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._specs import NetworkState, OptimizerState, ProgramKey, ScheduleClock

# Rows that predict prepares and predicts at a time (see _predict_outputs).
PREPARE_ROWS = 65536

# Attributes of a fitted estimator; a failed fit puts back the ones it started with.
FITTED_ATTRIBUTES = (
    "n_features_in_",
    "feature_names_in_",
    "classes_",
    "n_outputs_",
    "history_",
    "loss_curve_",
    "loss_",
    "best_loss_",
    "validation_scores_",
    "best_validation_score_",
    "best_epoch_",
    "n_iter_",
    "t_",
    "_fitted",
    "_model",
)


@dataclass(frozen=True)
class Fitted:
    """The trained network and what continuing it needs, each fact once. NumPy arrays only,
    so it pickles on any backend and unpickles without one.

    The dropout rates are in the network's state, the learning rate the optimizer reached
    in its state, the run's first loss (which continued fits are checked against) in the
    estimator's ``history_``; the penalty it was trained with is here, since the estimator's
    ``l1`` and ``l2`` may change after the fit. A record made to predict with the weights
    being trained (for a scorer, during a fit) has no optimizer.
    """

    key: ProgramKey
    network: NetworkState
    optimizer: OptimizerState | None = None
    penalty: tuple[float, float] = (0.0, 0.0)
    # Where the learning-rate schedule stopped.
    clock: ScheduleClock | None = None
    # The fitted preprocessor of the input columns (skreg._tabular.TablePreprocessor).
    inputs: Any = None
    # The regressor's target scale (skreg._inputs.TargetScale), None for the classifier.
    target: Any = None

    def dense_trainable(self) -> tuple[np.ndarray, ...]:
        """The dense layers' trainable weights (after a table front's, when there is one)."""
        front = self.key.network.front
        return self.network.trainable[0 if front is None else front.n_variables :]

    def kernels(self) -> list[np.ndarray]:
        """The dense layers' weight matrices, input layer first (the only 2-D weights)."""
        return [w for w in self.dense_trainable() if w.ndim == 2]


# The network's output activation by scikit-learn's name for it (out_activation_).
_OUT_ACTIVATIONS = {"softmax": "softmax", None: "identity", "exponential": "exp"}

# Set while scikit-learn's notebook display lists the fitted attributes (it reads every
# property): model_ is then absent, not built.
_LISTING = contextvars.ContextVar("listing", default=False)


class FittedWeightsMixin:
    """The fitted weights in scikit-learn's layout, and what they say about the features."""

    def __sklearn_is_fitted__(self) -> bool:
        # Fitted once a network is stored: a first fit sets classes_ and n_features_in_
        # before it trains, and a callback looking at the estimator sees them.
        return "_fitted" in vars(self)

    @property
    def model_(self):
        """The trained network as a compiled Keras model (built on first access).

        skreg predicts and continues training from its own copy of the weights, so changing
        this model does not change the estimator.
        """
        fitted = self.__dict__.get("_fitted")
        if fitted is None or fitted.optimizer is None or _LISTING.get():
            raise AttributeError(f"{type(self).__name__!r} object has no attribute 'model_'")
        model = self.__dict__.get("_model")
        if model is None:
            from . import _engine

            model = self.__dict__["_model"] = _engine.export_model(
                fitted.key, fitted.network, fitted.penalty, fitted.optimizer
            )
        return model

    def _get_fitted_attr_html(self, doc_link=""):
        # scikit-learn's table of fitted attributes in a notebook: without model_, whose
        # Keras model would cost importing the backend (3 s in a fresh process) to show.
        token = _LISTING.set(True)
        try:
            return super()._get_fitted_attr_html(doc_link)
        finally:
            _LISTING.reset(token)

    @property
    def coefs_(self) -> list[np.ndarray]:
        """The dense layers' weight matrices, input layer first, each of shape
        ``(n_in, n_out)``: scikit-learn's layout (read-only views of the fitted weights).

        With the tabular front (periodic embeddings, the scaling layer, embedded categories:
        the defaults), the first layer reads the front's outputs, so ``coefs_[0]`` has a row
        per front output rather than per feature; ``model_.get_weights()`` holds the
        front's weights too.
        """
        return [kernel for kernel, _ in self._dense_weights()]

    def network_inputs(self, X) -> np.ndarray:
        """``X`` as the fitted network reads it: validated and preprocessed as ``predict``
        does (imputation, numeric scaling, one-hot and indicator columns, category codes).

        The input of ``model_``: ``model_.predict(est.network_inputs(X))`` gives the
        classifier's ``predict_proba(X)``, and the regressor's targets in the units the
        network learned (standardized unless ``target_scaling=False``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data, as for ``predict``.

        Returns
        -------
        M : ndarray of shape (n_samples, n_network_inputs)
            The network's input matrix (float32).
        """
        from . import _inputs

        check_is_fitted(self)
        return _inputs.matrix(self._fitted.inputs, _inputs.check(self, X, reset=False))

    def _predict_outputs(self, X) -> np.ndarray:
        """The network's outputs for the rows of ``X``, prepared and predicted
        :data:`PREPARE_ROWS` at a time (preparing copies the rows several times over: all of
        a large ``X`` at once held four copies of it); an output that is not finite raises."""
        from . import _engine, _inputs
        from ._validation import _safe_indexing

        check_is_fitted(self)
        fitted = self._fitted
        X = _inputs.check(self, X, reset=False)
        n_rows, parts = X.shape[0], []
        for start in range(0, n_rows, PREPARE_ROWS):
            rows = (
                X
                if n_rows <= PREPARE_ROWS
                else _safe_indexing(X, slice(start, start + PREPARE_ROWS))
            )
            matrix = _inputs.matrix(fitted.inputs, rows)
            outputs = _engine.predict(fitted.key, fitted.network, matrix)
            broken = ~np.isfinite(outputs).all(axis=1)
            if broken.any():
                raise ValueError(
                    f"The network's outputs are not finite for {broken.sum()} of {len(matrix)} "
                    f"rows from row {start} (the first is row {start + np.argmax(broken)}): the "
                    f"inputs reach {np.abs(matrix[broken]).max():.3g}, and the network's float32 "
                    "arithmetic overflowed. Scale the inputs as the training data were scaled."
                )
            parts.append(outputs)
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """The dense layers' bias vectors, input layer first (read-only views)."""
        return [bias for _, bias in self._dense_weights()]

    @property
    def n_layers_(self) -> int:
        """The number of layers as scikit-learn's MLPs count them: the input, each hidden
        layer and the output (``len(coefs_) + 1``; a table front is not counted)."""
        check_is_fitted(self)
        return len(self._fitted.kernels()) + 1

    @property
    def out_activation_(self) -> str:
        """The output layer's activation, named as scikit-learn's MLPs name it: ``"softmax"``
        for the classifier (also for two classes: a unit per class), ``"identity"`` for the
        regressor, ``"exp"`` for its Poisson loss."""
        check_is_fitted(self)
        return _OUT_ACTIVATIONS[self._fitted.key.network.output_activation]

    @property
    def feature_importances_(self) -> np.ndarray:
        """Importance of each input feature, from the first layer's weights.

        The L1 norm of each feature's rows of the first dense kernel (all the weights leaving
        the values made from that column: its scaled value, its missing indicator, its one-hot
        or embedded levels, its piecewise-linear or periodic features), normalized to sum
        to one. A feature whose outgoing weights are all zero has importance 0, so with ``l1``
        the network selects features, and :class:`~sklearn.feature_selection.SelectFromModel`
        keeps the ones it uses. So has a feature that held one value in every training row
        (or was missing in every one): its weights only ever acted as a bias. A numeric
        feature that held one value wherever it was not missing counts its missing
        indicator only. The numeric
        columns are scaled alike (``numeric_scaling``); with ``numeric_scaling=None``,
        compare features only on a common scale. The weights say what the first layer reads,
        not what the predictions depend on: a categorical column that enters as many values
        (an embedding's randomly started numbers, many one-hot levels) can rank above the
        column that decides the label (the user guide's "Feature importances and L1
        selection"); rank such columns with
        :func:`~sklearn.inspection.permutation_importance`.
        """
        check_is_fitted(self)
        fitted = self._fitted
        norms = np.abs(fitted.kernels()[0]).sum(axis=1).astype(np.float64)
        sources = fitted.inputs.sources_  # the input column of each column of the matrix
        inert = fitted.inputs.inert_outputs()
        front = fitted.key.network.front
        if front is not None:  # the matrix column of each value the first layer reads
            sources, inert = sources[front.sources()], inert[front.sources()]
        norms[inert] = 0.0  # one number in every row: its weights act as a bias at most
        # Padding columns have the source n_features_in_: counted, then left out.
        n = self.n_features_in_
        norms = np.bincount(sources, weights=norms, minlength=n + 1)[:n]
        norms[getattr(fitted.inputs, "still_", [])] = 0.0  # absent before 2026-12-05's fix
        total = norms.sum()
        return norms / total if total > 0 else norms

    def _dense_weights(self) -> list[tuple[np.ndarray, np.ndarray]]:
        check_is_fitted(self)
        trainable = self._fitted.dense_trainable()
        # Each dense layer holds its kernel (the only 2-D weights) and then its bias.
        pairs = [(trainable[i], trainable[i + 1]) for i, w in enumerate(trainable) if w.ndim == 2]
        return [(_read_only(kernel), _read_only(bias)) for kernel, bias in pairs]


def run_attributes(estimator, result, continuing: bool, n_train: int) -> dict[str, Any]:
    """The fitted attributes of ``estimator``'s run (``history_``, ``n_iter_``, ...) after
    this call's ``result`` (of ``n_train`` training rows); mid-call (a callback's
    ``fitted_estimator``), as if the call had stopped at its last epoch, with its weights."""
    previous = estimator.history_ if continuing else {}
    offset = len(previous.get("loss", []))
    # Every curve spans every epoch run; one this fit did not record (or an earlier fit
    # did not, as when a warm start switches early stopping on) is NaN there.
    history = {
        k: list(previous.get(k, [math.nan] * offset))
        + list(result.history.get(k, [math.nan] * result.n_epochs))
        for k in [*previous, *(k for k in result.history if k not in previous)]
    }
    if not history.get("loss"):  # a callback's copy before the first epoch: no run
        return {}
    earlier = getattr(estimator, "validation_scores_", None) if continuing else None
    earlier_scores = list(earlier) if earlier else [math.nan] * offset
    best_epoch, best_score = result.best_epoch, result.best_score
    if not best_epoch:  # mid-call
        best_epoch = result.n_epochs
        best_score = result.scores[-1] if result.scores else None
    return {
        "history_": history,
        "loss_curve_": history["loss"],
        # As in scikit-learn's MLPs: the last epoch's loss, and the lowest one unless
        # early stopping chose the epoch by its validation score.
        "loss_": history["loss"][-1],
        "best_loss_": None if result.scores else float(np.nanmin(history["loss"])),
        "n_iter_": (estimator.n_iter_ if continuing else 0) + result.n_epochs,
        # As scikit-learn's MLPs: the training rows seen, over every fit continued.
        "t_": (getattr(estimator, "t_", 0) if continuing else 0) + result.n_epochs * n_train,
        "best_epoch_": offset + best_epoch,
        # Per epoch over every fit continued, as loss_curve_ (and scikit-learn's list).
        "validation_scores_": earlier_scores + list(result.scores) if result.scores else None,
        "best_validation_score_": best_score if result.scores else None,
    }


@contextmanager
def restore_on_failure(
    estimator: Any, fitted: Callable[[str], bool] = FITTED_ATTRIBUTES.__contains__
) -> Iterator[None]:
    """Put back the fitted attributes (the names ``fitted`` accepts) if the block raises.

    Training works on copies of the state and stores it only once it succeeded, so restoring
    the attributes leaves a previously fitted estimator as it was.
    """
    saved = {k: v for k, v in vars(estimator).items() if fitted(k)}
    try:
        yield
    except BaseException:
        for k in [k for k in vars(estimator) if fitted(k)]:
            del estimator.__dict__[k]
        estimator.__dict__.update(saved)
        raise


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view
