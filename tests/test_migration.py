"""Coming from scikit-learn's MLPs: every argument works or names its equivalent, the fitted
attributes mean the same, the Poisson loss, and metadata routing."""

import inspect

import numpy as np
import pytest
import sklearn
from plain import plain
from sklearn.base import clone
from sklearn.datasets import load_iris, make_classification
from sklearn.exceptions import NotFittedError
from sklearn.metrics import accuracy_score, make_scorer, mean_poisson_deviance
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_validate
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skreg import (
    GaussianNoise,
    RegularizedMLPClassifier,
    RegularizedMLPClassifierCV,
    RegularizedMLPRegressor,
    RegularizedMLPRegressorCV,
)
from skreg._migration import SKLEARN_ONLY

PAIRS = [(MLPClassifier, RegularizedMLPClassifier), (MLPRegressor, RegularizedMLPRegressor)]


@pytest.mark.parametrize(("sklearn_mlp", "skreg_mlp"), PAIRS)
def test_every_mlp_argument_is_taken_or_refused_naming_its_equivalent(sklearn_mlp, skreg_mlp):
    # Every constructor argument, at scikit-learn's default, which covers the arguments of
    # scikit-learn's MLP examples (alpha, solver, learning_rate_init, momentum, ...).
    defaults = sklearn_mlp().get_params()
    taken = []
    for name, value in defaults.items():
        try:
            model = skreg_mlp(**{name: value})
        except TypeError as error:
            assert name in SKLEARN_ONLY
            assert f"instead of {name}, use " in str(error)
            with pytest.raises(ValueError, match=f"instead of {name}, use "):
                skreg_mlp().set_params(**{name: value})
            continue
        assert model.get_params()[name] == value
        taken.append(name)
    assert "learning_rate" in taken  # scikit-learn's schedule name, refused at fit


@pytest.mark.parametrize("schedule", ["constant", "invscaling", "adaptive"])
def test_a_schedule_name_as_learning_rate_says_what_skreg_means_by_it(schedule):
    X, y = load_iris(return_X_y=True)
    with pytest.raises(
        ValueError, match=f"learning_rate_init.*learning_rate_schedule='{schedule}'"
    ):
        RegularizedMLPClassifier(learning_rate=schedule).fit(X, y)


@pytest.mark.parametrize("estimator", [RegularizedMLPClassifierCV, RegularizedMLPRegressorCV])
def test_the_cv_estimators_answer_scikit_learns_arguments_alike(estimator):
    with pytest.raises(TypeError, match="instead of alpha, use l2, or the CV estimators' l2s"):
        estimator(alpha=1e-4)
    with pytest.raises(ValueError, match="instead of solver, use optimizer"):
        estimator().set_params(solver="adam")
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="learning_rate_schedule='adaptive'"):
        estimator(learning_rate="adaptive").fit(X, y)


@pytest.mark.parametrize(
    "estimator", [RegularizedMLPClassifier, RegularizedMLPClassifierCV, RegularizedMLPRegressor]
)
def test_a_field_inside_a_list_of_augmentations_names_the_search_that_works(estimator):
    # scikit-learn's own answer: "'list' object has no attribute 'set_params'".
    model = estimator(augmentation=[GaussianNoise(0.1)])
    with pytest.raises(ValueError, match=r"augmentation holds a list.*search over whole lists"):
        model.set_params(augmentation__std=0.2)
    assert model.augmentation[0].std == 0.1
    single = estimator(augmentation=GaussianNoise(0.1)).set_params(augmentation__std=0.2)
    assert single.augmentation.std == 0.2


@pytest.mark.parametrize(
    ("alias", "keras_name"), [("logistic", "sigmoid"), ("identity", "linear")]
)
def test_scikit_learn_activation_names_are_keras_ones(alias, keras_name):
    X, y = load_iris(return_X_y=True)
    params = dict(hidden_layer_sizes=(5,), max_iter=3, random_state=0)
    named = RegularizedMLPClassifier(activation=alias, **params).fit(X, y)
    same = RegularizedMLPClassifier(activation=keras_name, **params).fit(X, y)
    np.testing.assert_array_equal(named.predict_proba(X), same.predict_proba(X))
    assert named.get_params()["activation"] == alias


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)


