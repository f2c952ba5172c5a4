"""RegularizedMLPClassifier: labels, probabilities, scikit-learn workflows, bad input."""

import warnings

import numpy as np
import pandas as pd
import pytest
from plain import plain
from sklearn.base import clone, is_classifier
from sklearn.datasets import load_iris
from sklearn.metrics import accuracy_score, recall_score
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedKFold,
    check_cv,
    cross_val_score,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_class_weight

import skreg._base
from skreg import RegularizedMLPClassifier


def small(**params):
    defaults = dict(hidden_layer_sizes=(16,), learning_rate=1e-2, max_iter=30, random_state=0)
    return RegularizedMLPClassifier(**{**plain(RegularizedMLPClassifier), **defaults, **params})


def test_is_classifier_so_cross_validation_stratifies(classification_data):
    X, y = classification_data
    clf = small(max_iter=10)
    assert is_classifier(clf)
    assert isinstance(check_cv(5, y, classifier=is_classifier(clf)), StratifiedKFold)
    scores = cross_val_score(clf, X, y, cv=5)
    assert scores.shape == (5,) and scores.mean() > 0.6


def test_grid_search_over_penalties_in_pipeline(classification_data):
    X, y = classification_data
    pipe = make_pipeline(StandardScaler(), small(max_iter=5))
    grid = {
        "regularizedmlpclassifier__l1": [0.0, 1e-3],
        "regularizedmlpclassifier__l2": [0.0, 1e-3],
        "regularizedmlpclassifier__dropout": [0.0, 0.2],
        "regularizedmlpclassifier__hidden_layer_sizes": [(8,), (8, 8)],
    }
    search = GridSearchCV(pipe, grid, cv=2).fit(X, y)
    assert len(search.cv_results_["params"]) == 16
    best = search.best_estimator_[-1]
    assert (
        best.hidden_layer_sizes
        == search.best_params_["regularizedmlpclassifier__hidden_layer_sizes"]
    )
    hidden = [layer.units for layer in best.model_.layers if layer.name.startswith("hidden_")]
    assert tuple(hidden) == best.hidden_layer_sizes


def test_clone_keeps_every_setting():
    clf = RegularizedMLPClassifier(
        (7, 5),
        activation="tanh",
        l1=1e-4,
        l2=1e-3,
        dropout=(0.3, 0.1),
        batch_normalization=True,
        early_stopping=True,
        validation_fraction=0.2,
        n_iter_no_change=3,
        tol=1e-3,
        scoring="roc_auc_ovr",
        optimizer="sgd",
        learning_rate=0.05,
        batch_size=16,
        max_iter=7,
        shuffle=False,
        random_state=3,
        verbose=0,
        warm_start=True,
        class_weight="balanced",
    )
    assert clone(clf).get_params() == clf.get_params()


def test_dataframe_feature_names_are_recorded_and_checked(classification_data):
    X, y = classification_data
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    clf = small(max_iter=3).fit(df, y)
    np.testing.assert_array_equal(clf.feature_names_in_, df.columns)
    with pytest.warns(UserWarning, match="valid feature names"):
        from_array = clf.predict_proba(X)
    np.testing.assert_allclose(clf.predict_proba(df), from_array)
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(df.rename(columns={"f0": "other"}))


@pytest.mark.parametrize(
    "labels", [np.array(["b", "a", "c"]), np.array([10, 3, 7]), np.array([-1.0, 2.0, 9.0])]
)
def test_string_and_noncontiguous_labels(classification_data, labels):
    X, y = classification_data
    y_labels = labels[y]
    clf = small().fit(X, y_labels)
    np.testing.assert_array_equal(clf.classes_, np.sort(labels))
    predictions = clf.predict(X)
    assert set(predictions) <= set(labels)
    assert np.mean(predictions == y_labels) > 0.8


def test_binary_predict_proba_has_two_columns(binary_data):
    X, y = binary_data
    proba = small().fit(X, y).predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


@pytest.mark.parametrize(
    "X, y, message",
    [
        (np.array([[0.0, np.inf], [1.0, 2.0]]), [0, 1], "infinity"),
        (np.array([0.0, 1.0, 2.0]), [0, 1, 0], "Expected 2D array"),
        (np.empty((0, 3)), [], "0 sample"),
        (np.array([[1 + 1j, 2.0], [3.0, 4.0]]), [0, 1], "Complex data not supported"),
        (np.array([["a", "b"], ["c", "d"]], dtype=object), [0, 1], "could not convert"),
        (np.ones((4, 2)), [1, 1, 1, 1], "has to be greater than one"),
        (
            np.ones((4, 2)),
            np.eye(4, 2, dtype=int),
            r"y should be a 1d array.*wrap it in sklearn\.multioutput\.MultiOutputClassifier",
        ),
    ],
    ids=["inf", "1d", "empty", "complex", "object-strings", "single-class", "multilabel"],
)
def test_bad_input_raises_sklearn_errors_before_keras(monkeypatch, X, y, message):
    def fail(*args, **kwargs):
        raise AssertionError("the engine was called before input validation failed")

    for door in ("fit", "predict", "loss", "load"):
        monkeypatch.setattr(skreg._engine, door, fail)
    clf = small()
    with pytest.raises(ValueError, match=message):
        clf.fit(X, y)
    assert not hasattr(clf, "model_")


