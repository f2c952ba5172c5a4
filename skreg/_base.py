"""The estimator recipe shared by the classifier and the regressor: validate the input,
describe the fit, hand it to the engine, store what it returns."""

from __future__ import annotations

import copy
import functools
import inspect
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.utils.validation import _check_sample_weight

from . import _engine, _inputs
from ._callbacks import FitCallbacks
from ._divergence import check_float32_settings, check_trained, divergence_advice
from ._fitted import Fitted, FittedWeightsMixin, restore_on_failure, run_attributes
from ._migration import ACTIVATION_ALIASES, MigrationMixin
from ._specs import (
    ACTIVATIONS,
    PROBE_ROWS,
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
    early_stopping_mode,
    hidden_layer_sizes,
    patience_rule,
    schedule_name,
    seed_sequence,
)
from ._training import (
    require_some_weight,
    scorer_failure,
    scoring_error,
    split_weighted_rows,
    step_rows,
    unit_scale,
    validation_size,
    weighted,
)
from ._validation import (
    CallbackSupportMixin,
    Interval,
    StrOptions,
    _safe_indexing,
    scorer_accepts_sample_weight,
)
from .augmentation import Augmentation, plan_augmentation

# early_stopping="auto" holds out a validation split and keeps the best epoch from this many
# rows (benchmarks/bench_tabular.py); below, every row trains and the last epoch is kept.
AUTO_BEST_EPOCH_ROWS = 100

