"""The estimator recipe shared by the classifier and the regressor: validate the input,
describe the fit, hand it to the engine, store what it returns."""

from __future__ import annotations

import copy
import inspect
import math
import warnings
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import _engine
from ._callbacks import FitCallbacks
from ._divergence import check_trained, divergence_advice
from ._fitted import Fitted, FittedWeightsMixin, restore_on_failure
from ._migration import ACTIVATION_ALIASES, MigrationMixin
from ._specs import (
    SCHEDULES,
    Continue,
    EarlyStopping,
    Fresh,
    LearningRateSchedule,
    NetworkSpec,
    ProgramKey,
    ScheduleClock,
    TrainingOutcome,
    TrainingRequest,
    TrainingSchedule,
    Validation,
    dropout_rates,
    seed_sequence,
)
from ._validation import CallbackSupportMixin, Interval, StrOptions
from .augmentation import Augmentation, plan_augmentation

_OPTIMIZERS = {"adam", "adamw", "nadam", "rmsprop", "sgd", "adagrad"}
# scikit-learn >= 1.8 refuses all-zero weights itself, without naming sample_weight; skreg
# says it in its own words on every version.
_ZERO_WEIGHTS_OK = (
    {"allow_all_zero_weights": True}
    if "allow_all_zero_weights" in inspect.signature(_check_sample_weight).parameters
    else {}
)


