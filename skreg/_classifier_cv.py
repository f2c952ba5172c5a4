"""RegularizedMLPClassifierCV: the classifier's penalty and dropout chosen by cross-validation."""

from __future__ import annotations

import numpy as np
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, unique_labels

from ._classifier import RegularizedMLPClassifier, _Classifier
from ._cv import _BaseRegularizedMLPCV, keeps_a_model


class RegularizedMLPClassifierCV(_Classifier, _BaseRegularizedMLPCV):
    """:class:`RegularizedMLPClassifier` with ``l2`` and ``dropout`` chosen by cross-validation.

    What ``GridSearchCV(RegularizedMLPClassifier(...), {"l2": ..., "dropout": ...})`` does, in
    one estimator, as :class:`~sklearn.linear_model.LogisticRegressionCV` does for a linear
    model, and cheaper: every candidate trains on the first fold, and racing keeps the
    better half after each fold until two remain (``pruning``); then, by default, the best
    candidate's fold models predict together (their mean probability), so nothing is refitted.
    Every fold model reuses the one compiled program of the network. See the user guide's
    section "Choosing the penalty by cross-validation".

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(100,)
        Units of each hidden layer, as in :class:`RegularizedMLPClassifier`.
    l2s : int or array-like of float, default=4
        The L2 penalties to try. An int asks for that many, log-spaced over three decades
        from 1e-2 down (scaled down in proportion beyond 1,000 training rows per fold).
    dropouts : array-like, default=(0.0, 0.15)
        The dropout rates to try (each a float, or a per-layer sequence). With no hidden
        layer (``hidden_layer_sizes=()``) the default tries 0.0 only: there is no layer to
        drop.
    cv : int, cross-validation generator or iterable, default=5
        The folds, as in :class:`~sklearn.model_selection.GridSearchCV` (stratified for an
        int).
    scoring : str, callable or None, default=None
        The score that chooses the candidate; the accuracy when None. The fold models' own
        early stopping monitors their validation loss. One scorer: a list or dict
        (GridSearchCV's multi-metric scoring) is refused.
    refit : bool or "ensemble", default="ensemble"
        ``"ensemble"`` keeps the best candidate's fold models and averages their
        probabilities; True trains it once more on all the data for ``best_epoch_`` epochs
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
class_weight, label_smoothing : \
see :class:`RegularizedMLPClassifier`
        Passed to every fold model as they are. ``random_state`` seeds each fold model
        alike, as GridSearchCV's clones are. (``warm_start`` is not taken: every fold model
        is a new fit.) With scikit-learn >= 1.9, ``set_callbacks`` takes
        ``sklearn.callback``'s callbacks, in GridSearchCV's task tree (the user guide's
        "Progress bars and per-epoch scores").

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
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
    estimators_ : list of RegularizedMLPClassifier
        The chosen candidate's fold models (``refit="ensemble"``).
    best_estimator_ : RegularizedMLPClassifier
        The refitted model (``refit=True``).
    refit_time_ : float
        Seconds the refit took (``refit=True``).
    feature_importances_ : ndarray of shape (`n_features_in_`,)
        The mean of the predicting models' ``feature_importances_`` (see
        :class:`RegularizedMLPClassifier`), for
        :class:`~sklearn.feature_selection.SelectFromModel`.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when X is a DataFrame with string column names.

    See Also
    --------
    RegularizedMLPRegressorCV : The same for regression.
    skreg.inspection.RegularizationPathDisplay : Draws ``cv_results_`` along ``l2``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skreg import RegularizedMLPClassifierCV
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = RegularizedMLPClassifierCV((16,), l2s=[1e-4, 1e-2], dropouts=[0.0], cv=3,
    ...                                  max_iter=30, learning_rate=1e-2, random_state=0)
    >>> clf.fit(X, y).l2_ in (1e-4, 1e-2)
    True
    >>> len(clf.estimators_), clf.predict_proba(X[:2]).shape
    (3, (2, 3))
    """

    _parameter_constraints: dict = {
        **_BaseRegularizedMLPCV._parameter_constraints,
        **{
            k: RegularizedMLPClassifier._parameter_constraints[k]
            for k in ("class_weight", "label_smoothing")
        },
    }
    _member_class = RegularizedMLPClassifier

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
        class_weight=None,
        label_smoothing=0.1,
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
        self.class_weight = class_weight
        self.label_smoothing = label_smoothing

    @available_if(keeps_a_model)
    def predict(self, X):
        """Predict class labels: the most probable class of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Predicted labels.
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    @available_if(keeps_a_model)
    def predict_proba(self, X):
        """Class probabilities: the fold models' mean (``refit="ensemble"``), or the
        refitted model's.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``.
        """
        X = self._checked(X)
        proba = np.zeros((len(X), len(self.classes_)))
        models = self._models()
        for model in models:
            # A fold may lack a rare class; its model gives that class no probability.
            columns = np.searchsorted(self.classes_, model.classes_)
            proba[:, columns] += model.predict_proba(X)
        return proba / len(models)

    # scikit-learn's own, absent with refit=False as the two methods above.
    predict_log_proba = available_if(keeps_a_model)(_Classifier.predict_log_proba)

    # By scoring, as GridSearchCV's (the base's: the mixin's comes first in the method order).
    score = _BaseRegularizedMLPCV.__dict__["score"]  # the descriptor: absent with refit=False

    # Private helpers, in call order.

    def _check_targets(self, y):
        check_classification_targets(y)
        classes = unique_labels(y)
        if len(classes) < 2:
            raise ValueError(
                "The number of classes has to be greater than one; got 1 class: "
                f"{classes.tolist()[0]!r}."
            )
        self.classes_ = classes
