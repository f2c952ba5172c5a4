"""Shared estimator base: parameters, constraints, fit/predict orchestration, tags."""

from __future__ import annotations

import copy
from contextlib import contextmanager
from dataclasses import dataclass, replace
from numbers import Integral, Real
from typing import Any

import keras
import numpy as np
from sklearn.base import BaseEstimator
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._network import NetworkSpec, build_trainable_network, dropout_rates
from ._training import (
    EarlyStopping,
    EnginePool,
    TrainingEngine,
    TrainingSchedule,
    make_engine,
    train,
)
from ._validation import Interval, StrOptions
from .augmentation import Augmentation, build_augmenter, frozen_augmentation, mixup_alpha

_OPTIMIZERS = {"adam", "adamw", "nadam", "rmsprop", "sgd", "adagrad"}

# Attributes of a fitted estimator; a failed fit puts back the ones it started with.
_FITTED_ATTRIBUTES = (
    "n_features_in_",
    "feature_names_in_",
    "classes_",
    "n_outputs_",
    "model_",
    "history_",
    "loss_curve_",
    "validation_scores_",
    "best_validation_score_",
    "best_epoch_",
    "n_iter_",
    "_training_spec",
)

# Engines for training, shared by all estimators of this process (see skreg._training).
_ENGINES = EnginePool()