def test_coefs_and_intercepts_have_scikit_learns_layout_and_give_the_predictions():
    X, y = load_iris(return_X_y=True)
    plain_clf = RegularizedMLPClassifier(**plain(RegularizedMLPClassifier))
    clf = plain_clf.set_params(hidden_layer_sizes=(6, 4), max_iter=5, random_state=0).fit(X, y)
    reference = MLPClassifier((6, 4), max_iter=1).fit(X, y)
    assert [c.shape for c in clf.coefs_] == [c.shape for c in reference.coefs_]
    assert [b.shape for b in clf.intercepts_] == [b.shape for b in reference.intercepts_]
    hidden = X
    for kernel, bias in zip(clf.coefs_[:-1], clf.intercepts_[:-1]):
        hidden = np.maximum(hidden @ kernel + bias, 0)
    logits = hidden @ clf.coefs_[-1] + clf.intercepts_[-1]
    np.testing.assert_allclose(softmax(logits), clf.predict_proba(X), rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="read-only"):
        clf.coefs_[0][0, 0] = 1.0


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_n_outputs_loss_and_best_loss_mean_what_they_mean_in_scikit_learn():
    X, y = make_classification(n_samples=80, n_features=4, random_state=0)
    for labels in (y, np.arange(80) % 3):
        ours = RegularizedMLPClassifier((4,), max_iter=3, random_state=0).fit(X, labels)
        theirs = MLPClassifier((4,), max_iter=3, random_state=0).fit(X, labels)
        assert ours.n_outputs_ == theirs.n_outputs_
    assert ours.loss_ == ours.loss_curve_[-1]
    assert ours.best_loss_ == min(ours.loss_curve_)
    stopped = RegularizedMLPClassifier((4,), max_iter=3, early_stopping=True, random_state=0)
    assert stopped.fit(X, labels).best_loss_ is None


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_n_layers_and_out_activation_name_what_scikit_learns_mlps_name():
    X, y = make_classification(n_samples=60, n_features=4, random_state=0)
    labels = np.arange(60) % 3
    for sizes in [(), (4,), (5, 3)]:
        ours = RegularizedMLPClassifier(sizes, max_iter=2, random_state=0).fit(X, labels)
        theirs = MLPClassifier(sizes, max_iter=2, random_state=0).fit(X, labels)
        assert (ours.n_layers_, ours.out_activation_) == (theirs.n_layers_, "softmax")
        assert ours.n_layers_ == len(ours.coefs_) + 1
    # Two classes: a unit per class and a softmax (scikit-learn: one logistic unit).
    binary = RegularizedMLPClassifier((4,), max_iter=2, random_state=0).fit(X, y)
    assert binary.out_activation_ == "softmax"
    counts = np.random.default_rng(0).poisson(2.0, size=60)
    for loss, name in [("squared_error", "identity"), ("poisson", "exp")]:
        ours = RegularizedMLPRegressor((4,), loss=loss, max_iter=2, random_state=0).fit(X, counts)
        assert (ours.n_layers_, ours.out_activation_) == (3, name)
        if "loss" in MLPRegressor().get_params():  # scikit-learn >= 1.7
            theirs = MLPRegressor(hidden_layer_sizes=(4,), loss=loss, max_iter=2).fit(X, counts)
            assert (theirs.n_layers_, theirs.out_activation_) == (3, name)
    with pytest.raises(NotFittedError):
        assert RegularizedMLPRegressor().out_activation_


def test_the_poisson_loss_is_half_the_poisson_deviance_up_to_a_constant_in_mu():
    # mean(mu - y log mu) = mean_poisson_deviance / 2 - mean(y log y - y), with 0 log 0 = 0.
    import keras

    from skreg._engine._network import LOSSES

    rng = np.random.default_rng(0)
    y = rng.poisson(3.0, size=(50, 1)).astype(np.float32)
    mu = rng.uniform(0.5, 6.0, size=(50, 1)).astype(np.float32)
    loss = keras.ops.convert_to_numpy(LOSSES["poisson"](y, np.log(mu)))
    y_log_y = np.where(y > 0, y * np.log(np.where(y > 0, y, 1)), 0.0)
    expected = mean_poisson_deviance(y.ravel(), mu.ravel()) / 2 - np.mean(y_log_y - y)
    np.testing.assert_allclose(np.mean(loss), expected, rtol=1e-5)


def test_the_poisson_regressor_fits_counts_better_than_squared_error():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 3))
    counts = rng.poisson(np.exp(0.8 * X[:, 0] - 0.5 * X[:, 1] + 0.3))
    params = dict(plain(RegularizedMLPRegressor), hidden_layer_sizes=(16,), learning_rate=1e-2,
                  max_iter=60, random_state=0)  # fmt: skip
    poisson = RegularizedMLPRegressor(loss="poisson", **params).fit(X[:400], counts[:400])
    squared = RegularizedMLPRegressor(**params).fit(X[:400], counts[:400])
    predicted = poisson.predict(X[400:])
    assert predicted.min() > 0
    positive = np.clip(squared.predict(X[400:]), 1e-3, None)  # the deviance needs mu > 0
    deviance = mean_poisson_deviance(counts[400:], predicted)
    assert deviance < mean_poisson_deviance(counts[400:], positive)
    with pytest.raises(ValueError, match="loss='poisson' needs y >= 0"):
        RegularizedMLPRegressor(loss="poisson").fit(X, counts - 5.0)