_OPTIMIZERS = {"adam", "adamw", "nadam", "rmsprop", "sgd", "adagrad"}
# The decay `weight_decay=None` keeps: each Keras optimizer's default (None means 0).
OWN_WEIGHT_DECAY = {"adamw": 0.004}
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
        "activation": [StrOptions(set(ACTIVATIONS) | set(ACTIVATION_ALIASES))],
        "l1": [Interval(Real, 0, None, closed="left")],
        "l2": [Interval(Real, 0, None, closed="left")],
        "dropout": ["array-like", Interval(Real, 0, 1, closed="left")],
        "batch_normalization": ["boolean"],
        "augmentation": [None, Augmentation, list, tuple],
        "early_stopping": ["boolean", StrOptions({"best_epoch", "auto", "train_loss"})],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "scoring": [StrOptions({"loss"} | set(get_scorer_names())), callable],
        "optimizer": [StrOptions(_OPTIMIZERS)],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "learning_rate_schedule": [StrOptions({*SCHEDULES, "auto"})],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "numeric_scaling": [StrOptions({"robust", "standard"}), None],
        "max_onehot_levels": [Interval(Integral, 1, None, closed="left"), None],
        "missing_indicators": ["boolean"],
        "embedding_dim": [Interval(Integral, 1, None, closed="left")],
        "numeric_embedding": [StrOptions({"periodic", "piecewise_linear"}), None],
        "scaling_layer": ["boolean"],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left"), None],
        "regularization_schedule": [StrOptions({"constant", "flat_cosine"})],
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
        dropout=0.15,
        batch_normalization=False,
        augmentation=None,
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=2e-3,
        scoring="loss",
        optimizer="adam",
        learning_rate=2e-3,
        learning_rate_schedule="auto",
        power_t=0.5,
        batch_size="auto",
        max_iter=200,
        shuffle=True,
        random_state=None,
        verbose=0,
        warm_start=False,
        numeric_scaling="robust",
        max_onehot_levels=9,
        missing_indicators=True,
        embedding_dim=8,
        numeric_embedding="periodic",
        scaling_layer=True,
        beta_1=0.9,
        beta_2=0.95,
        epsilon=1e-7,
        weight_decay=None,
        regularization_schedule="constant",
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
        self.numeric_scaling = numeric_scaling
        self.max_onehot_levels = max_onehot_levels
        self.missing_indicators = missing_indicators
        self.embedding_dim = embedding_dim
        self.numeric_embedding = numeric_embedding
        self.scaling_layer = scaling_layer
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.weight_decay = weight_decay
        self.regularization_schedule = regularization_schedule

    def _fit(self, X, y, sample_weight=None, *, incremental=False, classes=None):
        """Validate, describe the fit, train and, only once training succeeded, store."""
        continuing = (incremental or self.warm_start) and hasattr(self, "_fitted")
        given = (X, y, sample_weight)  # as the user passed them, for scikit-learn's callbacks
        with restore_on_failure(self):
            table, y = _inputs.check(self, X, y, reset=not continuing, **self._y_checks())
            w = unit_scale(self._sample_weight(table, y, sample_weight, incremental, classes))
            kept = continuing and self._fitted.inputs
            preprocessor, M = _inputs.fitted_matrix(self, table, kept, w)
            Y, target = self._encode_targets(y, continuing=continuing, classes=classes, weights=w)
            data = _inputs.FitData(table, M, y, Y, w, preprocessor, target)
            callbacks, request = self._describe(data, given, incremental, continuing)
            outcome = self._train(request)
            self._store_result(request, outcome, continuing, data)
            callbacks.finish()  # a callback raising here undoes the fit too
        return self

    def _describe(self, data, given, incremental, continuing):
        """The fit as a request to the engine, and scikit-learn's callbacks around it."""
        network_seeds, split_seeds, training_seeds = seed_sequence(self.random_state).spawn(3)
        X, y = data.matrix, data.y
        sources = getattr(data.inputs, "sources_", None)  # swap noise swaps them together
        augmentation = plan_augmentation(self.augmentation, X.shape[1], self, sources)
        spec = self._network_spec(X.shape[1], data.Y.shape[1], data.inputs.layout_)
        rows = self._train_validation_rows(y, data.weights, split_seeds, incremental)
        schedule = self._schedule(incremental, len(rows["train"]), np.count_nonzero(data.weights))
        step = step_rows(schedule.batch_size, len(rows["train"]))
        key = ProgramKey(spec, self.optimizer, self._loss, augmentation.kinds, step)
        callbacks = FitCallbacks.start(self, *given, schedule.epochs, incremental)

        def fitted(network):  # the record a copy predicting with the weights in training has
            return Fitted(key, network, inputs=data.inputs, target=data.target)

        validation = self._validation(fitted, data, rows) if "validation" in rows else None
        return callbacks, TrainingRequest(
            key=key,
            start=self._start(key, network_seeds, continuing),
            dropout=dropout_rates(self.dropout, len(spec.hidden_layer_sizes)),
            learning_rate=float(self.learning_rate),
            penalty=(float(self.l1), float(self.l2)),
            X=X,
            Y=data.Y,
            train_rows=rows["train"],
            train_weights=data.weights[rows["train"]],
            schedule=schedule,
            seeds=training_seeds,
            augmentation=augmentation,
            validation_rows=rows.get("validation"),
            validation_weights=rows.get("validation_weights"),
            make_validation=validation,
            make_hooks=callbacks.hooks(
                fitted,
                lambda result: run_attributes(self, result, continuing, len(rows["train"])),
            ),
            clock=self._clock(incremental, continuing),
            reference_loss=self._reference_loss(data, rows["train"]) if continuing else None,
            start_loss=self._start_loss(data, rows["train"]) if continuing else None,
            optimizer_settings=self._optimizer_settings(),
            label_smoothing=float(getattr(self, "label_smoothing", 0.0)),
            regularization_schedule=self.regularization_schedule,
        )

    def _reference_loss(self, data, train_rows) -> float:
        """The loss a continued fit's losses are checked against for divergence."""
        return float(self.history_["loss"][0])

    def _start_loss(self, data, train_rows):
        """The fitted model's loss on the first rows of a continued fit, computed once if
        asked (see :func:`skreg._training.check_loss`)."""
        fitted, rows = self._fitted, train_rows[:PROBE_ROWS]
        smoothing = float(getattr(self, "label_smoothing", 0.0))
        rows_of = (data.matrix, data.Y, data.weights)
        return functools.cache(
            lambda: _engine.loss(
                fitted.key, fitted.network, *(a[rows] for a in rows_of), fitted.penalty, smoothing
            )  # fmt: skip
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # missing values are imputed
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.non_deterministic = self.random_state is None
        return tags

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_model", None)  # rebuilt from _fitted on access
        return state

    # Private helpers, in call order.

    def _y_checks(self) -> dict[str, Any]:
        return {}

    def _sample_weight(self, X, y, sample_weight, incremental, classes):
        # Negative weights would make training maximize those rows' loss.
        _inputs.refuse_masked(sample_weight, "sample_weight")
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True, **_ZERO_WEIGHTS_OK
        )
        require_some_weight(sample_weight, "sample_weight")
        return sample_weight

    def _network_spec(self, n_features, n_outputs, layout) -> NetworkSpec:
        return NetworkSpec(
            n_features=n_features,
            n_outputs=n_outputs,
            hidden_layer_sizes=hidden_layer_sizes(self.hidden_layer_sizes),
            activation=ACTIVATION_ALIASES.get(self.activation, self.activation),
            output_activation=self._output_activation,
            batch_normalization=bool(self.batch_normalization),
            front=_inputs.front(self, layout),
        )

    def _train_validation_rows(self, y, sample_weight, seeds, incremental):
        """Indices of the training rows and, with early stopping, of the validation rows."""
        mode = self._stopping(np.count_nonzero(sample_weight))
        if not mode or mode == "train_loss" or incremental:
            return {"train": weighted(sample_weight)}
        train, validation = split_weighted_rows(
            y, sample_weight, self._stratify_validation, self.validation_fraction, seeds
        )
        return {
            "train": train,
            "validation": validation,
            "validation_weights": sample_weight[validation],
        }

    def _stopping(self, n_rows: int) -> bool | str:
        """``early_stopping`` for a fit on ``n_rows`` rows: "auto" is "best_epoch" from
        :data:`AUTO_BEST_EPOCH_ROWS` rows with a validation split, else False."""
        if self.early_stopping == "auto":
            # Rows enough to train, and a validation split that split_rows accepts.
            split = validation_size(self.validation_fraction, n_rows)
            enough = n_rows >= AUTO_BEST_EPOCH_ROWS and split is not None
            return "best_epoch" if enough else False
        return early_stopping_mode(self.early_stopping)

    def _schedule(self, incremental, n_train, n_rows) -> TrainingSchedule:
        stopping = None
        mode = self._stopping(n_rows)
        if mode == "best_epoch" and not incremental:
            # Every epoch of the budget runs; the best one's weights are kept.
            stopping = EarlyStopping(patience=self.max_iter + 1, tol=0.0)
        elif mode and not incremental:
            stopping = EarlyStopping(
                patience=self.n_iter_no_change, tol=self.tol, on_training_loss=mode == "train_loss"
            )
        learning_rate = LearningRateSchedule(
            name=schedule_name(self.learning_rate_schedule, incremental or patience_rule(mode)),
            learning_rate=float(self.learning_rate),
            power_t=float(self.power_t),
            patience=self.n_iter_no_change,
            tol=float(self.tol),
            horizon=self.max_iter,
            n_train=n_train,
        )
        return TrainingSchedule(
            epochs=1 if incremental else self.max_iter,
            batch_size=200 if self.batch_size == "auto" else int(self.batch_size),  # True: 1
            shuffle=self.shuffle,
            early_stopping=stopping,
            verbose=self.verbose,
            learning_rate=learning_rate,
            # A racing search's fold model (``_cv``) stops past its best.
            low_points=learning_rate.low_points() if getattr(self, "_prune_epochs", 0) else (),
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

    def _validation(self, fitted, data, rows):
        """Per-epoch validation: loss, and the scorer's value when ``scoring`` names one. The
        scorer sees the validation rows as the user passed them, and a copy of the estimator
        that predicts with the weights being trained (``fitted`` makes its record)."""
        if self.scoring == "loss":
            return lambda current: Validation(lambda val_loss: ({"val_loss": val_loss}, -val_loss))
        scorer = check_scoring(self, scoring=self.scoring)
        name = "score" if callable(self.scoring) else self.scoring
        X_val = _safe_indexing(data.table, rows["validation"])
        y_val = data.y[rows["validation"]]
        description = f"scoring={self.scoring!r} on the {len(y_val)} validation rows"
        if not callable(self.scoring):
            self._check_scorer(scorer, data.table, data.y, X_val, y_val)
        # As scikit-learn's MLPs: the held-out rows' weights (class weights too) weigh the
        # score, when they differ and the scorer takes them.
        w_val = data.weights[rows["validation"]]
        weigh = np.ptp(w_val) > 0 and scorer_accepts_sample_weight(scorer, fitting=self)
        weights = {"sample_weight": w_val} if weigh else {}

        def make_validation(current):
            def score(val_loss):
                try:
                    view = self._fitted_view(fitted(current()))
                    value = float(scorer(view, X_val, y_val, **weights))
                except (ValueError, TypeError) as error:
                    raise scoring_error(self, error, data.y, y_val) from error
                return {"val_loss": val_loss, f"val_{name}": value}, value

            return Validation(score, uses_weights=True, name=description)

        return make_validation

    def _check_scorer(self, scorer, X, y, X_val, y_val):
        """Fail before training if the named scorer cannot score this task's predictions.

        A constant baseline (scikit-learn's dummy estimator for the task) stands in for the
        network: a scorer that fails on it (``"accuracy"`` for a regressor, ``"roc_auc"`` for
        three classes) would fail at the first epoch.
        """
        # First on every row, which hold every class the network can predict: "f1" fails
        # on three classes, whether or not the validation rows lack one.
        error = scorer_failure(scorer, self._baseline(), (X, y), X, y)
        if error is not None:
            raise scoring_error(self, error) from None
        error = scorer_failure(scorer, self._baseline(), (X, y), X_val, y_val)
        if error is not None:
            raise scoring_error(self, error, y, y_val) from None

    def _fitted_view(self, fitted: Fitted):
        """A shallow copy that predicts with ``fitted``, the network being trained."""
        view = copy.copy(self)
        view._fitted = fitted
        view.__dict__.pop("_model", None)
        return view

    def _optimizer_settings(self) -> tuple[tuple[str, float], ...]:
        """The optimizer's run-time settings; a ``weight_decay`` of None is the optimizer's
        own (AdamW's 0.004, no decay for the others), also on a continued fit, whose
        optimizer state holds the decay it was given before."""
        decay = self.weight_decay
        if decay is None:
            decay = OWN_WEIGHT_DECAY.get(self.optimizer, 0.0)
        settings = [("beta_1", self.beta_1), ("beta_2", self.beta_2), ("epsilon", self.epsilon)]
        check_float32_settings(settings)
        return tuple((name, float(value)) for name, value in [*settings, ("weight_decay", decay)])

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

    def _store_result(self, request, outcome, continuing, data):
        self._fitted = Fitted(
            request.key, outcome.network, outcome.optimizer, request.penalty, outcome.clock,
            data.inputs, data.target,
        )  # fmt: skip
        self.__dict__.pop("_model", None)
        n_train = len(request.train_rows)
        self.__dict__.update(run_attributes(self, outcome.result, continuing, n_train))