def test_wrong_number_of_features_at_predict(classification_data):
    X, y = classification_data
    clf = small(max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :-1])


def test_diverging_fit_raises_and_leaves_previous_model_usable(classification_data):
    X, y = classification_data
    clf = small(max_iter=5).fit(X, y)
    expected = clf.predict_proba(X)
    weights = [w.copy() for w in clf.model_.get_weights()]
    # Overflowing inputs make the very first batch loss non-finite.
    X_huge = np.full_like(X, 3e38)
    with pytest.raises(FloatingPointError, match="diverged"):
        clf.fit(X_huge, y)
    np.testing.assert_array_equal(clf.predict_proba(X), expected)
    # A warm-started fit trains the same Keras model in place: its weights must come back.
    clf.set_params(warm_start=True, learning_rate=1e30)
    with pytest.raises(FloatingPointError):
        clf.fit(X_huge, y)
    for before, after in zip(weights, clf.model_.get_weights()):
        np.testing.assert_array_equal(before, after)
    np.testing.assert_array_equal(clf.predict_proba(X), expected)


def test_partial_fit_needs_classes_then_trains_one_epoch_per_call(classification_data):
    X, y = classification_data
    clf = small()
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[:100], y[:100], classes=np.unique(y))
    loss_after_one = clf.loss_curve_[-1]
    for _ in range(20):
        clf.partial_fit(X, y)
    assert clf.n_iter_ == 21
    assert clf.loss_curve_[-1] < loss_after_one
    with pytest.raises(ValueError, match="not in classes_"):
        clf.partial_fit(X[:5], np.array([9, 9, 9, 9, 9]))


def test_partial_fit_refuses_weights_given_third_as_scikit_learns_mlp_takes_them(
    classification_data,
):
    # skreg takes classes third (SGDClassifier's order), MLPClassifier sample_weight: 0/1
    # weights given third read as the classes [0, 1], and the weights were dropped.
    X, y = classification_data
    weights = (np.arange(len(y)) % 3 > 0).astype(float)
    clf = small()
    with pytest.raises(ValueError, match="pass sample_weight= by keyword"):
        clf.partial_fit(X, y, weights)
    assert not hasattr(clf, "classes_")
    clf.partial_fit(X, y, np.unique(y), sample_weight=weights)
    assert clf.n_iter_ == 1


def test_balanced_class_weight_raises_minority_recall():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 2)).astype(np.float32)
    y = (X[:, 0] + 0.8 * rng.normal(size=400) > 1.6).astype(int)  # about 10% positives
    plain = small(max_iter=40).fit(X, y)
    balanced = small(max_iter=40, class_weight="balanced").fit(X, y)
    assert recall_score(y, balanced.predict(X)) > recall_score(y, plain.predict(X)) + 0.1


def test_balanced_class_weight_counts_an_integer_weight_as_repeated_rows():
    # As LogisticRegression(class_weight="balanced") in scikit-learn 1.9: the classes'
    # frequencies are their summed sample weights, so weights 2 and 0 are a repeated row
    # and no row (unweighted counts gave three classes of iris weights 1, 1, 1).
    X, y = load_iris(return_X_y=True)
    weights = np.random.default_rng(0).integers(0, 3, len(y))
    weights[y == 0] *= 3
    params = dict(class_weight="balanced", max_iter=5, batch_size=1000, shuffle=False)
    weighted = small(**params).fit(X, y, sample_weight=weights)
    repeated = small(**params).fit(np.repeat(X, weights, axis=0), np.repeat(y, weights))
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), atol=1e-6)
    expected = compute_class_weight("balanced", classes=np.arange(3), y=np.repeat(y, weights))
    from skreg._classifier import per_row_class_weights

    found = per_row_class_weights("balanced", np.arange(3), y, weights.astype(float))
    np.testing.assert_allclose(found, expected[y])


def test_partial_fit_weighs_the_classes_a_batch_lacks_by_the_dict():
    # A dict naming a class the batch does not hold weighs over the classes of the fit, as
    # SGDClassifier.partial_fit does (it raised "The classes, [1, 2], are not in
    # class_weight"), and a warm-started fit on those rows too.
    X, y = load_iris(return_X_y=True)
    batch = y > 0
    streamed = small(class_weight={0: 5.0}, max_iter=2)
    streamed.partial_fit(X[batch], y[batch], classes=[0, 1, 2])
    streamed.partial_fit(X, y)
    assert streamed.n_iter_ == 2
    warm = small(class_weight={0: 5.0}, warm_start=True, max_iter=2).fit(X, y)
    warm.fit(X[batch], y[batch])
    assert warm.n_iter_ == 4
    with pytest.raises(ValueError, match="are not in class_weight"):
        small(class_weight={7: 5.0}).partial_fit(X[batch], y[batch], classes=[0, 1, 2])


