"""RegularizedMLPRegressorCV: the regressor's penalty and dropout chosen by cross-validation."""

from __future__ import annotations

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.utils.metaestimators import available_if

from ._cv import _BaseRegularizedMLPCV, keeps_a_model
from ._regressor import RegularizedMLPRegressor


class RegularizedMLPRegressorCV(RegressorMixin, _BaseRegularizedMLPCV):
    """:class:`RegularizedMLPRegressor` with ``l2`` and ``dropout`` chosen by cross-validation.

    What ``GridSearchCV(RegularizedMLPRegressor(...), {"l2": ..., "dropout": ...})`` does, in
    one estimator, as :class:`~sklearn.linear_model.LogisticRegressionCV` does for a linear
    model, and cheaper: every candidate trains on the first fold, and racing keeps the
    better half after each fold until two remain (``pruning``); then, by default, the best
    candidate's fold models predict together (their mean), so nothing is refitted.
    Every fold model reuses the one compiled program of the network. See the user guide's
    section "Choosing the penalty by cross-validation".

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(100,)
        Units of each hidden layer, as in :class:`RegularizedMLPRegressor`.
    l2s : int or array-like of float, default=4
        The L2 penalties to try. An int asks for that many, log-spaced over three decades
        from 1e-2 down (scaled down in proportion beyond 1,000 training rows per fold).
    dropouts : array-like, default=(0.0, 0.15)
        The dropout rates to try (each a float, or a per-layer sequence). With no hidden
        layer (``hidden_layer_sizes=()``) the default tries 0.0 only: there is no layer to
        drop.
    cv : int, cross-validation generator or iterable, default=5
        The folds, as in :class:`~sklearn.model_selection.GridSearchCV`.
    scoring : str, callable or None, default=None
        The score that chooses the candidate; R² when None. The fold models' own
        early stopping monitors their validation loss. One scorer: a list or dict
        (GridSearchCV's multi-metric scoring) is refused.
    refit : bool or "ensemble", default="ensemble"
        ``"ensemble"`` keeps the best candidate's fold models and averages their
        predictions; True trains it once more on all the data for ``best_epoch_`` epochs
        (without a validation split). False keeps no model: ``best_params_`` and
        ``cv_results_`` only, as GridSearchCV's ``refit=False``.
    pruning : bool, default=True
        Race the candidates: after each fold, keep the better half by their mean test score
        so far (never fewer than two), until two remain; and stop a fold model at the end
        of a learning-rate cycle (coslog4's, the tabular default) whose validation score
        is no better than at the previous cycle's end: past its best, it keeps its best
        epoch. False runs the full grid and gives GridSearchCV's ``cv_results_`` over the
        same folds.
    n_jobs : int, default=None
        Fold models trained in parallel (joblib; a Dask cluster through
        ``joblib.parallel_config(backend="dask")``).
    joint : "auto" or bool, default="auto"
        Train the fold models of each round as the lanes of one compiled program (the
        JAX backend, in this process; ``n_jobs`` then does not apply). ``"auto"`` does so
        on a GPU or TPU only: on a 2-core CPU it took 1.4x the time of one by one, for the
        same models (see the user guide). TensorFlow trains them one by one.
    error_score : "raise" or float, default=np.nan
        The score of a fold whose model fails to fit or to be scored (a diverging
        penalty, say), as in :class:`~sklearn.model_selection.GridSearchCV`: the search
        goes on, warns once (``FitFailedWarning``) and ranks a NaN candidate last;
        ``"raise"`` raises the first error, as does a search where every fold model
        failed. A scorer that fails on a fold that lacks a class, for every candidate,
        raises whatever this says, naming the class: the folds are what to change.
    activation, l1, batch_normalization, augmentation, early_stopping, \
validation_fraction, n_iter_no_change, tol, optimizer, learning_rate, \
learning_rate_schedule, power_t, batch_size, max_iter, shuffle, random_state, verbose, \
numeric_scaling, max_onehot_levels, missing_indicators, embedding_dim, numeric_embedding, \
scaling_layer, beta_1, beta_2, epsilon, weight_decay, regularization_schedule, \
loss, target_scaling : \
see :class:`RegularizedMLPRegressor`
        Passed to every fold model as they are. ``random_state`` seeds each fold model
        alike, as GridSearchCV's clones are. (``warm_start`` is not taken: every fold model
        is a new fit.) With scikit-learn >= 1.9, ``set_callbacks`` takes
        ``sklearn.callback``'s callbacks, in GridSearchCV's task tree (the user guide's
        "Progress bars and per-epoch scores").

    Attributes
    ----------
    n_outputs_ : int
        Number of targets.
    l2_ : float
        The chosen penalty.
    dropout_ : float or tuple
        The chosen dropout rate.
    best_params_ : dict
        ``{"l2": l2_, "dropout": dropout_}``.
    best_score_ : float
        Mean test score of the chosen candidate over the folds.
    best_index_ : int
        Its row in ``cv_results_``.
    cv_results_ : dict of str to ndarray
        GridSearchCV's keys and shapes (``pandas.DataFrame(cv_results_)`` works), plus
        ``mean_best_epoch`` and ``n_folds_run``. A candidate pruned before a fold has NaN
        for that fold's score (and ``std_test_score`` 0 after one fold: unmeasured, not
        stable). Candidates rank by the folds they ran, most first, then by their mean, so
        one racing dropped ranks after every candidate it kept.
    best_epoch_ : int
        The chosen candidate's best epoch, averaged over its fold models: the epochs of the
        refit.
    n_iter_ : ndarray of shape (n_candidates, n_splits)
        Epochs each fold model ran (0 where it was pruned).
    n_splits_ : int
        Number of folds.
    joint_lanes_ : int
        Lanes of the joint program the fold models trained in (``joint``); 0 when they
        trained one by one.
    estimators_ : list of RegularizedMLPRegressor
        The chosen candidate's fold models (``refit="ensemble"``).
    best_estimator_ : RegularizedMLPRegressor
        The refitted model (``refit=True``).
    refit_time_ : float
        Seconds the refit took (``refit=True``).
    feature_importances_ : ndarray of shape (`n_features_in_`,)
        The mean of the predicting models' ``feature_importances_`` (see
        :class:`RegularizedMLPRegressor`), for
        :class:`~sklearn.feature_selection.SelectFromModel`.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when X is a DataFrame with string column names.

    See Also
    --------
    RegularizedMLPClassifierCV : The same for classification.
    skreg.inspection.RegularizationPathDisplay : Draws ``cv_results_`` along ``l2``.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from skreg import RegularizedMLPRegressorCV
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = RegularizedMLPRegressorCV((16,), l2s=[1e-4, 1e-2], dropouts=[0.0], cv=3,
    ...                                 max_iter=30, learning_rate=1e-2, random_state=0)
    >>> reg.fit(X, y).l2_ in (1e-4, 1e-2)
    True
    >>> len(reg.estimators_), reg.predict(X[:2]).shape
    (3, (2,))
    """

    _parameter_constraints: dict = {
        **_BaseRegularizedMLPCV._parameter_constraints,
        **{
            k: RegularizedMLPRegressor._parameter_constraints[k]
            for k in ("loss", "target_scaling")
        },
    }
    _member_class = RegularizedMLPRegressor

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
        loss="squared_error",
        target_scaling=True,
    ):
        super().__init__(
            hidden_layer_sizes,
            l2s=l2s,
            dropouts=dropouts,
            cv=cv,
            scoring=scoring,
            refit=refit,
            pruning=pruning,
            n_jobs=n_jobs,
            joint=joint,
            error_score=error_score,
            activation=activation,
            l1=l1,
            batch_normalization=batch_normalization,
            augmentation=augmentation,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            optimizer=optimizer,
            learning_rate=learning_rate,
            learning_rate_schedule=learning_rate_schedule,
            power_t=power_t,
            batch_size=batch_size,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            verbose=verbose,
            numeric_scaling=numeric_scaling,
            max_onehot_levels=max_onehot_levels,
            missing_indicators=missing_indicators,
            embedding_dim=embedding_dim,
            numeric_embedding=numeric_embedding,
            scaling_layer=scaling_layer,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            weight_decay=weight_decay,
            regularization_schedule=regularization_schedule,
        )
        self.loss = loss
        self.target_scaling = target_scaling

    @available_if(keeps_a_model)
    def predict(self, X):
        """Predict targets: the fold models' mean (``refit="ensemble"``), or the refitted
        model's prediction.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_targets)
            Predicted targets.
        """
        X = self._checked(X)
        models = self._models()
        return sum(model.predict(X) for model in models) / len(models)

    # By scoring, as GridSearchCV's (the base's: the mixin's comes first in the method order).
    score = _BaseRegularizedMLPCV.__dict__["score"]  # the descriptor: absent with refit=False

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    # Private helpers, in call order.

    def _check_targets(self, y):
        self.n_outputs_ = 1 if np.ndim(y) == 1 else np.shape(y)[1]