class _BaseRegularizedMLP(BaseEstimator):
    """Multilayer perceptron trained by Keras, with the regularization toolbox as parameters.

    Subclasses say how targets become network outputs (``_encode_targets``), which loss and
    output activation to use, and how outputs become predictions.
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [
            StrOptions({"relu", "tanh", "sigmoid", "elu", "selu", "gelu", "silu", "linear"})
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
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    _output_activation: str | None = None

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
        tol=1e-4,
        scoring="loss",
        optimizer="adam",
        learning_rate=1e-3,
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
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    def _fit(self, X, y, sample_weight=None, *, incremental=False, classes=None):
        """Validate, train and, only once training succeeded, store the fitted state."""
        continuing = (incremental or self.warm_start) and hasattr(self, "model_")
        with _restore_on_failure(self):
            X, y = validate_data(
                self, X, y, reset=not continuing, dtype=np.float32, **self._y_checks()
            )
            Y = self._encode_targets(y, continuing=continuing, classes=classes)
            sample_weight = self._sample_weight(X, y, sample_weight, incremental=incremental)
            augmentation = frozen_augmentation(self.augmentation, X.shape[1])
            seeds = np.random.SeedSequence(check_random_state(self.random_state).randint(2**31))
            network_seeds, shuffle_seeds, augmentation_seeds = seeds.spawn(3)
            split = self._train_validation_split(X, Y, y, sample_weight, seeds, incremental)
            spec, model = self._prepare_model(
                X.shape[1], Y.shape[1], augmentation, network_seeds, continuing
            )
            key = _engine_key(spec)
            with _ENGINES.lease(key, self._engine_factory(key[1])) as engine:
                engine.load_from(model)
                engine.set_penalty(spec.network.l1, spec.network.l2)
                engine.seed_augmentation(augmentation_seeds)
                result = train(
                    engine,
                    *engine.to_device(split["X"], split["Y"]),
                    split["w"],
                    self._schedule(len(split["X"]), incremental, spec),
                    np.random.default_rng(shuffle_seeds),
                    self._validator(engine, split) if "X_val" in split else None,
                )
                engine.save_to(model)
            self._store_result(model, spec, result, continuing)
        return self

    def _predict_outputs(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float32)
        engine = self.__dict__.get("_training_engine")
        if engine is not None:  # a view made while training (for scorers)
            return engine.predict(X)
        key = _engine_key(self._training_spec)
        engine = _ENGINES.shared(key, self._engine_factory(key[1]))
        return engine.predict(X, self.model_)

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
        kernel = keras.ops.convert_to_numpy(self.model_.get_layer("hidden_0").kernel)
        norms = np.abs(kernel).sum(axis=1).astype(np.float64)
        total = norms.sum()
        return norms / total if total > 0 else norms

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = self.random_state is None
        return tags

    # Private helpers, in call order.

    def _y_checks(self) -> dict[str, Any]:
        return {}

    def _sample_weight(self, X, y, sample_weight, *, incremental):
        return _check_sample_weight(sample_weight, X, dtype=np.float32)

    def _train_validation_split(self, X, Y, y, sample_weight, seeds, incremental):
        if not self.early_stopping or incremental:
            return {"X": X, "Y": Y, "w": sample_weight}
        stratify = y if self._stratify_validation else None
        X, X_val, Y, Y_val, w, w_val, _, y_val = train_test_split(
            X,
            Y,
            sample_weight,
            y,
            test_size=self.validation_fraction,
            random_state=int(seeds.generate_state(1)[0]),
            stratify=stratify,
        )
        return {
            "X": X,
            "Y": Y,
            "w": w,
            "X_val": X_val,
            "Y_val": Y_val,
            "w_val": w_val,
            "y_val": y_val,
        }

    def _prepare_model(self, n_features, n_outputs, augmentation, seeds, continuing):
        """The network this fit trains: new and seeded, or the fitted one when continuing."""
        hidden_layer_sizes = _hidden_layer_sizes(self.hidden_layer_sizes)
        spec = _TrainingSpec(
            network=NetworkSpec(
                n_features=n_features,
                n_outputs=n_outputs,
                hidden_layer_sizes=hidden_layer_sizes,
                activation=self.activation,
                output_activation=self._output_activation,
                l1=float(self.l1),
                l2=float(self.l2),
                dropout=dropout_rates(self.dropout, len(hidden_layer_sizes)),
                batch_normalization=bool(self.batch_normalization),
            ),
            optimizer=self.optimizer,
            loss=self._loss().__name__,
            augmentation=augmentation,
        )
        if continuing and _same_model(spec, self._training_spec):
            # Same network and optimizer: keep training them, optimizer state included.
            self.model_.optimizer.learning_rate = self.learning_rate
            return spec, self.model_
        if continuing and not spec.network.same_weights_as(self._training_spec.network):
            raise ValueError(
                "warm_start and partial_fit continue the fitted network, but the new parameters "
                "change the shapes of its weights. Set warm_start=False to train a new network."
            )
        model = build_trainable_network(
            spec.network, seeds, self.optimizer, self.learning_rate, self._loss()
        )
        if continuing:
            # Penalties, dropout or optimizer changed: the fitted weights, new layers around them.
            model.set_weights(self.model_.get_weights())
        return spec, model

    def _engine_factory(self, spec):
        def factory() -> TrainingEngine:
            # The seed does not matter: every fit loads its own state into the engine.
            # The engine adds the penalty itself (see _engine_key): no Keras regularizers.
            network = replace(spec.network, l1=0.0, l2=0.0)
            model = build_trainable_network(
                network, np.random.SeedSequence(0), spec.optimizer, 1e-3, self._loss()
            )
            augmenter = build_augmenter(spec.augmentation, network.n_features)
            terms = (spec.network.l1 > 0, spec.network.l2 > 0)
            return make_engine(model, model.optimizer, self._loss(), augmenter, terms)

        return factory

    def _schedule(self, n_samples, incremental, spec) -> TrainingSchedule:
        batch_size = min(200, n_samples) if self.batch_size == "auto" else self.batch_size
        stopping = None
        if self.early_stopping and not incremental:
            stopping = EarlyStopping(patience=self.n_iter_no_change, tol=self.tol)
        return TrainingSchedule(
            epochs=1 if incremental else self.max_iter,
            batch_size=min(batch_size, n_samples),
            shuffle=self.shuffle,
            early_stopping=stopping,
            verbose=self.verbose,
            mixup_alpha=mixup_alpha(spec.augmentation),
        )

    def _validator(self, engine, split):
        """Per-epoch validation: loss, and the scorer's value when ``scoring`` names one."""
        X_val, Y_val, w_val = engine.to_device(split["X_val"], split["Y_val"], split["w_val"])
        scorer = None if self.scoring == "loss" else check_scoring(self, scoring=self.scoring)
        name = "score" if callable(self.scoring) else self.scoring

        def validate() -> tuple[dict[str, float], float]:
            val_loss = engine.evaluate(X_val, Y_val, w_val)
            if scorer is None:
                return {"val_loss": val_loss}, -val_loss
            view = self._fitted_view(engine)
            score = float(scorer(view, split["X_val"], split["y_val"]))
            return {"val_loss": val_loss, f"val_{name}": score}, score

        return validate

    def _fitted_view(self, engine):
        """A shallow copy that predicts with the network being trained (for scorers)."""
        view = copy.copy(self)
        view._training_engine = engine
        # The scorer gets the validated validation rows, a NumPy array without column names.
        view.__dict__.pop("feature_names_in_", None)
        return view

    def _store_result(self, model, spec, result, continuing):
        history = self.history_ if continuing else {}
        if continuing and set(history) != set(result.history):
            history = {}
        offset = len(history.get("loss", []))
        history = {k: list(history.get(k, [])) + v for k, v in result.history.items()}
        self.model_ = model
        self._training_spec = spec
        self.history_ = history
        self.loss_curve_ = history["loss"]
        self.n_iter_ = (self.n_iter_ if continuing else 0) + result.n_epochs
        self.best_epoch_ = offset + result.best_epoch
        if result.scores:
            self.validation_scores_ = result.scores
            self.best_validation_score_ = result.best_score
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None