def test_sample_weight_and_groups_are_routed_through_a_pipeline_a_search_and_cv():
    X, y = make_classification(n_samples=120, n_features=5, random_state=0)
    weights = np.random.default_rng(0).uniform(0.0, 3.0, size=len(y))
    groups = np.arange(len(y)) % 4
    network = RegularizedMLPClassifier((8,), max_iter=5, random_state=0)

    def weighted_fit(rows):
        return make_pipeline(StandardScaler(), clone(network)).fit(
            X[rows], y[rows], regularizedmlpclassifier__sample_weight=weights[rows]
        )

    everything = np.arange(len(y))
    expected = weighted_fit(everything).predict_proba(X)
    unweighted = make_pipeline(StandardScaler(), clone(network)).fit(X, y).predict_proba(X)
    assert not np.allclose(expected, unweighted)
    # The test folds must be scored with their weights: the score of GroupKFold's first fold.
    train, test = next(GroupKFold(4).split(X, y, groups))
    weighted_score = accuracy_score(
        y[test], weighted_fit(train).predict(X[test]), sample_weight=weights[test]
    )
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pipeline(
            StandardScaler().set_fit_request(sample_weight=False),
            clone(network).set_fit_request(sample_weight=True),
        )
        scorer = make_scorer(accuracy_score).set_score_request(sample_weight=True)
        search = GridSearchCV(
            pipe, {"regularizedmlpclassifier__l2": [0.0]}, cv=GroupKFold(4), scoring=scorer
        ).fit(X, y, sample_weight=weights, groups=groups)
        scores = cross_validate(
            pipe, X, y, cv=GroupKFold(4), scoring=scorer,
            params={"sample_weight": weights, "groups": groups},
        )["test_score"]  # fmt: skip
    np.testing.assert_array_equal(search.best_estimator_.predict_proba(X), expected)
    assert search.cv_results_["split0_test_score"][0] == pytest.approx(weighted_score)
    assert scores[0] == pytest.approx(weighted_score)


def test_every_refused_name_is_a_scikit_learn_mlp_argument():
    names = set()
    for sklearn_mlp, _ in PAIRS:
        names |= set(inspect.signature(sklearn_mlp).parameters)
    assert set(SKLEARN_ONLY) <= names


def _patience_stop(curve, patience, tol):
    """The epoch at which ``patience`` epochs in a row failed to lower ``curve`` by ``tol``
    (any lower value becoming the best), or its length."""
    best, bad = np.inf, 0
    for epoch, loss in enumerate(curve, start=1):
        bad = 0 if loss < best - tol else bad + 1
        best = min(best, loss)
        if bad >= patience:
            return epoch
    return len(curve)


def test_train_loss_stops_on_the_training_loss_as_scikit_learns_mlp_without_early_stopping():
    # scikit-learn's MLPs with early_stopping=False (their default) still stop when the
    # training loss plateaus; skreg's False runs max_iter epochs, so no argument of the
    # migration table gave that behaviour.
    X, y = make_classification(300, 10, n_informative=6, random_state=0)
    X = StandardScaler().fit_transform(X)
    params = dict(hidden_layer_sizes=(16,), tol=1e-2, max_iter=150, random_state=0)
    clf = RegularizedMLPClassifier(**params, early_stopping="train_loss", n_iter_no_change=4)
    clf.fit(X, y)
    assert clf.n_iter_ == _patience_stop(clf.loss_curve_, 4, 1e-2) < 150
    assert clf.best_epoch_ == clf.n_iter_ and clf.validation_scores_ is None
    # The last epoch's weights, every row trained on (no validation split).
    last = RegularizedMLPClassifier(**{**params, "max_iter": clf.n_iter_}, early_stopping=False,
                                    learning_rate_schedule="constant").fit(X, y)  # fmt: skip
    np.testing.assert_array_equal(clf.predict_proba(X), last.predict_proba(X))
    # scikit-learn's rule is the same one epoch later: n_iter_no_change=3 there is 4 here.
    mlp = MLPClassifier(**params, n_iter_no_change=3).fit(X, y)
    assert mlp.n_iter_ == _patience_stop(mlp.loss_curve_, 4, 1e-2)
