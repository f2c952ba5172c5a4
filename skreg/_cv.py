"""The recipe shared by RegularizedMLPClassifierCV and RegularizedMLPRegressorCV: cross-validate
the grid of penalties and dropout rates, prune by racing, then refit or keep the fold models."""

from __future__ import annotations

import time
from functools import partial
from numbers import Integral, Real
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.model_selection import check_cv
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from . import _engine, _inputs, _search
from ._base import _BaseRegularizedMLP
from ._callbacks import SearchCallbacks, fold_task
from ._fitted import restore_on_failure
from ._migration import MigrationMixin
from ._specs import early_stopping_mode, hidden_layer_sizes, patience_rule, schedule_name
from ._training import scorer_failure
from ._validation import (
    CallbackSupportMixin,
    Interval,
    InvalidParameterError,
    StrOptions,
    _fit_context,
    _safe_indexing,
    scorer_accepts_sample_weight,
    scorer_request,
)

# Parameters of the CV estimators that the fold models do not take; every other one is
# passed to them as it is.
CV_PARAMETERS = (
    "l2s", "dropouts", "cv", "scoring", "refit", "pruning", "n_jobs", "joint", "error_score"
)  # fmt: skip


def keeps_a_model(cv: Any) -> bool:
    """``available_if``'s test of the prediction methods: absent with ``refit=False``, which
    keeps no model, as GridSearchCV's are (``hasattr(cv, "predict")`` is False)."""
    if not cv.refit:
        raise AttributeError(
            f"This {type(cv).__name__} has refit=False: it chooses best_params_ and keeps no "
            "model to predict with. Fit it with refit=True or refit='ensemble'."
        )
    return True