class _BaseRegularizedMLP(FittedWeightsMixin, MigrationMixin, CallbackSupportMixin, BaseEstimator):
    """Multilayer perceptron trained by Keras, with the regularization toolbox as parameters.

    Subclasses say how targets become network outputs (``_encode_targets``), which loss and
    output activation to use, and how outputs become predictions.
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [
            StrOptions(
                {"relu", "tanh", "sigmoid", "elu", "selu", "gelu", "silu", "linear"}
                | set(ACTIVATION_ALIASES)
            )
        ],
        "l1": [Interval(Real, 0, None, closed="left")],
        "l2": [Interval(Real, 0, None, closed="left")],
        "dropout": ["array-like", Interval(Real, 0, 1, closed="left")],
        "batch_normalization": ["boolean"],
        "augmentation": [None, Augmentation, list, tuple],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "scoring": [StrOptions({"loss"} | set(get_scorer_names())), callable],
        "optimizer": [StrOptions(_OPTIMIZERS)],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "learning_rate_schedule": [StrOptions(set(SCHEDULES))],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    _output_activation: str | None = None
    _loss: str  # the name of a loss in skreg._engine._network.LOSSES

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        *,
        activation="relu",
        l1=0.0,
        l2=0.0,
        dropout=0.0,
        batch_normalization=False,
        augmentation=None,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=2e-3,
        scoring="loss",
        optimizer="adam",
        learning_rate=1e-3,
        learning_rate_schedule="constant",
        power_t=0.5,
        batch_size="auto",
        max_iter=200,
        shuffle=True,
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.l1 = l1
        self.l2 = l2
        self.dropout = dropout
        self.batch_normalization = batch_normalization
        self.augmentation = augmentation
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.scoring = scoring
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.learning_rate_schedule = learning_rate_schedule
        self.power_t = power_t
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    def _fit(self, X, y, sample_weight=None, *, incremental=False, classes=None):
        """Validate, describe the fit, train and, only once training succeeded, store."""
        continuing = (incremental or self.warm_start) and hasattr(self, "_fitted")
        given = (X, y, sample_weight)  # as the user passed them, for scikit-learn's callbacks
        with restore_on_failure(self):
            X, y = validate_data(
                self, X, y, reset=not continuing, dtype=np.float32, **self._y_checks()
            )
            Y = self._encode_targets(y, continuing=continuing, classes=classes)
            sample_weight = self._sample_weight(X, y, sample_weight, incremental=incremental)
            callbacks, request = self._describe(X, y, Y, sample_weight, given, incremental,
                                                continuing)  # fmt: skip
            outcome = self._train(request)
            self._store_result(request, outcome, continuing)
        callbacks.finish()
        return self

    def _describe(self, X, y, Y, sample_weight, given, incremental, continuing):
        """The fit as a request to the engine, and scikit-learn's callbacks around it."""
        network_seeds, split_seeds, training_seeds = seed_sequence(self.random_state).spawn(3)
        augmentation = plan_augmentation(self.augmentation, X.shape[1])
        spec = self._network_spec(X.shape[1], Y.shape[1])
        key = ProgramKey(spec, self.optimizer, self._loss, augmentation.kinds)
        rows = self._train_validation_rows(y, sample_weight, split_seeds, incremental)
        schedule = self._schedule(incremental, len(rows["train"]))
        callbacks = FitCallbacks.start(self, *given, schedule.epochs, incremental)
        validation = self._validation(key, X, y, rows) if "validation" in rows else None
        return callbacks, TrainingRequest(
            key=key,
            start=self._start(key, network_seeds, continuing),
            dropout=dropout_rates(self.dropout, len(spec.hidden_layer_sizes)),
            learning_rate=float(self.learning_rate),
            penalty=(float(self.l1), float(self.l2)),
            X=X,
            Y=Y,
            train_rows=rows["train"],
            train_weights=sample_weight[rows["train"]],
            schedule=schedule,
            seeds=training_seeds,
            augmentation=augmentation,
            validation_rows=rows.get("validation"),
            validation_weights=rows.get("validation_weights"),
            make_validation=validation,
            make_hooks=callbacks.hooks(lambda network: Fitted(key, network)),
            clock=self._clock(incremental, continuing),
            reference_loss=self.history_["loss"][0] if continuing else None,
        )

    def _predict_outputs(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float32)
        outputs = _engine.predict(self._fitted.key, self._fitted.network, X)
        broken = ~np.isfinite(outputs).all(axis=1)
        if broken.any():
            raise ValueError(
                f"The network's outputs are not finite for {broken.sum()} of {len(X)} rows "
                f"(the first is row {np.argmax(broken)}): the inputs reach "
                f"{np.abs(X[broken]).max():.3g}, and the network's float32 arithmetic "
                "overflowed. Scale the inputs as the training data were scaled."
            )
        return outputs

    @property
    def model_(self):
        """The trained network as a compiled Keras model (built on first access).

        skreg predicts and continues training from its own copy of the weights, so changing
        this model does not change the estimator.
        """
        fitted = self.__dict__.get("_fitted")
        if fitted is None or fitted.optimizer is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute 'model_'")
        model = self.__dict__.get("_model")
        if model is None:
            model = self.__dict__["_model"] = _engine.export_model(
                fitted.key, fitted.network, fitted.penalty, fitted.optimizer
            )
        return model

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = self.random_state is None
        return tags

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_model", None)  # rebuilt from _fitted on access
        return state

    # Private helpers, in call order.

    def _y_checks(self) -> dict[str, Any]:
        return {}

    def _sample_weight(self, X, y, sample_weight, *, incremental):
        # Negative weights would make training maximize those rows' loss.
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float32, ensure_non_negative=True, **_ZERO_WEIGHTS_OK
        )
        _require_some_weight(sample_weight, "sample_weight")
        return sample_weight

    def _network_spec(self, n_features, n_outputs) -> NetworkSpec:
        return NetworkSpec(
            n_features=n_features,
            n_outputs=n_outputs,
            hidden_layer_sizes=_hidden_layer_sizes(self.hidden_layer_sizes),
            activation=ACTIVATION_ALIASES.get(self.activation, self.activation),
            output_activation=self._output_activation,
            batch_normalization=bool(self.batch_normalization),
        )

    def _train_validation_rows(self, y, sample_weight, seeds, incremental):
        """Indices of the training rows and, with early stopping, of the validation rows."""
        rows = np.arange(len(y))
        if not self.early_stopping or incremental:
            return {"train": rows}
        strata = y if self._stratify_validation else None
        train, validation = _split(y, strata, self.validation_fraction, seeds)
        _require_some_weight(
            sample_weight[train],
            "The training rows' weights",
            "(the non-zero weights all fell in the early-stopping validation split; change "
            "validation_fraction or random_state)",
        )
        if self.scoring == "loss":
            _require_some_weight(
                sample_weight[validation],
                "The early-stopping validation rows' weights",
                "(the validation loss is a weighted mean; change validation_fraction or "
                "random_state, or monitor a scorer, which ignores weights)",
            )
        return {
            "train": train,
            "validation": validation,
            "validation_weights": sample_weight[validation],
        }

    def _schedule(self, incremental, n_train) -> TrainingSchedule:
        stopping = None
        if self.early_stopping and not incremental:
            stopping = EarlyStopping(patience=self.n_iter_no_change, tol=self.tol)
        learning_rate = LearningRateSchedule(
            name=self.learning_rate_schedule,
            learning_rate=float(self.learning_rate),
            power_t=float(self.power_t),
            patience=self.n_iter_no_change,
            tol=float(self.tol),
            horizon=self.max_iter,
            n_train=n_train,
        )
        return TrainingSchedule(
            epochs=1 if incremental else self.max_iter,
            batch_size=200 if self.batch_size == "auto" else self.batch_size,
            shuffle=self.shuffle,
            early_stopping=stopping,
            verbose=self.verbose,
            learning_rate=learning_rate,
        )

    def _start(self, key, seeds, continuing) -> Fresh | Continue:
        """Fresh weights, or the fitted ones when continuing (with, for the same optimizer,
        its state: changing the penalties, dropout or augmentation on a warm start loses no
        momentum)."""
        if not continuing:
            return Fresh(seeds)
        fitted = self._fitted
        if not key.network.same_weights_as(fitted.key.network):
            raise ValueError(
                "warm_start and partial_fit continue the fitted network, but the new parameters "
                "change the shapes of its weights. Set warm_start=False to train a new network."
            )
        same = fitted.optimizer is not None and fitted.optimizer.name == key.optimizer
        return Continue(fitted.network, fitted.optimizer if same else None)

    def _validation(self, key, X, y, rows):
        """Per-epoch validation: loss, and the scorer's value when ``scoring`` names one."""
        if self.scoring == "loss":
            return lambda current: Validation(lambda val_loss: ({"val_loss": val_loss}, -val_loss))
        scorer = check_scoring(self, scoring=self.scoring)
        name = "score" if callable(self.scoring) else self.scoring
        X_val, y_val = X[rows["validation"]], y[rows["validation"]]
        description = f"scoring={self.scoring!r} on the {len(y_val)} validation rows"
        if not callable(self.scoring):
            self._check_scorer(scorer, X, y, X_val, y_val)

        def make_validation(current):
            def score(val_loss):
                view = self._fitted_view(Fitted(key, current()))
                try:
                    value = float(scorer(view, X_val, y_val))
                except (ValueError, TypeError) as error:
                    raise _scoring_error(self, error) from error
                return {"val_loss": val_loss, f"val_{name}": value}, value

            return Validation(score, uses_weights=True, name=description)

        return make_validation

    def _check_scorer(self, scorer, X, y, X_val, y_val):
        """Fail before training if the named scorer cannot score this task's predictions.

        A constant baseline (scikit-learn's dummy estimator for the task) stands in for the
        network: a scorer that fails on it (``"accuracy"`` for a regressor, ``"roc_auc"`` for
        three classes) would fail at the first epoch.
        """
        baseline = self._baseline().fit(X, y)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                scorer(baseline, X_val, y_val)
        except (ValueError, TypeError, AttributeError) as error:
            raise _scoring_error(self, error) from None

    def _fitted_view(self, fitted: Fitted):
        """A shallow copy that predicts with ``fitted``, the network being trained."""
        view = copy.copy(self)
        view._fitted = fitted
        view.__dict__.pop("_model", None)
        # The scorer gets the validated validation rows, a NumPy array without column names.
        view.__dict__.pop("feature_names_in_", None)
        return view

    def _clock(self, incremental, continuing) -> ScheduleClock | None:
        """Where the learning-rate schedule starts: anew on a new fit; where it stopped on
        ``partial_fit``; on ``warm_start``, a new run that keeps the rows seen (``t_``, so
        "invscaling" goes on decaying, as in scikit-learn)."""
        if not continuing:
            return None
        samples = getattr(self, "t_", 0)
        clock = self._fitted.clock
        if not incremental or clock is None:
            return ScheduleClock.start(samples)
        return clock._replace(samples=np.float32(samples))

    def _train(self, request: TrainingRequest) -> TrainingOutcome:
        """The engine's training, checked for divergence, which names its likely cause."""
        try:
            outcome = _engine.fit(request)
            check_trained(request, outcome)
        except FloatingPointError as error:
            advice = divergence_advice(self, request.X, request.Y)
            raise FloatingPointError(f"{error} {advice}") from None
        return outcome

    def _target_scaling(self) -> str:
        """How to scale a target that is too large to train on."""
        return (
            "scale it, for example with "
            "TransformedTargetRegressor(regressor, transformer=StandardScaler())"
        )

    def _store_result(self, request, outcome, continuing):
        result = outcome.result
        previous = self.history_ if continuing else {}
        offset = len(previous.get("loss", []))
        # Every curve spans every epoch run; one this fit did not record (or an earlier fit
        # did not, as when a warm start switches early stopping on) is NaN there.
        history = {
            k: list(previous.get(k, [math.nan] * offset))
            + list(result.history.get(k, [math.nan] * result.n_epochs))
            for k in [*previous, *(k for k in result.history if k not in previous)]
        }
        self._fitted = Fitted(
            request.key, outcome.network, outcome.optimizer, request.penalty, outcome.clock
        )
        self.__dict__.pop("_model", None)
        self.history_ = history
        self.loss_curve_ = history["loss"]
        # As in scikit-learn's MLPs: the last epoch's loss, and the lowest one unless early
        # stopping chose the epoch by its validation score.
        self.loss_ = history["loss"][-1]
        self.best_loss_ = None if result.scores else float(np.nanmin(history["loss"]))
        self.n_iter_ = (self.n_iter_ if continuing else 0) + result.n_epochs
        # As scikit-learn's MLPs: the training rows seen, over every fit continued.
        n_train = len(request.train_rows)
        self.t_ = (getattr(self, "t_", 0) if continuing else 0) + result.n_epochs * n_train
        self.best_epoch_ = offset + result.best_epoch
        if result.scores:
            self.validation_scores_ = result.scores
            self.best_validation_score_ = result.best_score
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None


