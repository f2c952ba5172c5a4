"""RegularizedMLPClassifier: label encoding and class probabilities."""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.dummy import DummyClassifier
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets, unique_labels

from ._base import _BaseRegularizedMLP
from ._training import require_some_weight
from ._validation import Interval, StrOptions, _fit_context


class _Classifier(ClassifierMixin):
    """What both classifiers add to scikit-learn's ClassifierMixin: log-probabilities and
    single-label tags."""

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities in the order of ``classes_``.
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags


class RegularizedMLPClassifier(_Classifier, _BaseRegularizedMLP):
    """Multilayer perceptron classifier trained by Keras, with L1/L2, dropout and early stopping.

    The network is ``hidden_layer_sizes`` dense layers with a softmax output over the classes,
    trained on the cross-entropy loss plus the weight penalties. Every regularizer is a
    constructor parameter, so :class:`~sklearn.model_selection.GridSearchCV` can search it.

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(100,)
        Units of each hidden layer. Fewer or smaller layers is the "smaller capacity" regularizer.
        An empty tuple is no hidden layer: a linear model (dropout then has no effect).
    activation : {"relu", "prelu", "tanh", "sigmoid", "elu", "selu", "gelu", "silu", \
"linear"}, default="relu"
        Activation of the hidden layers. ``"prelu"`` is Keras' parametric ReLU
        (``keras.layers.PReLU``): a slope for negative inputs learned per unit, starting at
        0.25.
    l1 : float, default=0.0
        L1 penalty ``l1 * sum(|W|)`` on every dense kernel, added to each batch's loss (Keras
        semantics). Pushes weights toward zero (to near zero with gradient-based optimizers): a
        sparse first layer points at the features that matter.
    l2 : float, default=0.0
        L2 penalty ``l2 * sum(W**2)`` on every dense kernel, added to each batch's loss.
        scikit-learn's ``MLPClassifier(alpha=a)`` with batch size ``b`` corresponds to
        ``l2 = a / (2 * b)``; see :func:`skreg.regularizers.l2_from_sklearn_alpha`.
    dropout : float or sequence of float, default=0.15
        Dropout rate after each hidden layer: one rate for all, or one per hidden layer. Inverted
        dropout: surviving activations are scaled by ``1 / (1 - rate)`` in training, and nothing is
        dropped at predict time.
    batch_normalization : bool, default=False
        Normalize each hidden layer's pre-activations over the batch.
    augmentation : augmentation object, list of them, or None, default=None
        Random transformations of the training batches, applied in order inside the compiled
        training step: :class:`~skreg.GaussianNoise`, :class:`~skreg.SwapNoise`,
        :class:`~skreg.Mixup` (the classifier mixes one-hot targets (soft targets)) and
        :class:`~skreg.ImageAugmentation`. Seeded by ``random_state``; never applied to the
        early-stopping validation rows or in ``predict`` and ``score``. Grid search reaches
        the object's fields as ``augmentation__<field>``.
    early_stopping : bool, "best_epoch", "auto" or "train_loss", default="auto"
        Hold out ``validation_fraction`` of the training data (a seeded split, stratified
        when every class can have a row on both sides), stop when the monitored score has not
        improved by ``tol`` for ``n_iter_no_change`` epochs and restore the best epoch's
        weights. ``"best_epoch"`` holds out the same rows but runs all ``max_iter`` epochs
        and keeps the best epoch's weights (the best epoch over a fixed budget). ``"auto"``
        is ``"best_epoch"`` on 100 rows or more and False below (where a validation split
        would leave too few rows to train and to judge on). When False, train for
        ``max_iter`` epochs on every row and keep the last. ``"train_loss"`` trains on every
        row and stops when the epoch's training loss has not improved by ``tol`` for
        ``n_iter_no_change`` epochs, keeping the last epoch's weights: scikit-learn's MLPs
        with ``early_stopping=False`` (which stop after one epoch more).
    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping; it must come to at least 2
        rows. 0 holds out nothing, as scikit-learn's MLPs allow without early stopping:
        ``"auto"`` is then False.
    n_iter_no_change : int, default=10
        Epochs without improvement before early stopping.
    tol : float, default=2e-3
        Minimum improvement of the monitored score, in absolute terms, that resets the
        early-stopping patience (as in scikit-learn's MLPs). The default suits the validation
        loss of standardized data; see the user guide's early-stopping section.
    scoring : str or callable, default="loss"
        What early stopping monitors: ``"loss"`` for the validation loss, or any scikit-learn
        scorer name (``"accuracy"``, ``"roc_auc"``, ...) or scorer callable, maximized.
    optimizer : {"adam", "adamw", "nadam", "rmsprop", "sgd", "adagrad"}, default="adam"
        Keras optimizer.
    learning_rate : float, default=2e-3
        The optimizer's learning rate at the start (scikit-learn's ``learning_rate_init``).
    learning_rate_schedule : {"auto", "constant", "invscaling", "adaptive", "cosine", \
            "coslog4"}, default="auto"
        How the learning rate moves from epoch to epoch. ``"coslog4"`` (RealMLP's) runs four
        cycles over ``max_iter`` epochs, each twice as long as the one before, each rising
        from 0 and annealing back. ``"auto"`` is ``"coslog4"``, or ``"constant"`` where the epochs
        are not known in advance: with ``early_stopping=True`` (coslog4's low points would
        stop the fit) and in ``partial_fit``. ``"invscaling"`` divides it by
        ``(t + 1) ** power_t``, ``t`` the training rows seen, and ``"adaptive"`` by 5 each
        time ``n_iter_no_change`` epochs in a row fail to lower the training loss by ``tol``,
        as scikit-learn's ``learning_rate`` schedules; ``"cosine"`` anneals it towards 0 over
        ``max_iter`` epochs. Every schedule runs in the same compiled program; the rate of
        each epoch is in ``history_["learning_rate"]``.
    power_t : float, default=0.5
        The exponent of ``"invscaling"``.
    batch_size : int or "auto", default="auto"
        Mini-batch size; ``"auto"`` is ``min(200, n_samples)`` as in scikit-learn.
    max_iter : int, default=200
        Maximum number of epochs.
    shuffle : bool, default=True
        Shuffle the training rows every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, dropout, augmentation, shuffling and the validation split.
        An int gives the same model every time, without touching global random state.
    verbose : int, default=0
        1 prints one line per epoch (loss, validation loss, monitored score), as the
        epochs return from the compiled program: up to 32 at a time on small data.
        With scikit-learn >= 1.9, ``set_callbacks`` takes ``sklearn.callback``'s
        ``ProgressBar`` (a bar over the epochs) and ``ScoringMonitor`` (a score per epoch).
    warm_start : bool, default=False
        Continue training the fitted network on the next ``fit`` instead of starting anew.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in the loss, as in scikit-learn; multiplied into ``sample_weight``.
    numeric_scaling : {"robust", "standard"} or None, default="robust"
        How numeric columns are scaled before the network: ``"robust"`` centres them on
        their median, divides by the interquartile range (by the range when that is 0) and
        clips smoothly, ``x / sqrt(1 + (x / 3)**2)``; ``"standard"`` uses the mean and
        standard deviation; None leaves them as they are (for your own pipeline's scaling).
        Missing values take the median either way. The network computes in float32: a
        scaled value beyond its range (about 3.4e38) raises a ValueError naming the column.
    max_onehot_levels : int or None, default=9
        Categorical columns (a DataFrame's ``category``, ``object``, string and ``bool``
        columns) with at most this many levels are one-hot encoded; those with more get a
        learned embedding of ``embedding_dim`` numbers per level. None one-hot encodes all.
        A level unseen in training is all zeros (one-hot) or its own "unseen" vector.
    missing_indicators : bool, default=True
        Add a 0/1 column for each numeric column that had missing values in training.
    embedding_dim : int, default=8
        Size of the learned embedding of a categorical column with many levels.
    numeric_embedding : {"periodic", "piecewise_linear"} or None, default="periodic"
        ``"periodic"`` also feeds each numeric column through learned periodic features
        (RealMLP's PBLD embeddings: ``W cos(2 pi (w x + b)) + c``, 16 frequencies, 3 numbers
        per column), so that a threshold or a bump in one column is easy to learn;
        ``"piecewise_linear"`` as 8 piecewise-linear columns over the quantile bins of its
        training values instead, centred (Gorishniy et al. 2022; cheaper on wide tables);
        None feeds the columns as they are. See the user guide for their measured effects.
    scaling_layer : bool, default=True
        Learn a scale per input column, starting at 1, before the first layer (RealMLP's
        scaling layer, learned 6 times faster than the other weights).
    beta_1 : float, default=0.9
        Adam's and Nadam's decay rate of the gradients' moving average. The network
        trains in float32, so both betas are at most 0.99999994 (below 1 there).
    beta_2 : float, default=0.95
        Adam's and Nadam's decay rate of the squared gradients' moving average. 0.95 (as
        RealMLP) rather than Keras' and scikit-learn's 0.999: the step size adapts faster.
    epsilon : float, default=1e-7
        Added to the denominator of Adam's, Nadam's, RMSprop's and Adagrad's steps; at
        least 1.2e-38, float32's smallest normal number.
    weight_decay : float or None, default=None
        Decoupled weight decay of the dense kernels, ``W -= learning_rate * weight_decay *
        W`` at each step, before its gradient update (AdamW's, for any optimizer); None
        keeps the optimizer's own (0.004 for ``"adamw"``, none for the others), also on a
        continued fit. Unlike ``l2``, it does not pass through Adam's normalization.
    regularization_schedule : {"constant", "flat_cosine"}, default="constant"
        ``"flat_cosine"`` multiplies the dropout rates and the weight decay, epoch by epoch,
        by RealMLP's flat-then-cosine schedule: 1 over the first half of ``max_iter``, then
        half a cosine down to 0, ``(1 + cos(pi (2 t - 1))) / 2`` at ``t = epoch / max_iter``.
        The fitted model keeps the rates given. ``l1`` and ``l2`` are not scheduled.
    label_smoothing : float, default=0.1
        Train on targets ``(1 - label_smoothing) * one_hot + label_smoothing / n_classes``:
        the network is not pushed to ever more confident logits.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when X is a DataFrame with string column names.
    n_outputs_ : int
        As in scikit-learn: 1 for two classes, else the number of classes.
    coefs_ : list of ndarray
        The dense layers' weight matrices, input layer first, each ``(n_in, n_out)``, as in
        scikit-learn's MLPs; the last has a column per class, also for two classes.
    intercepts_ : list of ndarray
        The dense layers' bias vectors, input layer first.
    n_layers_, out_activation_ : int and str
        ``len(coefs_) + 1`` and ``"softmax"``: the network has a softmax unit per class, also
        for two classes (scikit-learn's binary MLP has one logistic unit).
    loss_ : float
        The training loss (penalty included) of the last epoch.
    best_loss_ : float or None
        The lowest training loss of the fit; None with early stopping, as in scikit-learn.
    model_ : keras.Model
        The trained network: it maps :meth:`network_inputs` (the preprocessed features,
        not ``X``) to class probabilities; save it with ``model_.save`` and load it with
        :func:`skreg.load_keras_model`.
    history_ : dict of str to list of float
        Per-epoch ``"loss"`` (training loss, penalty included), ``"learning_rate"``, and with
        early stopping ``"val_loss"`` and ``"val_<scoring>"``.
    loss_curve_ : list of float
        ``history_["loss"]``.
    validation_scores_ : list of float or None
        Monitored validation score per epoch (the negated validation loss when
        ``scoring="loss"``), over every continued call (NaN for epochs without early
        stopping); None when the last call had no early stopping.
    best_validation_score_ : float or None
        The score at ``best_epoch_``: the best of the last call, whose best weights the
        model holds.
    best_epoch_ : int
        Epoch (counted from 1) whose weights the model holds.
    n_iter_ : int
        Number of epochs run.
    t_ : int
        Number of training rows seen by the optimizer (epochs times training rows), as in
        scikit-learn; ``"invscaling"`` decays with it.
    feature_importances_ : ndarray of shape (`n_features_in_`,)
        L1 norm of each feature's weights in the first layer, normalized to sum to 1; with
        ``l1``, :class:`~sklearn.feature_selection.SelectFromModel` selects features by it.

    See Also
    --------
    RegularizedMLPRegressor : The same network for regression.
    sklearn.neural_network.MLPClassifier : scikit-learn's MLP (L2 only).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skreg import RegularizedMLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = RegularizedMLPClassifier((16,), l2=1e-3, dropout=0.1, learning_rate=1e-2,
    ...                                batch_size=16, max_iter=50, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    >>> clf.score(X, y) > 0.9
    True
    """

    _parameter_constraints: dict = {
        **_BaseRegularizedMLP._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
    }

    _output_activation = "softmax"
    _loss = "categorical_crossentropy"
    _stratify_validation = True

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
        class_weight=None,
        label_smoothing=0.1,
    ):
        super().__init__(
            hidden_layer_sizes,
            activation=activation,
            l1=l1,
            l2=l2,
            dropout=dropout,
            batch_normalization=batch_normalization,
            augmentation=augmentation,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            scoring=scoring,
            optimizer=optimizer,
            learning_rate=learning_rate,
            learning_rate_schedule=learning_rate_schedule,
            power_t=power_t,
            batch_size=batch_size,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            verbose=verbose,
            warm_start=warm_start,
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

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train the network on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels (any hashable type).
        sample_weight : array-like of shape (n_samples,), default=None
            Per-row weights of the loss (a weighted mean over each batch).

        Returns
        -------
        self : RegularizedMLPClassifier
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train for one epoch on ``(X, y)``, continuing from the current weights.

        The first call fixes how the columns are prepared (their scaling, the categorical levels,
        the target scaling): a level it did not see reads as unseen later, with a warning.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels.
        classes : array-like of shape (n_classes,), default=None
            Every class that will ever appear, each once; required on the first call.
            Third, as in SGDClassifier: pass ``sample_weight`` by keyword.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-row weights of the loss.

        Returns
        -------
        self : RegularizedMLPClassifier
            The fitted estimator.
        """
        if classes is None and not hasattr(self, "classes_"):
            raise ValueError("classes must be passed on the first call to partial_fit.")
        listed = np.asarray([] if classes is None else classes)
        if listed.ndim == 1 and len(np.unique(listed)) < len(listed):  # weights, likely
            raise ValueError(
                f"classes lists each class once, but holds {len(listed)} values for "
                f"{len(np.unique(listed))} classes: skreg takes classes third, as SGDClassifier;"
                " pass sample_weight= by keyword (scikit-learn's MLPClassifier takes it third)."
            )
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            The most probable class of each row.
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def predict_proba(self, X):
        """Class probabilities (dropout is off at predict time).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``; binary problems give two columns.
        """
        proba = self._predict_outputs(X)
        return proba / proba.sum(axis=1, keepdims=True)

    # Private helpers, in call order.

    def _encode_targets(self, y, *, continuing, classes, weights):
        check_classification_targets(y)
        if continuing:
            known = self.classes_
            if classes is not None and not np.array_equal(unique_labels(classes), known):
                raise ValueError(
                    f"classes={classes!r} is not the same as on the first call to partial_fit "
                    f"or fit, was: {known!r}."
                )
        else:
            known = unique_labels(classes if classes is not None else y)
        unseen = np.setdiff1d(unique_labels(y), known)
        if unseen.size:
            raise ValueError(f"y contains labels not in classes_ {known!r}: {unseen!r}.")
        if len(known) < 2:
            raise ValueError(
                "The number of classes has to be greater than one; got 1 class: "
                f"{known.tolist()[0]!r}."
            )
        self.classes_ = known
        # scikit-learn's meaning: one output for two classes (the network has a unit each).
        self.n_outputs_ = 1 if len(known) == 2 else len(known)
        return np.eye(len(known), dtype=np.float32)[np.searchsorted(known, y)], None

    def _sample_weight(self, X, y, sample_weight, incremental, classes):
        sample_weight = super()._sample_weight(X, y, sample_weight, incremental, classes)
        if self.class_weight is None:
            return sample_weight
        check_classification_targets(y)  # before the class weights read the labels
        if incremental and self.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' is not supported by partial_fit, which sees one batch "
                "of the data; pass a dict of class weights instead."
            )
        if classes is None and (incremental or self.warm_start) and hasattr(self, "_fitted"):
            classes = self.classes_
        labels = unique_labels(y) if classes is None else unique_labels(classes, y)
        class_weights = per_row_class_weights(self.class_weight, labels, y, sample_weight)
        if not np.all(np.isfinite(class_weights) & (class_weights >= 0)):
            raise ValueError(
                f"class_weight must give every class a finite, non-negative weight; got "
                f"{self.class_weight!r}."
            )
        sample_weight = sample_weight * class_weights
        require_some_weight(sample_weight, "The weights (sample_weight times class_weight)")
        return sample_weight

    def _baseline(self):
        return DummyClassifier(strategy="prior")


def per_row_class_weights(class_weight, classes, y, sample_weight) -> np.ndarray:
    """Each row's weight from ``class_weight``, as scikit-learn's estimators compute it:
    a dict over every class of the fit (``classes``, also those a ``partial_fit`` batch
    lacks, as SGDClassifier's), ``"balanced"`` from the classes' summed ``sample_weight``
    (as LogisticRegression's, SVC's and the forests' in scikit-learn 1.9; written out here
    for the older versions skreg supports): an integer weight then counts as repeated rows,
    and a row of weight zero as no row. A class whose rows all weigh zero gets 0."""
    codes = np.searchsorted(classes, y)
    if class_weight != "balanced":
        return compute_class_weight(class_weight, classes=classes, y=y)[codes]
    totals = np.bincount(codes, weights=sample_weight, minlength=len(classes))
    n_classes = np.count_nonzero(np.bincount(codes, minlength=len(classes)))
    with np.errstate(divide="ignore", invalid="ignore"):
        per_class = np.where(totals > 0, totals.sum() / (n_classes * totals), 0.0)
    return per_class[codes]