class _BaseRegularizedMLPCV(MigrationMixin, CallbackSupportMixin, BaseEstimator):
    """Cross-validated choice of ``l2`` and ``dropout`` for a regularized MLP.

    Subclasses name the estimator they select (``_member_class``) and how the fold models'
    predictions combine.
    """

    _parameter_constraints: dict = {
        **{
            k: v
            for k, v in _BaseRegularizedMLP._parameter_constraints.items()
            if k not in ("l2", "dropout", "scoring", "warm_start")
        },
        "l2s": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "dropouts": ["array-like"],
        "cv": ["cv_object"],
        "scoring": [StrOptions(set(get_scorer_names())), callable, None],
        "refit": ["boolean", StrOptions({"ensemble"})],
        "pruning": ["boolean"],
        "n_jobs": [Integral, None],
        "joint": ["boolean", StrOptions({"auto"})],
        "error_score": [StrOptions({"raise"}), Real],
    }
    _member_class: type

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        *,
        l2s=4,
        dropouts=(0.0, 0.15),
        cv=5,
        scoring=None,
        refit="ensemble",
        pruning=True,
        n_jobs=None,
        joint="auto",
        error_score=np.nan,
        activation="relu",
        l1=0.0,
        batch_normalization=False,
        augmentation=None,
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=0.002,
        optimizer="adam",
        learning_rate=0.002,
        learning_rate_schedule="auto",
        power_t=0.5,
        batch_size="auto",
        max_iter=200,
        shuffle=True,
        random_state=None,
        verbose=0,
        numeric_scaling="robust",
        max_onehot_levels=9,
        missing_indicators=True,
        embedding_dim=8,
        numeric_embedding="periodic",
        scaling_layer=True,
        beta_1=0.9,
        beta_2=0.95,
        epsilon=1e-07,
        weight_decay=None,
        regularization_schedule="constant",
    ):
        self.l2s = l2s
        self.dropouts = dropouts
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.pruning = pruning
        self.n_jobs = n_jobs
        self.joint = joint
        self.error_score = error_score
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.l1 = l1
        self.batch_normalization = batch_normalization
        self.augmentation = augmentation
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.learning_rate_schedule = learning_rate_schedule
        self.power_t = power_t
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose
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

    @_fit_context(prefer_skip_nested_validation=False)  # the fold models check their own
    def fit(self, X, y, sample_weight=None, groups=None):
        """Cross-validate every ``(l2, dropout)`` candidate, choose the best, then refit it
        on all the data or keep its fold models (``refit``).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Training data; a DataFrame may hold categorical columns and missing values.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-row weights of the fold models' losses (and of the refit), and of the
            scorer when it takes them, as ``GridSearchCV.fit(X, y, sample_weight=...)``
            passes them.
        groups : array-like of shape (n_samples,), default=None
            Group labels for a group-aware ``cv`` (``GroupKFold``).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        given = (X, y, sample_weight)  # as the user passed them, for scikit-learn's callbacks
        with restore_on_failure(self, fitted=lambda name: name.endswith("_")):
            template = self._member()
            X, y = _inputs.check(self, X, y, reset=True, **template._y_checks())
            if sample_weight is not None:
                _inputs.refuse_masked(sample_weight, "sample_weight")
                sample_weight = _check_sample_weight(sample_weight, X, ensure_non_negative=True)
            self._check_targets(y)
            folds = list(check_cv(self.cv, y, classifier=is_classifier(self)).split(X, y, groups))
            if not folds:
                raise ValueError(
                    f"cv={self.cv!r} gave no split, so there is nothing to cross-validate (an "
                    "empty list, or a generator that an earlier fit used up). Pass the number "
                    "of folds, a splitter such as KFold, or a list of (train, test) pairs."
                )
            n_train = min(len(train) for train, _ in folds)
            grid = _search.candidates(_search.l2_path(self.l2s, n_train), self._dropouts())
            scorer = check_scoring(template, scoring=self.scoring)
            if not callable(self.scoring):  # a named scorer that does not suit the task
                error = scorer_failure(scorer, template._baseline(), (X, y), X, y)
                if error is not None:
                    raise ValueError(
                        f"scoring={self.scoring!r} cannot score a {type(self).__name__}'s "
                        f"predictions: {error}"
                    ) from None
            # As GridSearchCV: the weights reach the scorer too when it takes them.
            scorer_weights = sample_weight is not None and scorer_accepts_sample_weight(
                scorer, fitting=self
            )
            # Every fold model reads the columns as the whole data's preprocessor would:
            # one network, so one compiled program, even when a column's level count
            # crosses max_onehot_levels between folds.
            like = _inputs.preprocessor(template).fit(_inputs.weighted_rows(X, sample_weight))
            data = (X, y, sample_weight, scorer_weights, like, bool(self.pruning),
                    self.error_score, len(folds))  # fmt: skip
            callbacks = SearchCallbacks(self, *given, self.refit)
            record, members = self._race(template, grid, folds, data, scorer, callbacks)
            _search.raise_if_no_score(record)
            record.report_failures(self.error_score)
            _search.warn_if_not_finite(record)
            self._store(record)
            for name in ("estimators_", "best_estimator_", "refit_time_"):  # a previous refit's
                self.__dict__.pop(name, None)
            if self.refit == "ensemble":  # the fold models that trained and ran (error_score,
                # racing: a pruned candidate is best where the finalists' means are NaN)
                fold_models = [members.get((self.best_index_, k)) for k in range(len(folds))]
                self.estimators_ = [m for m in fold_models if m is not None]
            elif self.refit:
                # The fold models' schedule ("auto" resolves by their early stopping), over
                # the refit's epochs.
                schedule = schedule_name(
                    self.learning_rate_schedule,
                    patience_rule(early_stopping_mode(self.early_stopping)),
                )
                best = clone(template).set_params(
                    **self.best_params_, max_iter=self.best_epoch_, early_stopping=False,
                    learning_rate_schedule=schedule,
                )  # fmt: skip
                start = time.perf_counter()
                with callbacks.refit(best):
                    self.best_estimator_ = best.fit(X, y, **_weights(sample_weight, slice(None)))
                self.refit_time_ = time.perf_counter() - start
            callbacks.finish()  # a callback raising here undoes the fit too
        return self

    def _validate_params(self) -> None:
        if isinstance(self.scoring, list | tuple | set | dict):
            # scikit-learn's own message lists every scorer name, not why a list fails.
            raise InvalidParameterError(
                f"The 'scoring' parameter of {type(self).__name__} must be one scorer: a "
                f"str, a callable or None; got {self.scoring!r}. The search chooses its "
                "candidate by one score, so it takes no multi-metric scoring; score other "
                "metrics afterwards with sklearn.model_selection.cross_validate on the "
                "chosen model, or use GridSearchCV(scoring=[...], refit=...)."
            )
        super()._validate_params()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # missing values are imputed
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.non_deterministic = self.random_state is None
        return tags

    @available_if(keeps_a_model)
    def score(self, X, y, sample_weight=None):
        """Score the predictions on ``X`` by ``scoring``, as GridSearchCV's ``score`` does;
        when ``scoring`` is None, the accuracy (classifier) or R² (regressor).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Test data.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            True labels or targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows, passed to the scorer; a scorer that does not take them
            (or declines them under metadata routing) raises a TypeError.

        Returns
        -------
        score : float
            ``scoring``'s value (greater is better), or the accuracy or R².
        """
        if self.scoring is None:
            default = ClassifierMixin.score if is_classifier(self) else RegressorMixin.score
            return default(self, X, y, sample_weight=sample_weight)
        scorer = check_scoring(self, scoring=self.scoring)
        if sample_weight is None:
            return scorer(self, X, y)
        if not scorer_accepts_sample_weight(scorer):
            declined = scorer_request(scorer) is False
            raise TypeError(
                f"score got sample_weight, but scoring={self.scoring!r} "
                + (
                    "declines it (set_score_request(sample_weight=False))"
                    if declined
                    else "takes no sample_weight"
                )  # fmt: skip
                + ", so it cannot weight the rows. Call score without sample_weight, or use "
                "a scorer that takes it."
            )
        return scorer(self, X, y, sample_weight=sample_weight)

    # Private helpers, in call order.

    def _member(self) -> _BaseRegularizedMLP:
        """The estimator each candidate clones: every parameter but the search's."""
        params = {k: v for k, v in self.get_params(deep=False).items() if k not in CV_PARAMETERS}
        return self._member_class(**params)

    def _check_targets(self, y) -> None:
        """Subclasses check and record the targets (``classes_``)."""

    def _dropouts(self) -> list[Any]:
        """``dropouts``, each checked as the fold models check their ``dropout``, before any
        fold model trains."""
        dropouts = list(self.dropouts)
        default = all(isinstance(r, Real) for r in dropouts) and dropouts == [0.0, 0.15]
        if default and not hidden_layer_sizes(self.hidden_layer_sizes):
            return [0.0]  # the default rates, and no hidden layer to drop: one candidate each
        if not dropouts:
            raise ValueError("dropouts must list at least one dropout rate; got an empty list.")
        for rate in dropouts:
            try:
                self._member_class(dropout=rate)._validate_params()
            except ValueError as error:
                raise ValueError(
                    f"dropouts must hold dropout rates as {self._member_class.__name__}'s "
                    f"dropout takes them; got {rate!r}. {error}"
                ) from None
        return dropouts

    def _race(self, template, grid, folds, data, scorer, callbacks):
        """Fit and score the candidates fold by fold; with ``pruning``, keep the better half
        after each fold until two remain (:func:`skreg._search.survivors`), then run the
        remaining folds of the survivors in one batch."""
        record = _search.SearchRecord(grid, len(folds))
        members: dict[tuple[int, int], Any] = {}
        alive = list(range(len(grid)))
        schedule = _search.rounds(len(grid), len(folds), self.pruning)
        # Jointly, every round pads its calls to the widest round's lane count, so that one
        # program serves the search.
        width = max(n * len(fold_batch) for n, fold_batch in schedule) if self._joint() else 0
        self.joint_lanes_ = 0
        callbacks.begin_search(sum(n * len(fold_batch) for n, fold_batch in schedule))
        for round_, (_, fold_batch) in enumerate(schedule):
            if round_ > 0:
                alive = _search.survivors(alive, record.means())
            tasks = [(c, k) for k in fold_batch for c in alive]
            fits = [
                partial(
                    _fit_and_score,
                    clone(template).set_params(**grid[c]),
                    data,
                    folds[k],
                    scorer,
                    task,
                )  # fmt: skip
                for (c, k), task in zip(tasks, callbacks.fold_tasks(len(tasks)))
            ]
            if width:
                lanes = _engine.joint_batch(width)
                outcomes = lanes.run(fits)
                self.joint_lanes_ = max(self.joint_lanes_, lanes.lanes)
            else:
                outcomes = Parallel(n_jobs=self.n_jobs)(delayed(fit)() for fit in fits)
            for (c, k), (member, outcome) in zip(tasks, outcomes):
                record.add(c, k, outcome)
                members[c, k] = member
        callbacks.end_search()
        # A pruned candidate's fold models are kept until the end: it is the best when the
        # finalists' means are NaN (their later folds failed).
        return record, {key: m for key, m in members.items() if key[0] == record.best()}

    def _joint(self) -> bool:
        """Whether the fold models train jointly (``joint``; see :mod:`skreg._engine._joint`).
        ``"auto"`` chooses it on an accelerator only: on a 2-core CPU a joint search took
        1.4x the one-by-one time (the user guide's "Joint training" has the figures)."""
        if self.joint is False or not _engine.joint_supported():
            return False
        return self.joint is True or _engine.accelerator()

    def _store(self, record: _search.SearchRecord) -> None:
        self.cv_results_ = record.cv_results()
        self.best_index_ = record.best()
        self.best_params_ = dict(record.params[self.best_index_])
        self.best_score_ = float(self.cv_results_["mean_test_score"][self.best_index_])
        self.l2_ = self.best_params_["l2"]
        self.dropout_ = self.best_params_["dropout"]
        self.best_epoch_ = max(
            1, round(float(self.cv_results_["mean_best_epoch"][self.best_index_]))
        )
        self.n_iter_ = record.epochs
        self.n_splits_ = record.n_folds

    def _models(self) -> list[Any]:
        """The fitted models whose predictions make the estimator's: the fold models, or
        the refitted one."""
        check_is_fitted(self, "cv_results_")
        if not hasattr(self, "estimators_") and not hasattr(self, "best_estimator_"):
            raise NotFittedError(
                f"This {type(self).__name__} was fitted with refit=False: it chose "
                "best_params_ but kept no model to predict with. Fit it with refit=True or "
                "refit='ensemble'."
            )
        return getattr(self, "estimators_", None) or [self.best_estimator_]

    @property
    def feature_importances_(self) -> np.ndarray:
        """Importance of each input feature: the mean over the models that predict (the fold
        models, or the refitted one) of their ``feature_importances_``, which sum to one
        each, so :class:`~sklearn.feature_selection.SelectFromModel` takes the CV
        estimators too."""
        return np.mean([model.feature_importances_ for model in self._models()], axis=0)

    def _checked(self, X):
        """``X`` checked against the fitted columns, as the models will read it: an array
        given to an estimator fitted on a DataFrame (scikit-learn has warned, once) as a
        table with the fitted names, so that each model does not warn again."""
        check_is_fitted(self, "cv_results_")
        X = _inputs.check(self, X, reset=False)
        names = getattr(self, "feature_names_in_", None)
        if names is not None and not _inputs.is_table(X):
            import pandas as pd

            X = pd.DataFrame(X, columns=names)
        return X