def _hidden_layer_sizes(hidden_layer_sizes) -> tuple[int, ...]:
    sizes = np.atleast_1d(np.asarray(hidden_layer_sizes))
    if sizes.ndim != 1 or not np.issubdtype(sizes.dtype, np.integer) or np.any(sizes < 1):
        raise ValueError(
            "hidden_layer_sizes must be a positive integer or a sequence of positive integers; "
            f"got {hidden_layer_sizes!r}."
        )
    return tuple(int(s) for s in sizes)


@dataclass(frozen=True)
class _TrainingSpec:
    """What a pooled training engine is compiled for."""

    network: NetworkSpec
    optimizer: str
    loss: str
    augmentation: tuple = ()


def _same_model(spec: _TrainingSpec, other: _TrainingSpec) -> bool:
    """Whether two specs train the same Keras model (augmentation lives outside it)."""
    return replace(spec, augmentation=()) == replace(other, augmentation=())


def _engine_key(spec: _TrainingSpec) -> tuple[str, _TrainingSpec]:
    """The pool key, and the spec its engine is built from.

    Engines take the penalty coefficients at run time, so the key keeps only whether ``l1``
    and ``l2`` are on (1.0) or off (0.0): one compiled engine serves every nonzero value of a
    grid over the penalties, and unpenalized fits do not compute a penalty.
    """
    network = replace(spec.network, l1=float(spec.network.l1 > 0), l2=float(spec.network.l2 > 0))
    return keras.backend.backend(), replace(spec, network=network)


@contextmanager
def _restore_on_failure(estimator):
    """Put back the fitted attributes if the block raises.

    Training runs on a pooled engine and reaches ``model_`` only once it succeeded, so
    restoring the attributes leaves a previously fitted estimator as it was.
    """
    saved = {k: estimator.__dict__[k] for k in _FITTED_ATTRIBUTES if k in estimator.__dict__}
    try:
        yield
    except BaseException:
        for k in _FITTED_ATTRIBUTES:
            estimator.__dict__.pop(k, None)
        estimator.__dict__.update(saved)
        raise
