"""Shared estimator base: parameters, constraints, fit/predict orchestration, tags."""

from __future__ import annotations

import copy
import inspect
import math
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import _backend
from ._state import NetworkSpec, NetworkState, OptimizerState, ProgramKey, dropout_rates
from ._training import (
    SCHEDULES,
    EarlyStopping,
    EpochHooks,
    LearningRateSchedule,
    ScheduleClock,
    TrainingSchedule,
    Validation,
    check_loss,
)
from ._validation import CallbackSupportMixin, Interval, InvalidParameterError, StrOptions
from .augmentation import Augmentation, plan_augmentation

_OPTIMIZERS = {"adam", "adamw", "nadam", "rmsprop", "sgd", "adagrad"}
# scikit-learn >= 1.8 refuses all-zero weights itself, without naming sample_weight; skreg
# says it in its own words on every version.
_ZERO_WEIGHTS_OK = (
    {"allow_all_zero_weights": True}
    if "allow_all_zero_weights" in inspect.signature(_check_sample_weight).parameters
    else {}
)
# scikit-learn's activation names, as skreg (Keras) spells them.
_ACTIVATION_ALIASES = {"logistic": "sigmoid", "identity": "linear"}
# Arguments of scikit-learn's MLPClassifier and MLPRegressor that skreg does not take, and
# what to use instead (the user guide's migration table says the same).
SKLEARN_ONLY = {
    "alpha": "l2 (l2 = skreg.regularizers.l2_from_sklearn_alpha(alpha, batch_size, ...) gives "
    "the same penalty)",
    "solver": "optimizer ('adam', 'sgd', 'rmsprop', ...; there is no 'lbfgs')",
    "learning_rate_init": "learning_rate, which is the step size itself",
    "momentum": "optimizer='sgd' (Keras' SGD, without momentum) or optimizer='adam'",
    "nesterovs_momentum": "optimizer='nadam' for Nesterov-accelerated Adam",
    **dict.fromkeys(
        ("beta_1", "beta_2", "epsilon"),
        "nothing: optimizer='adam' uses Keras' defaults (beta_1=0.9, beta_2=0.999, epsilon=1e-7)",
    ),
    "max_fun": "nothing: it only applies to solver='lbfgs', which skreg does not have",
}
_SKLEARN_SCHEDULES = {"constant", "invscaling", "adaptive"}
# Features or targets beyond this magnitude are named as the likely cause of a divergence:
# the network's initial weights are scaled for inputs of order 1, and standardized data stay
# within a few units.
_LARGE_VALUE = 10.0
# Penalty coefficients from this one up are named first: the penalty then outweighs any data
# loss (useful values lie between 1e-6 and 1e-1), and at l2=1e30 its gradient overflows
# float32 (Adam's squared gradients reach 1e60) and the weights become NaN.
_LARGE_PENALTY = 1.0
# The divergence check after a one-epoch call looks at the loss on this many training rows.
_PROBE_ROWS = 512