def _fit_and_score(member, data, fold, scorer, task) -> tuple[Any, dict[str, float]]:
    """:func:`_fit_then_score` within the fold model's callback task (``task``: its
    context and the CV estimator, or Nones; :func:`fold_task`)."""
    X, y, sample_weight = data[:3]
    X_train, weights = _safe_indexing(X, fold[0]), _weights(sample_weight, fold[0])
    with fold_task(*task, X_train, y[fold[0]], weights.get("sample_weight")) as begun:
        return _fit_then_score(member, data, fold, scorer, begun, X_train, weights)


def _fit_then_score(member, data, fold, scorer, begun, X_train, weights):
    """One candidate on one fold: trained on its training rows, scored on its test rows.

    A fit or a score that fails gives the fold ``error_score`` and no member (the search
    reports it: :meth:`~skreg._search.SearchRecord.report_failures`), as GridSearchCV
    does, or raises with ``error_score="raise"``. A scorer that fails on a fold that lacks
    a class says so (``_search.FoldLacksClasses``); the search raises that when it leaves
    no candidate a score (``_search.raise_if_no_score``).
    """
    X, y, sample_weight, scorer_weights, like, prune, error_score, n_folds = data
    train, test = fold
    start = time.perf_counter()
    # Read by the member's fit (_inputs.fitted, _base._schedule), not kept.
    member._table_like, member._prune_epochs = like, prune
    try:
        with begun(member):
            member.fit(X_train, y[train], **weights)
    except Exception as error:
        if is_classifier(member) and len(np.unique(y[train])) == 1:
            error = _search.one_class_training(y, train, n_folds, error)
        if error_score == "raise":
            raise error
        return None, _search.failed(error, error_score, time.perf_counter() - start)
    finally:
        del member._table_like, member._prune_epochs
    fit_time = time.perf_counter() - start
    test_weights = _weights(sample_weight, test) if scorer_weights else {}
    try:
        score = scorer(member, _safe_indexing(X, test), y[test], **test_weights)
    except Exception as error:
        # A class absent from the test rows, or from the training rows (the fold model then
        # gives it no probability), fails scorers that need every class.
        lacking = _search.lacking_classes(is_classifier(member), y, train, test)
        if isinstance(error, ValueError) and lacking:
            explained = _search.FoldLacksClasses(
                f"The scorer failed on {' and '.join(lacking)}: {error} "
                f"{_search.class_advice(y, n_folds)}"
            )
            if error_score == "raise":
                raise explained from error
            explained.__cause__, error = error, explained
        elif error_score == "raise":
            raise
        return None, _search.failed(error, error_score, fit_time)
    return member, {
        "score": _search.score_number(score, scorer),
        "fit_time": fit_time,
        "score_time": time.perf_counter() - start - fit_time,
        "best_epoch": float(member.best_epoch_),
        "n_iter": int(member.n_iter_),
    }


def _weights(sample_weight, rows) -> dict[str, Any]:
    return {} if sample_weight is None else {"sample_weight": sample_weight[rows]}
