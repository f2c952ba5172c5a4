"""RegularizedMLPRegressor: target shaping and multi-output regression."""

from __future__ import annotations

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.dummy import DummyRegressor
from sklearn.utils import assert_all_finite

from ._base import _BaseRegularizedMLP
from ._inputs import TargetScale
from ._scaling import extreme_exponents
from ._validation import StrOptions, _fit_context


class RegularizedMLPRegressor(RegressorMixin, _BaseRegularizedMLP):
    """Multilayer perceptron regressor trained by Keras, with L1/L2, dropout and early stopping.

    The network is ``hidden_layer_sizes`` dense layers with a linear output per target, trained
    on the mean squared error plus the weight penalties. Multi-output targets are supported.

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(100,)
        Units of each hidden layer. An empty tuple is no hidden layer: a linear model
        (dropout then has no effect).
    loss : {"squared_error", "poisson"}, default="squared_error"
        ``"squared_error"``: the mean squared error, with a linear output. ``"poisson"``: the
        Poisson loss ``mean(mu - y * log(mu))`` with a log link (``mu = exp(output)``), for
        counts and rates; it needs ``y >= 0``. As in scikit-learn's MLPRegressor (whose
        losses are these halved).
    activation : {"relu", "prelu", "tanh", "sigmoid", "elu", "selu", "gelu", "silu", \
"linear"}, default="relu"
        Activation of the hidden layers. ``"prelu"`` is Keras' parametric ReLU
        (``keras.layers.PReLU``): a slope for negative inputs learned per unit, starting at
        0.25.
    l1 : float, default=0.0
        L1 penalty ``l1 * sum(|W|)`` on every dense kernel, added to each batch's loss.
    l2 : float, default=0.0
        L2 penalty ``l2 * sum(W**2)`` on every dense kernel, added to each batch's loss.
        ``MLPRegressor(alpha=a)`` with batch size ``b`` corresponds to ``l2 = a / b`` (it uses
        half the squared error); see :func:`skreg.regularizers.l2_from_sklearn_alpha`.
    dropout : float or sequence of float, default=0.15
        Dropout rate after each hidden layer (one for all, or one per layer); off at predict time.
    batch_normalization : bool, default=False
        Normalize each hidden layer's pre-activations over the batch.
    augmentation : augmentation object, list of them, or None, default=None
        Random transformations of the training batches, applied in order inside the compiled
        training step: :class:`~skreg.GaussianNoise`, :class:`~skreg.SwapNoise`,
        :class:`~skreg.Mixup` (the regressor mixes the target values) and
        :class:`~skreg.ImageAugmentation`. Seeded by ``random_state``; never applied to the
        early-stopping validation rows or in ``predict`` and ``score``. Grid search reaches
        the object's fields as ``augmentation__<field>``.
    early_stopping : bool, "best_epoch", "auto" or "train_loss", default="auto"
        Hold out ``validation_fraction`` of the data (a seeded split), stop when the monitored
        score has not improved by ``tol`` for ``n_iter_no_change`` epochs, and restore the best
        epoch's weights. ``"best_epoch"`` runs all ``max_iter`` epochs and keeps the best
        epoch's weights. ``"auto"`` is ``"best_epoch"`` on 100 rows or more and False below.
        When False, train for ``max_iter`` epochs on every row and keep the last.
        ``"train_loss"`` trains on every row and stops when the epoch's training loss has
        not improved by ``tol`` for ``n_iter_no_change`` epochs, keeping the last epoch's
        weights: scikit-learn's MLPs with ``early_stopping=False`` (which stop after one
        epoch more).
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
        What early stopping monitors: ``"loss"`` or a scikit-learn scorer (``"r2"``, ...).
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
        Mini-batch size; ``"auto"`` is ``min(200, n_samples)``.
    max_iter : int, default=200
        Maximum number of epochs.
    shuffle : bool, default=True
        Shuffle the training rows every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, dropout, augmentation, shuffling and the validation split.
    verbose : int, default=0
        1 prints one line per epoch (loss, validation loss, monitored score), as the
        epochs return from the compiled program: up to 32 at a time on small data.
        With scikit-learn >= 1.9, ``set_callbacks`` takes ``sklearn.callback``'s
        ``ProgressBar`` (a bar over the epochs) and ``ScoringMonitor`` (a score per epoch).
    warm_start : bool, default=False
        Continue training the fitted network on the next ``fit``.
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
        continued fit. Unlike ``l2``, it does not pass
        through Adam's normalization.
    regularization_schedule : {"constant", "flat_cosine"}, default="constant"
        ``"flat_cosine"`` multiplies the dropout rates and the weight decay, epoch by epoch,
        by RealMLP's flat-then-cosine schedule: 1 over the first half of ``max_iter``, then
        half a cosine down to 0, ``(1 + cos(pi (2 t - 1))) / 2`` at ``t = epoch / max_iter``.
        The fitted model keeps the rates given. ``l1`` and ``l2`` are not scheduled.
    target_scaling : bool, default=True
        Train on the standardized target (for ``loss="poisson"``, divided by its mean) and
        scale predictions back: the network's outputs start near 0, whatever the target's
        units. ``loss_curve_`` and the validation loss are on the scaled target.

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when X is a DataFrame with string column names.
    n_outputs_ : int
        Number of targets.
    coefs_ : list of ndarray
        The dense layers' weight matrices, input layer first, each ``(n_in, n_out)``, as in
        scikit-learn's MLPs.
    intercepts_ : list of ndarray
        The dense layers' bias vectors, input layer first.
    n_layers_ : int
        ``len(coefs_) + 1``, as scikit-learn's MLPRegressor counts its layers.
    out_activation_ : str
        ``"identity"``, or ``"exp"`` with ``loss="poisson"``, as scikit-learn names them.
    loss_ : float
        The training loss (penalty included) of the last epoch.
    best_loss_ : float or None
        The lowest training loss of the fit; None with early stopping, as in scikit-learn.
    model_ : keras.Model
        The trained network: it maps :meth:`network_inputs` (the preprocessed features,
        not ``X``) to the targets in the units it learned (standardized unless
        ``target_scaling=False``); load a saved one with :func:`skreg.load_keras_model`.
    history_ : dict of str to list of float
        Per-epoch ``"loss"``, ``"learning_rate"``, and with early stopping ``"val_loss"`` and
        ``"val_<scoring>"``.
    loss_curve_ : list of float
        ``history_["loss"]``.
    validation_scores_ : list of float or None
        Monitored validation score per epoch (negated loss for ``scoring="loss"``), over
        every continued call (NaN for epochs without early stopping); None when the last
        call had no early stopping.
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
    RegularizedMLPClassifier : The same network for classification.

    Examples
    --------
    >>> import numpy as np
    >>> from skreg import RegularizedMLPRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> y = X @ np.array([1.0, -2.0, 0.5])
    >>> reg = RegularizedMLPRegressor((32,), l2=1e-4, learning_rate=1e-2, max_iter=100,
    ...                               random_state=0).fit(X, y)
    >>> reg.predict(X[:3]).shape
    (3,)
    >>> reg.score(X, y) > 0.9
    True
    """

    _parameter_constraints: dict = {
        **_BaseRegularizedMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
        "target_scaling": ["boolean"],
    }

    _stratify_validation = False

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        *,
        loss="squared_error",
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
        target_scaling=True,
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
        self.loss = loss
        self.target_scaling = target_scaling

    @property
    def _loss(self) -> str:
        return "poisson" if self.loss == "poisson" else "mean_squared_error"

    @property
    def _output_activation(self) -> str | None:
        # The log link: the network's linear output is log(mu).
        return "exponential" if self.loss == "poisson" else None

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train the network on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-row weights of the loss.

        Returns
        -------
        self : RegularizedMLPRegressor
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Train for one epoch on ``(X, y)``, continuing from the current weights.

        The first call fixes how the columns are prepared (their scaling, the categorical
        levels, the target scaling): a level it did not see reads as unseen later, with a
        warning.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-row weights of the loss.

        Returns
        -------
        self : RegularizedMLPRegressor
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X):
        """Predict targets (dropout is off at predict time).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions; one-dimensional when there is one target.
        """
        outputs = self._predict_outputs(X)
        if self._fitted.target is not None:
            outputs = self._fitted.target.undo(outputs)
        return outputs.ravel() if self.n_outputs_ == 1 else outputs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    # Private helpers, in call order.

    def _y_checks(self):
        return {"multi_output": True, "y_numeric": True}

    def _encode_targets(self, y, *, continuing, classes, weights):
        Y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        # None in an object target becomes NaN only here (scikit-learn's check came before).
        assert_all_finite(Y, input_name="y")
        if self.loss == "poisson" and np.min(Y) < 0:
            raise ValueError(
                f"loss='poisson' needs y >= 0 (counts or rates); the smallest y is {np.min(Y):g}."
            )
        if continuing and Y.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {Y.shape[1]} targets, but the fitted network predicts {self.n_outputs_}."
            )
        if continuing:
            self._check_same_targets()
        self.n_outputs_ = Y.shape[1]
        target = self._fitted.target if continuing else self._target_scale(Y, weights)
        if target is not None:
            Y = target.apply(Y)
        Y = np.where(weights[:, None] > 0, Y, 0.0)  # rows that do not train: a finite loss
        reach = float(np.abs(Y).max())
        if reach > float(np.finfo(np.float32).max):
            raise ValueError(
                f"y reaches {reach:.3g}, beyond the range of float32 (3.4e+38), in which the "
                f"network trains: {self._target_scaling()}."
            )
        return Y.astype(np.float32), target

    def _check_same_targets(self):
        """A continued fit keeps the first fit's targets: their scale (fitted for its loss)
        and the loss the network's outputs were trained for. A new ``loss`` or
        ``target_scaling`` would train on targets that no longer fit them (a Poisson loss on
        standardized targets, below 0, predicted no lower than the old mean), so it is
        refused, as a new preparation of the columns is."""
        fitted = self._fitted
        had = {"loss": fitted.key.loss, "target_scaling": fitted.target is not None}
        wanted = {"loss": self._loss, "target_scaling": bool(self.target_scaling)}
        changed = [name for name in had if had[name] != wanted[name]]
        if changed:
            names = {"loss": self.loss}  # the parameter's value, not Keras' name of it
            raise ValueError(
                "warm_start and partial_fit continue the fitted network on its targets as "
                "they were scaled for its loss, but the new parameters change them ("
                + ", ".join(f"{n} -> {names.get(n, wanted[n])!r}" for n in changed)
                + "). Set warm_start=False to train a new network."
            )

    def _target_scale(self, Y, weights):
        """How the network's targets are scaled: standardized for the squared error, divided
        by their mean for the Poisson loss (whose targets must stay non-negative). The mean
        and standard deviation are weighted by the fit's weights, as the loss is: a row of
        weight 0 does not move them, and an integer weight counts as repeated rows."""
        if not self.target_scaling:
            return None
        # Moments of Y divided by a power of two (exact), so that targets near 1e300 do not
        # overflow the sums (an infinite std made every target 0 and the predictions inf),
        # nor those near 1e-300 underflow them (a std of 0 read as 1 gave targets of 0).
        Y, weights = Y[weights > 0], weights[weights > 0]
        exponent = extreme_exponents(Y)
        scaled = np.ldexp(Y, -exponent)
        if np.ptp(weights) == 0:  # equal weights: the plain moments
            mean, spread = scaled.mean(axis=0), scaled.std(axis=0)
        else:
            mean = np.average(scaled, axis=0, weights=weights)
            spread = np.sqrt(np.average((scaled - mean) ** 2, axis=0, weights=weights))
        mean = np.ldexp(mean, exponent)
        if self.loss == "poisson":
            return TargetScale(np.zeros_like(mean), np.where(mean > 0, mean, 1.0))
        std = np.ldexp(spread, exponent)
        return TargetScale(mean, np.where(std > 0, std, 1.0))

    def _reference_loss(self, data, train_rows) -> float:
        """The first epoch's loss, or, if larger, what predicting the first fit's mean (an
        output of 0) loses on this call's targets: a later batch whose targets lie far from
        the first's (rows arriving sorted, drift) starts with a large loss that is not a
        divergence; a divergence exceeds both a thousandfold."""
        first = super()._reference_loss(data, train_rows)
        if self.loss == "poisson":
            return first
        Y, weights = data.Y[train_rows], data.weights[train_rows]
        return max(first, float(np.average(np.mean(Y**2, axis=1), weights=weights)))

    def _target_scaling(self):
        if self.loss == "poisson":
            # A standardized target has negative values, which the Poisson loss refuses.
            return (
                "divide it by a positive constant (for example by its mean, and multiply the "
                "predictions back; or model rates instead of counts)"
            )
        return super()._target_scaling()

    def _baseline(self):
        # What the network can predict: the Poisson loss's log link predicts above 0.
        return _PositiveMean() if self.loss == "poisson" else DummyRegressor()


class _PositiveMean(DummyRegressor):
    """The mean target, or the smallest positive float32 where the mean is 0 (all-zero
    counts): the Poisson network's constant prediction, which its deviance can score."""

    def fit(self, X, y, sample_weight=None):
        super().fit(X, y, sample_weight)
        self.constant_ = np.maximum(self.constant_, np.finfo(np.float32).tiny)
        return self