def test_a_scorer_that_fails_on_a_validation_split_lacking_classes_says_so():
    # A label of one row keeps the split from being stratified; neg_log_loss then failed on
    # the validation rows with scikit-learn's "provide the true labels ... labels argument",
    # an argument the user does not have.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
    y[0] = 7
    clf = small(max_iter=2, early_stopping=True, scoring="neg_log_loss")
    with pytest.raises(ValueError, match=r"validation rows hold no row of class\(es\) \[.*7\]"):
        clf.fit(X, y)


@pytest.mark.parametrize("scoring", ["f1", "roc_auc"])
def test_a_scorer_for_two_classes_on_three_is_not_blamed_on_a_rare_class(scoring):
    # These scorers fail on three classes wherever the rows fall; the message added that
    # the validation rows lacked the rare class, and advised a larger validation_fraction.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = (X[:, 0] > 0).astype(int)
    y[0] = 2
    clf = small(max_iter=2, early_stopping=True, scoring=scoring)
    with pytest.raises(ValueError, match=f"scoring='{scoring}' cannot score") as raised:
        clf.fit(X, y)
    assert "validation rows hold no row" not in str(raised.value)


def test_early_stopping_monitors_a_scorer(classification_data, capsys):
    X, y = classification_data
    clf = small(
        early_stopping=True, scoring="accuracy", max_iter=40, n_iter_no_change=3, verbose=1
    )
    clf.fit(X, y)
    history = clf.history_
    assert set(history) == {"loss", "learning_rate", "val_loss", "val_accuracy"}
    assert clf.validation_scores_ == history["val_accuracy"]
    assert clf.best_validation_score_ == max(history["val_accuracy"])
    assert history["val_accuracy"][clf.best_epoch_ - 1] == clf.best_validation_score_
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == clf.n_iter_
    assert "val_loss" in lines[0] and "val_accuracy" in lines[0]


def test_the_early_stopping_score_is_weighted_as_in_scikit_learns_mlp(classification_data):
    # scikit-learn's MLPs weigh their validation score by the held-out rows' weights; so
    # does skreg, with the sample and class weights of the rows the scorer sees.
    X, y = classification_data
    X = np.column_stack([X, np.arange(len(y))])  # each row's index, to find its weight
    w = 1.0 + np.arange(len(y)) % 7
    seen = []

    def weighted_accuracy(estimator, X_val, y_val, sample_weight=None):
        seen.append((X_val[:, -1].astype(int), sample_weight))
        return accuracy_score(y_val, estimator.predict(X_val), sample_weight=sample_weight)

    small(early_stopping=True, scoring=weighted_accuracy, max_iter=2).fit(X, y, sample_weight=w)
    rows, weights = seen[-1]
    np.testing.assert_allclose(weights / weights[0], w[rows] / w[rows[0]], rtol=1e-6)
    classes = {0: 1.0, 1: 3.0}
    small(early_stopping=True, scoring=weighted_accuracy, max_iter=2, class_weight=classes).fit(
        X, y
    )
    rows, weights = seen[-1]
    expected = np.where(y[rows] == 1, 3.0, 1.0)
    np.testing.assert_allclose(weights / weights[0], expected / expected[0], rtol=1e-6)
    small(early_stopping=True, scoring=weighted_accuracy, max_iter=2).fit(X, y)
    assert seen[-1][1] is None  # equal weights: the plain score


def test_an_early_stopping_scorer_without_weights_warns_that_it_is_unweighted(
    classification_data,
):
    X, y = classification_data

    def accuracy(estimator, X_val, y_val):
        return accuracy_score(y_val, estimator.predict(X_val))

    clf = small(early_stopping=True, scoring=accuracy, max_iter=2)
    with pytest.warns(UserWarning, match="does not support sample_weight") as record:
        clf.fit(X, y, sample_weight=1.0 + np.arange(len(y)) % 3)
    assert record[0].filename == __file__
    assert len(clf.validation_scores_) == clf.n_iter_


def test_scorer_early_stopping_on_dataframe_does_not_warn(classification_data):
    X, y = classification_data
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        small(early_stopping=True, scoring="accuracy", max_iter=3).fit(df, y)


def test_early_stopping_split_is_stratified_when_every_class_fits():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2)).astype(np.float32)
    y = np.array([0] * 36 + [1] * 4)
    held_out = []

    def record(estimator, X, y):
        held_out.append(np.bincount(y, minlength=2))
        return 0.0

    for seed in range(6):
        small(early_stopping=True, validation_fraction=0.25, scoring=record, max_iter=1,
              random_state=seed).fit(X, y)  # fmt: skip
    # Stratified: 10 held-out rows always hold 9 and 1, where a random split would vary.
    assert [list(c) for c in held_out] == [[9, 1]] * 6
    # A class of one row cannot be on both sides: the split is a plain random one.
    y = np.array([0] * 39 + [1])
    assert small(early_stopping=True, random_state=0).fit(X, y).n_iter_ >= 1