# Attributes of a fitted estimator; a failed fit puts back the ones it started with.
_FITTED_ATTRIBUTES = (
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


class _BaseRegularizedMLP(CallbackSupportMixin, BaseEstimator):
    """Multilayer perceptron trained by Keras, with the regularization toolbox as parameters.

    Subclasses say how targets become network outputs (``_encode_targets``), which loss and
    output activation to use, and how outputs become predictions.
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [
            StrOptions(
                {"relu", "tanh", "sigmoid", "elu", "selu", "gelu", "silu", "linear"}
                | set(_ACTIVATION_ALIASES)
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
    _loss: str  # the name of a loss in skreg._network.LOSSES

    def __new__(cls, *args, **kwargs):
        # A scikit-learn MLP argument gets its skreg equivalent, not just "unexpected keyword".
        _refuse_sklearn_only(cls, kwargs, TypeError)
        return super().__new__(cls)

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
        """Validate, train and, only once training succeeded, store the fitted state."""
        continuing = (incremental or self.warm_start) and hasattr(self, "_fitted")
        given = (X, y, sample_weight)  # as the user passed them, for scikit-learn's callbacks
        with _restore_on_failure(self):
            X, y = validate_data(
                self, X, y, reset=not continuing, dtype=np.float32, **self._y_checks()
            )
            Y = self._encode_targets(y, continuing=continuing, classes=classes)
            sample_weight = self._sample_weight(X, y, sample_weight, incremental=incremental)
            augmentation = plan_augmentation(self.augmentation, X.shape[1])
            seeds = np.random.SeedSequence(check_random_state(self.random_state).randint(2**31))
            network_seeds, split_seeds, training_seeds = seeds.spawn(3)
            key = ProgramKey(
                self._network_spec(X.shape[1], Y.shape[1]),
                self.optimizer,
                self._loss,
                augmentation.kinds,
            )
            rates = dropout_rates(self.dropout, len(key.network.hidden_layer_sizes))
            rows = self._train_validation_rows(y, sample_weight, split_seeds, incremental)
            validation = self._validation(X, y, rows) if "validation" in rows else None
            engine = _backend.engine()
            network, optimizer = self._start(engine, key, rates, network_seeds, continuing)
            schedule = self._schedule(incremental, len(rows["train"]))
            callbacks = _FitCallbacks.start(self, *given, schedule.epochs, incremental)
            request = engine.TrainingRequest(
                key=key,
                network=network,
                optimizer=optimizer,
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
                clock=self._clock(incremental, continuing),
                make_hooks=callbacks.epoch_hooks if callbacks.per_epoch else None,
                reference_loss=getattr(self._fitted, "first_loss", None) if continuing else None,
            )
            try:
                outcome = engine.fit(request)
                self._check_trained(outcome, key, X[rows["train"]], Y[rows["train"]],
                                    request.train_weights, request.reference_loss)  # fmt: skip
            except FloatingPointError as error:
                raise FloatingPointError(f"{error} {self._divergence_advice(X, Y)}") from None
            self._store_result(key, rates, outcome, continuing, len(rows["train"]))
        callbacks.finish()
        return self

    def _predict_outputs(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float32)
        live = self.__dict__.get("_live_predict")
        if live is not None:  # a view made while training (for scorers)
            return live(X)
        fitted = self._fitted
        outputs = _backend.engine().predict(fitted.key, fitted.network, X)
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
        if fitted is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute 'model_'")
        model = self.__dict__.get("_model")
        if model is None:
            model = self.__dict__["_model"] = _backend.engine().export_model(
                fitted.key.network,
                fitted.network,
                fitted.dropout,
                fitted.penalty,
                fitted.key.loss,
                (fitted.optimizer.name, fitted.learning_rate, fitted.optimizer.values),
            )
        return model

    @property
    def coefs_(self) -> list[np.ndarray]:
        """The dense layers' weight matrices, input layer first, each of shape
        ``(n_in, n_out)``: scikit-learn's layout (read-only views of the fitted weights)."""
        return [kernel for kernel, _ in self._dense_weights()]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """The dense layers' bias vectors, input layer first (read-only views)."""
        return [bias for _, bias in self._dense_weights()]

    def _dense_weights(self) -> list[tuple[np.ndarray, np.ndarray]]:
        check_is_fitted(self)
        trainable = self._fitted.network.trainable
        # Each dense layer holds its kernel (the only 2-D weights) and then its bias.
        pairs = [(trainable[i], trainable[i + 1]) for i, w in enumerate(trainable) if w.ndim == 2]
        return [(_read_only(kernel), _read_only(bias)) for kernel, bias in pairs]

    @property
    def feature_importances_(self) -> np.ndarray:
        """Importance of each input feature, from the first layer's weights.

        The L1 norm of each feature's row of the first dense kernel (all the weights leaving
        that input), normalized to sum to 1. A feature whose outgoing weights are all zero
        has importance 0, so with ``l1`` the network selects features, and
        :class:`~sklearn.feature_selection.SelectFromModel` keeps the ones it uses. Compare
        features only on a common scale (standardize them first).
        """
        check_is_fitted(self)
        kernel = self._fitted.network.trainable[0]  # hidden_0's kernel comes first
        norms = np.abs(kernel).sum(axis=1).astype(np.float64)
        total = norms.sum()
        return norms / total if total > 0 else norms

    def set_params(self, **params):
        _refuse_sklearn_only(type(self), params, ValueError)
        return super().set_params(**params)

    def _validate_params(self):
        if isinstance(self.learning_rate, str) and self.learning_rate in _SKLEARN_SCHEDULES:
            raise InvalidParameterError(
                f"learning_rate={self.learning_rate!r} is a scikit-learn schedule name. skreg's "
                "learning_rate is the step size itself (scikit-learn's learning_rate_init), "
                "and the schedule is learning_rate_schedule: pass learning_rate=1e-3, "
                f"learning_rate_schedule={self.learning_rate!r}."
            )
        super()._validate_params()

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
            activation=_ACTIVATION_ALIASES.get(self.activation, self.activation),
            output_activation=self._output_activation,
            batch_normalization=bool(self.batch_normalization),
        )

    def _start(self, engine, key, rates, seeds, continuing):
        """The state this fit starts from: fresh and seeded, or the fitted one when continuing.

        Continuing keeps the weights and, for the same optimizer, its state (so changing the
        penalties, dropout or augmentation on a warm start loses no momentum).
        """
        with engine.PROGRAMS.lease(key) as program:
            template = program.network
        if not continuing:
            return engine.initial_state(template, rates, seeds), None
        fitted = self._fitted
        if not key.network.same_weights_as(fitted.key.network):
            raise ValueError(
                "warm_start and partial_fit continue the fitted network, but the new parameters "
                "change the shapes of its weights. Set warm_start=False to train a new network."
            )
        optimizer = fitted.optimizer if fitted.optimizer.name == key.optimizer else None
        return engine.with_dropout(template, fitted.network, rates), optimizer

    def _train_validation_rows(self, y, sample_weight, seeds, incremental):
        """Indices of the training rows and, with early stopping, of the validation rows.

        The classifier's split is stratified when every class can have a row on both sides;
        otherwise (many classes, few rows) it is a plain random split, as scikit-learn's
        MLPClassifier always does for more than two classes.
        """
        rows = np.arange(len(y))
        if not self.early_stopping or incremental:
            return {"train": rows}
        n_validation = math.ceil(self.validation_fraction * len(y))
        if n_validation < 2 or n_validation >= len(y):
            side = "the validation set" if n_validation < 2 else "the training set"
            raise ValueError(
                f"Early stopping cannot split {len(y)} rows with validation_fraction="
                f"{self.validation_fraction}: {side} would have "
                f"{min(n_validation, len(y) - n_validation)} row(s) and needs at least "
                f"{2 if n_validation < 2 else 1}. Change validation_fraction, give more rows, "
                "or set early_stopping=False."
            )
        stratify = None
        if self._stratify_validation:
            counts = np.unique(y, return_counts=True)[1]
            if counts.min() >= 2 and len(counts) <= min(n_validation, len(y) - n_validation):
                stratify = y
        train, validation = train_test_split(
            rows,
            test_size=n_validation,
            random_state=int(seeds.generate_state(1)[0]),
            stratify=stratify,
        )
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
        batch_size = 200 if self.batch_size == "auto" else self.batch_size
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
            batch_size=batch_size,
            shuffle=self.shuffle,
            early_stopping=stopping,
            verbose=self.verbose,
            learning_rate=learning_rate,
        )

    def _clock(self, incremental, continuing) -> ScheduleClock | None:
        """Where the learning-rate schedule starts: anew on a new fit; where it stopped on
        ``partial_fit``; on ``warm_start``, a new run that keeps the rows seen (``t_``, so
        "invscaling" goes on decaying, as in scikit-learn)."""
        if not continuing:
            return None
        samples = getattr(self, "t_", 0)
        clock = getattr(self._fitted, "clock", None)
        if not incremental or clock is None:
            return ScheduleClock.start(samples)
        return clock._replace(samples=np.float32(samples))

    def _validation(self, X, y, rows):
        """Per-epoch validation: loss, and the scorer's value when ``scoring`` names one."""
        if self.scoring == "loss":
            return lambda predict: Validation(lambda val_loss: ({"val_loss": val_loss}, -val_loss))
        scorer = check_scoring(self, scoring=self.scoring)
        name = "score" if callable(self.scoring) else self.scoring
        X_val, y_val = X[rows["validation"]], y[rows["validation"]]
        description = f"scoring={self.scoring!r} on the {len(y_val)} validation rows"
        if not callable(self.scoring):
            self._check_scorer(scorer, X, y, X_val, y_val)

        def make_validation(predict):
            def score(val_loss):
                try:
                    value = float(scorer(self._fitted_view(predict), X_val, y_val))
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

    def _fitted_view(self, predict):
        """A shallow copy that predicts with the network being trained (for scorers)."""
        view = copy.copy(self)
        view._live_predict = predict
        # The scorer gets the validated validation rows, a NumPy array without column names.
        view.__dict__.pop("feature_names_in_", None)
        return view

    def _check_trained(self, outcome, key, X, Y, weights, reference):
        """Raise ``FloatingPointError`` if the trained weights show divergence.

        A call of one epoch (``partial_fit``, ``max_iter=1``) measured its loss before its
        steps only, so the loss after them is checked too, on the first training rows.
        """
        state = outcome.network
        if not all(np.isfinite(w).all() for w in (*state.trainable, *state.non_trainable)):
            raise FloatingPointError("Training diverged: the trained weights are not finite.")
        result = outcome.result
        if result.n_epochs != 1:
            return
        rows = slice(0, _PROBE_ROWS)
        penalty = (float(self.l1), float(self.l2))
        loss = _backend.engine().loss(key, state, X[rows], Y[rows], weights[rows], penalty)
        first = result.history["loss"][0] if reference is None else reference
        check_loss(loss, "after the epoch's last step", first)

    def _divergence_advice(self, X, Y) -> str:
        """The likely cause of a divergence, and its fix."""
        rate = f"lower learning_rate (now {self.learning_rate:g})"
        target, features = float(np.abs(Y).max()), float(np.abs(X).max())
        if max(self.l1, self.l2) >= _LARGE_PENALTY:
            return (
                f"The penalty is extreme (l1={self.l1:g}, l2={self.l2:g}): it outweighs the data "
                "loss and its gradient overflows float32; lower l1 and l2 (useful values lie "
                f"between 1e-6 and 1e-1), or {rate}."
            )
        if target > _LARGE_VALUE:  # only a regression target gets this large
            return f"The target reaches {target:.3g}: {self._target_scaling()}, or {rate}."
        if features > _LARGE_VALUE:
            return (
                f"The features reach {features:.3g}: scale them, for example with "
                f"StandardScaler, or {rate}."
            )
        return f"{rate[0].upper()}{rate[1:]}, or look for extreme sample or class weights."

    def _target_scaling(self) -> str:
        """How to scale a target that is too large to train on."""
        return (
            "scale it, for example with "
            "TransformedTargetRegressor(regressor, transformer=StandardScaler())"
        )

    def _store_result(self, key, rates, outcome, continuing, n_train):
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
        self._fitted = _Fitted(
            key=key,
            network=outcome.network,
            optimizer=outcome.optimizer,
            dropout=rates,
            penalty=(float(self.l1), float(self.l2)),
            learning_rate=float(self.learning_rate),
            clock=outcome.clock,
            first_loss=(
                self._fitted.first_loss
                if continuing and getattr(self._fitted, "first_loss", None) is not None
                else result.history["loss"][0]
            ),
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
        self.t_ = (getattr(self, "t_", 0) if continuing else 0) + result.n_epochs * n_train
        self.best_epoch_ = offset + result.best_epoch
        if result.scores:
            self.validation_scores_ = result.scores
            self.best_validation_score_ = result.best_score
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None


def _refuse_sklearn_only(cls, params: dict, error: type[Exception]) -> None:
    names = [name for name in params if name in SKLEARN_ONLY]
    if names:
        uses = "; ".join(f"instead of {name}, use {SKLEARN_ONLY[name]}" for name in names)
        raise error(
            f"{cls.__name__} does not take scikit-learn's MLP argument(s) "
            f"{', '.join(map(repr, names))}: {uses}. See the migration table in the user guide."
        )


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


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


@dataclass(frozen=True)
class _Fitted:
    """What a fit leaves: the program key, the weights, the optimizer state and the settings
    the exported ``model_`` shows. NumPy arrays only, so it pickles on any backend."""

    key: ProgramKey
    network: NetworkState
    optimizer: OptimizerState
    dropout: tuple[float, ...]
    penalty: tuple[float, float]
    learning_rate: float
    # Where the learning-rate schedule stopped (None in estimators pickled before schedules).
    clock: ScheduleClock | None = None
    # The training loss of the run's first epoch, which continued fits are checked against.
    first_loss: float | None = None


class _FitCallbacks:
    """scikit-learn's callbacks (``sklearn.callback``, scikit-learn >= 1.9) around one fit.

    The fit is the root task and each epoch a subtask, so ``ProgressBar`` counts epochs and
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
    def start(cls, estimator, X, y, sample_weight, epochs, incremental) -> _FitCallbacks:
        if not hasattr(estimator, "_init_callback_context"):
            return cls()
        return cls(estimator, (X, y, sample_weight), epochs, incremental)

    def epoch_hooks(self, predict) -> EpochHooks:
        """The per-epoch hooks, given the function predicting with the weights in training."""
        epoch_context = []

        def reconstruct():
            return {"_live_predict": predict}

        def begin(epoch):
            epoch_context[:] = [self.context.subcontext(task_name="epoch")]
            epoch_context[0].call_on_fit_task_begin(
                estimator=self.estimator, reconstruction_attributes=reconstruct, **self.arguments
            )

        def end(epoch):
            return epoch_context[0].call_on_fit_task_end(
                estimator=self.estimator, reconstruction_attributes=reconstruct, **self.arguments
            )

        return EpochHooks(begin, end)

    def finish(self) -> None:
        """End the fit's task; the estimator itself is now the fitted estimator."""
        if self.estimator is not None:
            self.context.call_on_fit_task_end(
                estimator=self.estimator, reconstruction_attributes={}, **self.arguments
            )


@contextmanager
def _restore_on_failure(estimator):
    """Put back the fitted attributes if the block raises.

    Training works on copies of the state and stores it only once it succeeded, so restoring
    the attributes leaves a previously fitted estimator as it was.
    """
    saved = {k: estimator.__dict__[k] for k in _FITTED_ATTRIBUTES if k in estimator.__dict__}
    try:
        yield
    except BaseException:
        for k in _FITTED_ATTRIBUTES:
            estimator.__dict__.pop(k, None)
        estimator.__dict__.update(saved)
        raise
