"""RegularizedMLPRegressor: target shaping and multi-output regression."""

from __future__ import annotations

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.dummy import DummyRegressor

from ._base import _BaseRegularizedMLP
from ._validation import StrOptions, _fit_context


class RegularizedMLPRegressor(RegressorMixin, _BaseRegularizedMLP):
    """Multilayer perceptron regressor trained by Keras, with L1/L2, dropout and early stopping.

    The network is ``hidden_layer_sizes`` dense layers with a linear output per target, trained
    on the mean squared error plus the weight penalties. Multi-output targets are supported.

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(100,)
        Units of each hidden layer.
    loss : {"squared_error", "poisson"}, default="squared_error"
        ``"squared_error"``: the mean squared error, with a linear output. ``"poisson"``: the
        Poisson loss ``mean(mu - y * log(mu))`` with a log link (``mu = exp(output)``), for
        counts and rates; it needs ``y >= 0``. As in scikit-learn's MLPRegressor (whose
        losses are these halved).
    activation : {"relu", "tanh", "sigmoid", "elu", "selu", "gelu", "silu", "linear"}, \
            default="relu"
        Activation of the hidden layers.
    l1 : float, default=0.0
        L1 penalty ``l1 * sum(|W|)`` on every dense kernel, added to each batch's loss.
    l2 : float, default=0.0
        L2 penalty ``l2 * sum(W**2)`` on every dense kernel, added to each batch's loss.
        ``MLPRegressor(alpha=a)`` with batch size ``b`` corresponds to ``l2 = a / b`` (it uses
        half the squared error); see :func:`skreg.regularizers.l2_from_sklearn_alpha`.
    dropout : float or sequence of float, default=0.0
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
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (a seeded split), stop when the monitored
        score has not improved by ``tol`` for ``n_iter_no_change`` epochs, and restore the best
        epoch's weights.
    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping; it must come to at least 2
        rows.
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
    learning_rate : float, default=1e-3
        The optimizer's learning rate at the start (scikit-learn's ``learning_rate_init``).
    learning_rate_schedule : {"constant", "invscaling", "adaptive", "cosine"}, \
            default="constant"
        How the learning rate moves from epoch to epoch. ``"invscaling"`` divides it by
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
        1 prints one line per epoch.
        With scikit-learn >= 1.9, ``set_callbacks`` takes ``sklearn.callback``'s
        ``ProgressBar`` (a bar over the epochs) and ``ScoringMonitor`` (a score per epoch).
    warm_start : bool, default=False
        Continue training the fitted network on the next ``fit``.

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
    loss_ : float
        The training loss (penalty included) of the last epoch.
    best_loss_ : float or None
        The lowest training loss of the fit; None with early stopping, as in scikit-learn.
    model_ : keras.Model
        The trained network.
    history_ : dict of str to list of float
        Per-epoch ``"loss"``, ``"learning_rate"``, and with early stopping ``"val_loss"`` and
        ``"val_<scoring>"``.
    loss_curve_ : list of float
        ``history_["loss"]``.
    validation_scores_ : list of float or None
        Monitored validation score per epoch (negated loss for ``scoring="loss"``).
    best_validation_score_ : float or None
        Best of ``validation_scores_``.
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
        )
        self.loss = loss

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
        return outputs.ravel() if self.n_outputs_ == 1 else outputs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    # Private helpers, in call order.

    def _y_checks(self):
        return {"multi_output": True, "y_numeric": True}

    def _encode_targets(self, y, *, continuing, classes):
        reach = float(np.abs(y).max())
        if reach > float(np.finfo(np.float32).max):
            raise ValueError(
                f"y reaches {reach:.3g}, beyond the range of float32 (3.4e+38), in which the "
                f"network trains: {self._target_scaling()}."
            )
        if self.loss == "poisson" and np.min(y) < 0:
            raise ValueError(
                f"loss='poisson' needs y >= 0 (counts or rates); the smallest y is {np.min(y):g}."
            )
        Y = np.asarray(y, dtype=np.float32).reshape(len(y), -1)
        if continuing and Y.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {Y.shape[1]} targets, but the fitted network predicts {self.n_outputs_}."
            )
        self.n_outputs_ = Y.shape[1]
        return Y

    def _target_scaling(self):
        if self.loss == "poisson":
            # A standardized target has negative values, which the Poisson loss refuses.
            return (
                "divide it by a positive constant (for example by its mean, and multiply the "
                "predictions back; or model rates instead of counts)"
            )
        return super()._target_scaling()

    def _baseline(self):
        return DummyRegressor()