def _split(y, strata, fraction, seeds) -> tuple[np.ndarray, np.ndarray]:
    """Early stopping's seeded split of the rows into training and validation indices.

    Stratified by ``strata`` (the classifier's labels) when every class can have a row on
    both sides; otherwise (many classes, few rows) a plain random split, as scikit-learn's
    MLPClassifier always does for more than two classes.
    """
    n_validation = math.ceil(fraction * len(y))
    if n_validation < 2 or n_validation >= len(y):
        side = "the validation set" if n_validation < 2 else "the training set"
        raise ValueError(
            f"Early stopping cannot split {len(y)} rows with validation_fraction={fraction}: "
            f"{side} would have {min(n_validation, len(y) - n_validation)} row(s) and needs "
            f"at least {2 if n_validation < 2 else 1}. Change validation_fraction, give more "
            "rows, or set early_stopping=False."
        )
    stratify = None
    if strata is not None:
        counts = np.unique(strata, return_counts=True)[1]
        if counts.min() >= 2 and len(counts) <= min(n_validation, len(y) - n_validation):
            stratify = strata
    return train_test_split(
        np.arange(len(y)),
        test_size=n_validation,
        random_state=int(seeds.generate_state(1)[0]),
        stratify=stratify,
    )


def _scoring_error(estimator, error: Exception) -> ValueError:
    return ValueError(
        f"scoring={estimator.scoring!r} cannot score a {type(estimator).__name__}'s "
        f"predictions for early stopping: {error}"
    )


def _require_some_weight(weights: np.ndarray, what: str, why: str = "") -> None:
    if not np.any(weights > 0):
        reason = f" {why}" if why else ""
        raise ValueError(f"{what} must contain at least one non-zero number{reason}.")


def _hidden_layer_sizes(hidden_layer_sizes) -> tuple[int, ...]:
    sizes = np.atleast_1d(np.asarray(hidden_layer_sizes))
    if sizes.ndim != 1 or not np.issubdtype(sizes.dtype, np.integer) or np.any(sizes < 1):
        raise ValueError(
            "hidden_layer_sizes must be a positive integer or a sequence of positive integers; "
            f"got {hidden_layer_sizes!r}."
        )
    return tuple(int(s) for s in sizes)
