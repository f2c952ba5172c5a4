"""Displays and the bias/variance diagnosis."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from plain import plain  # noqa: E402
from sklearn.metrics import get_scorer, log_loss, make_scorer  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor  # noqa: E402
from skreg.inspection import (  # noqa: E402
    RegularizationPathDisplay,
    TrainingHistoryDisplay,
    diagnose,
    diagnose_estimator,
)


def make(**params):
    defaults = dict(hidden_layer_sizes=(16,), learning_rate=1e-2, max_iter=12, random_state=0)
    return RegularizedMLPClassifier(**{**plain(RegularizedMLPClassifier), **defaults, **params})


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_history_display_draws_the_losses_and_marks_the_best_epoch(classification_data):
    X, y = classification_data
    clf = make(early_stopping=True, n_iter_no_change=4, validation_fraction=0.3).fit(X, y)
    display = TrainingHistoryDisplay.from_estimator(clf)
    assert set(display.lines_) == {"loss", "val_loss"}
    for key, line in display.lines_.items():
        np.testing.assert_allclose(line.get_ydata(), clf.history_[key])
        np.testing.assert_array_equal(line.get_xdata(), np.arange(1, clf.n_iter_ + 1))
    assert display.best_line_.get_xdata()[0] == clf.best_epoch_
    assert display.figure_ is display.ax_.figure
    assert display.score_ax_ is None


def test_history_display_shows_the_monitored_score_on_a_second_axis(classification_data):
    X, y = classification_data
    clf = make(early_stopping=True, scoring="accuracy", validation_fraction=0.3).fit(X, y)
    _, ax = plt.subplots()
    display = TrainingHistoryDisplay.from_estimator(make_pipeline(StandardScaler(), clf), ax=ax)
    assert display.ax_ is ax
    assert display.score_ax_ is not None
    np.testing.assert_allclose(
        display.lines_["val_accuracy"].get_ydata(), clf.history_["val_accuracy"]
    )


def test_history_display_without_validation_has_only_the_training_loss(classification_data):
    X, y = classification_data
    display = TrainingHistoryDisplay.from_estimator(make().fit(X, y))
    assert list(display.lines_) == ["loss"]
    assert display.best_line_ is None


def test_history_display_needs_a_fitted_estimator():
    with pytest.raises(Exception, match="not fitted"):
        TrainingHistoryDisplay.from_estimator(make())


def test_history_display_finds_the_network_inside_wrappers(regression_data):
    from sklearn.compose import TransformedTargetRegressor

    X, y = regression_data
    network = RegularizedMLPRegressor((8,), max_iter=4, random_state=0)
    wrapped = TransformedTargetRegressor(network, transformer=StandardScaler()).fit(X, y[:, 0])
    display = TrainingHistoryDisplay.from_estimator(wrapped)
    np.testing.assert_allclose(display.lines_["loss"].get_ydata(), wrapped.regressor_.loss_curve_)
    search = GridSearchCV(make_pipeline(StandardScaler(), network), {}, cv=2).fit(X, y)
    display = TrainingHistoryDisplay.from_estimator(search)
    best = search.best_estimator_[-1]
    np.testing.assert_allclose(display.lines_["loss"].get_ydata(), best.loss_curve_)


def test_history_display_says_what_it_needs_for_an_estimator_without_history(regression_data):
    X, _ = regression_data
    with pytest.raises(TypeError, match="StandardScaler has no training history"):
        TrainingHistoryDisplay.from_estimator(StandardScaler().fit(X))


@pytest.mark.parametrize(
    ("name", "values", "labels"),
    [
        ("hidden_layer_sizes", [(4,), (8,), (8, 4)], ["(4,)", "(8,)", "(8, 4)"]),
        ("dropout", [[0.0], [0.3], 0.5], ["[0.0]", "[0.3]", "0.5"]),
        ("augmentation", [None, "noise"], ["None", "GaussianNoise(std=0.3)"]),
    ],
)
def test_path_display_draws_capacity_and_objects_as_categories(
    classification_data, name, values, labels
):
    from skreg import GaussianNoise

    X, y = classification_data
    values = [GaussianNoise(0.3) if v == "noise" else v for v in values]
    search = GridSearchCV(
        make(max_iter=3), {name: values, "l2": [0.0, 1e-3]}, cv=2, return_train_score=True
    ).fit(X, y)
    display = RegularizationPathDisplay.from_cv_results(search.cv_results_, name)
    assert [t.get_text() for t in display.ax_.get_xticklabels()] == labels
    np.testing.assert_array_equal(display.lines_[0].get_xdata(), np.arange(len(values)))
    results = search.cv_results_
    for i, value in enumerate(values):
        at_value = [j for j, v in enumerate(results[f"param_{name}"]) if v is value]
        assert display.test_scores[i].mean() == pytest.approx(
            results["mean_test_score"][at_value].max()
        )
    best = int(np.argmax(results["mean_test_score"]))
    assert display.best_value_ is results[f"param_{name}"][best]


def test_path_display_from_a_grid_search(classification_data):
    X, y = classification_data
    search = GridSearchCV(make(), {"l2": [0.0, 1e-3, 1.0]}, cv=3, return_train_score=True).fit(
        X, y
    )
    display = RegularizationPathDisplay.from_cv_results(search.cv_results_, "l2")
    assert display.best_value_ == search.best_params_["l2"]
    np.testing.assert_allclose(
        display.test_scores.mean(axis=1), search.cv_results_["mean_test_score"]
    )
    assert len(display.lines_) == 2  # train and test
    assert display.ax_.get_xlabel() == "l2"
    assert display.ax_.get_xscale() == "symlog"  # 0 is on the axis


def test_path_display_keeps_the_best_candidate_per_value(classification_data):
    X, y = classification_data
    search = GridSearchCV(
        make(max_iter=6), {"l2": [0.0, 1e-2], "hidden_layer_sizes": [(2,), (16,)]}, cv=2
    ).fit(X, y)
    display = RegularizationPathDisplay.from_cv_results(search.cv_results_, "l2")
    results = search.cv_results_
    for value, scores in zip(display.param_range, display.test_scores):
        at_value = results["mean_test_score"][results["param_l2"] == value]
        assert scores.mean() == pytest.approx(at_value.max())
    assert len(display.lines_) == 1  # no training scores recorded
    with pytest.raises(ValueError, match="no parameter 'l1'"):
        RegularizationPathDisplay.from_cv_results(results, "l1")


def test_path_display_refuses_an_empty_param_range(classification_data):
    X, y = classification_data
    with pytest.raises(ValueError, match="param_range holds no value of 'l2'"):
        RegularizationPathDisplay.from_estimator(make(), X, y, param_name="l2", param_range=[])


def test_path_display_from_estimator(regression_data):
    X, y = regression_data
    reg = RegularizedMLPRegressor((8,), max_iter=5, random_state=0)
    display = RegularizationPathDisplay.from_estimator(
        reg, X, y[:, 0], param_name="l2", param_range=[1e-4, 1e-2, 1.0], cv=2
    )
    assert display.test_scores.shape == (3, 2)
    best = display.param_range[np.argmax(display.test_scores.mean(axis=1))]
    assert display.best_value_ == best


@pytest.mark.parametrize(
    ("train", "val", "bayes", "verdict"),
    [
        (0.01, 0.11, None, "high variance"),
        (0.15, 0.16, 0.01, "high bias"),
        (0.15, 0.30, 0.01, "high bias and high variance"),
        (0.02, 0.03, 0.01, "neither"),
        # Relative to a high human-level error, 15% training error is not a bias problem.
        (0.15, 0.16, 0.14, "neither"),
        # Gaps equal to the tolerance (0.02) are not above it, float rounding aside.
        (0.08, 0.10, 0.01, "high bias"),
        (0.03, 0.05, 0.01, "neither"),
    ],
)
def test_diagnosis_verdicts(train, val, bayes, verdict):
    result = diagnose(train, val, bayes_error=bayes)
    assert result.verdict == verdict
    assert result.avoidable_bias == pytest.approx(train - (bayes or 0.0))
    assert result.variance == pytest.approx(val - train)
    assert verdict in str(result)


def test_diagnosis_recommends_fixing_the_larger_gap_first():
    variance_first = diagnose(0.10, 0.40, bayes_error=0.0).recommendations
    bias_first = diagnose(0.30, 0.34, bayes_error=0.0).recommendations
    assert "data" in variance_first[0]
    assert "bigger network" in bias_first[0]
    assert "regularization" in diagnose(0.0, 0.2).recommendations[1]


def test_diagnosis_rejects_bad_numbers():
    with pytest.raises(ValueError, match="finite"):
        diagnose(float("nan"), 0.1)
    with pytest.raises(ValueError, match="tolerance"):
        diagnose(0.1, 0.1, tolerance=-1)
    with pytest.raises(ValueError, match="bayes_error must be a finite number; got nan"):
        diagnose(0.1, 0.2, bayes_error=float("nan"))
    with pytest.raises(TypeError, match="train_error must be a number; got '0.1' \\(str\\)"):
        diagnose("0.1", "0.2")


def test_diagnose_estimator_uses_one_minus_the_score(classification_data):
    X, y = classification_data
    clf = make().fit(X[:150], y[:150])
    result = diagnose_estimator(clf, X[:150], y[:150], X[150:], y[150:])
    assert result.train_error == pytest.approx(1 - clf.score(X[:150], y[:150]))
    assert result.validation_error == pytest.approx(1 - clf.score(X[150:], y[150:]))
    negated = diagnose_estimator(clf, X[:150], y[:150], X[150:], y[150:], scoring="neg_log_loss")
    assert negated.train_error > 0


def neg_log_loss_of(estimator, X, y):
    """A plain scoring function: its name is its only sign."""
    return -log_loss(y, estimator.predict_proba(X))


@pytest.mark.parametrize(
    "scorer",
    [
        get_scorer("neg_log_loss"),
        make_scorer(log_loss, greater_is_better=False, response_method="predict_proba"),
        neg_log_loss_of,
    ],
)
def test_diagnose_estimator_negates_a_scorer_object_as_its_name(classification_data, scorer):
    X, y = classification_data
    clf = make().fit(X[:150], y[:150])
    named = diagnose_estimator(clf, X[:150], y[:150], X[150:], y[150:], scoring="neg_log_loss")
    given = diagnose_estimator(clf, X[:150], y[:150], X[150:], y[150:], scoring=scorer)
    assert given.train_error == pytest.approx(log_loss(y[:150], clf.predict_proba(X[:150])))
    assert given.validation_error == pytest.approx(named.validation_error)
    assert given.verdict == named.verdict


def test_path_display_of_one_value_is_a_point(classification_data):
    X, y = classification_data
    display = RegularizationPathDisplay.from_estimator(
        make(max_iter=2), X, y, param_name="l2", param_range=[1e-3], cv=2
    )
    assert display.best_value_ == 1e-3 and display.test_scores.shape == (1, 2)
    np.testing.assert_array_equal(display.best_marker_.get_xdata(), [1e-3])


def test_path_display_from_estimator_takes_tuples_as_values(classification_data):
    X, y = classification_data
    sizes = [(4,), (8, 8)]
    display = RegularizationPathDisplay.from_estimator(
        make(max_iter=2), X, y, param_name="hidden_layer_sizes", param_range=sizes, cv=2
    )
    assert [t.get_text() for t in display.ax_.get_xticklabels()] == ["(4,)", "(8, 8)"]
    assert display.best_value_ in sizes and display.test_scores.shape == (2, 2)


def test_path_display_from_estimator_passes_integers_as_integers(classification_data):
    # Integers reached the estimator as floats (max_iter=2.0), which it refuses: every fit
    # failed and the path was NaN, silently under the default error_score.
    X, y = classification_data
    display = RegularizationPathDisplay.from_estimator(
        make(), X, y, param_name="max_iter", param_range=[1, 2], cv=2, error_score="raise"
    )
    assert np.isfinite(display.test_scores).all()
    np.testing.assert_array_equal(display.param_range, [1, 2])


def test_path_display_stars_nothing_when_every_mean_score_is_nan():
    # A search whose every candidate failed a fold ranks them all 1 (its error_score NaN):
    # the star was drawn at the first, a point of no score.
    values = np.array([1e-2, 1e-3])
    results = {"split0_test_score": np.array([np.nan, np.nan]),
               "split1_test_score": np.array([0.8, 0.7]),
               "mean_test_score": np.array([np.nan, np.nan]),
               "rank_test_score": np.array([1, 1]),
               "param_l2": np.ma.MaskedArray(values, mask=False)}  # fmt: skip
    display = RegularizationPathDisplay.from_cv_results(results, "l2")
    assert display.best_marker_ is None and display.best_value_ is None
    assert len(display.test_scores) == 2


def test_path_display_stars_the_first_best_in_grid_order_among_ties():
    # GridSearchCV and the CV estimators choose the first rank-1 candidate in grid order;
    # the star went to the smallest of the tied values instead.
    values = np.array([1e-2, 1e-3, 1e-4])
    folds = {"split0_test_score": np.array([0.9, 0.9, 0.5]),
             "split1_test_score": np.array([0.8, 0.8, 0.5])}  # fmt: skip
    results = {"param_l2": np.ma.MaskedArray(values, mask=False), **folds,
               "mean_test_score": np.array([0.85, 0.85, 0.5]),
               "rank_test_score": np.array([1, 1, 3])}  # fmt: skip
    display = RegularizationPathDisplay.from_cv_results(results, "l2")
    assert display.best_value_ == 1e-2
    np.testing.assert_array_equal(display.param_range, np.sort(values))


def test_path_display_draws_one_metric_of_a_multi_metric_search(classification_data):
    from sklearn.linear_model import LogisticRegression

    X, y = classification_data
    grid = {"C": [0.01, 1.0, 100.0]}
    scoring = {"acc": "accuracy", "nll": "neg_log_loss"}
    search = GridSearchCV(LogisticRegression(), grid, cv=3, scoring=scoring, refit="nll")
    results = search.fit(X, y).cv_results_
    with pytest.raises(ValueError, match=r"several metrics \['acc', 'nll'\]: pass metric="):
        RegularizationPathDisplay.from_cv_results(results, "C")
    with pytest.raises(ValueError, match="no metric 'f1'"):
        RegularizationPathDisplay.from_cv_results(results, "C", metric="f1")
    display = RegularizationPathDisplay.from_cv_results(results, "C", metric="acc")
    np.testing.assert_allclose(display.test_scores.mean(axis=1), results["mean_test_acc"])
    assert display.ax_.get_ylabel() == "Acc"
    # The search itself: its refit metric, negated into the log loss.
    display = RegularizationPathDisplay.from_estimator(search, param_name="C", negate_score=True)
    np.testing.assert_allclose(display.test_scores.mean(axis=1), results["mean_test_nll"])
    assert display.best_value_ == search.best_params_["C"]
    assert display.ax_.get_ylabel() == "Negative nll"
    np.testing.assert_allclose(display.lines_[0].get_ydata(), -results["mean_test_nll"])
    # Without a refit metric, the one asked for.
    search.set_params(refit=False).fit(X, y)
    display = RegularizationPathDisplay.from_estimator(search, param_name="C", metric="acc")
    np.testing.assert_allclose(display.test_scores.mean(axis=1), results["mean_test_acc"])


def test_path_display_of_a_list_of_grids_draws_unset_candidates_at_the_default(
    classification_data,
):
    from sklearn.linear_model import LogisticRegression

    X, y = classification_data
    grids = [{"C": [0.01, 100.0]}, {"fit_intercept": [False]}]  # the last one leaves C at 1
    search = GridSearchCV(LogisticRegression(), grids, cv=3, refit=False).fit(X, y)
    results = search.cv_results_
    alone = RegularizationPathDisplay.from_cv_results(results, "C")
    np.testing.assert_array_equal(alone.param_range, [0.01, 100.0])  # no made-up value
    np.testing.assert_allclose(alone.test_scores.mean(axis=1), results["mean_test_score"][:2])
    whole = RegularizationPathDisplay.from_estimator(search, param_name="C")
    np.testing.assert_array_equal(whole.param_range, [0.01, 1.0, 100.0])
    np.testing.assert_allclose(whole.test_scores[1].mean(), results["mean_test_score"][2])


def test_path_display_draws_a_randomized_search_in_increasing_order():
    rng = np.random.default_rng(0)
    values = np.array([4.7e-4, 7.6e-3, 1e-5, 1.6e-4, 3.9e-5])
    folds = {f"split{i}_test_score": rng.uniform(size=5) for i in range(3)}
    means = np.mean(list(folds.values()), axis=0)
    ranks = 1 + np.argsort(np.argsort(-means))
    results = {"param_l2": np.ma.MaskedArray(values, mask=False), **folds,
               "mean_test_score": means, "rank_test_score": ranks}  # fmt: skip
    display = RegularizationPathDisplay.from_cv_results(results, "l2")
    order = np.argsort(values)
    np.testing.assert_array_equal(display.lines_[0].get_xdata(), values[order])
    np.testing.assert_allclose(display.lines_[0].get_ydata(), means[order])
    assert display.best_value_ == values[np.argmax(means)]


def test_path_display_gives_each_decade_of_a_range_with_zero_its_place():
    values = np.array([0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1])
    folds = {f"split{i}_test_score": np.linspace(0.5, 0.9, 6) + i / 100 for i in range(2)}
    results = {"param_l2": np.ma.MaskedArray(values, mask=False), **folds,
               "mean_test_score": np.linspace(0.5, 0.9, 6) + 0.005}  # fmt: skip
    display = RegularizationPathDisplay.from_cv_results(results, "l2")
    ax = display.ax_
    assert ax.get_xscale() == "symlog"
    places = ax.transData.transform(np.c_[values, np.full(6, 0.7)])[:, 0]
    gaps = np.diff(places)
    assert gaps.min() > 0.5 * gaps.max()  # not squeezed against 0 (linear below 2)


def test_path_display_names_negated_scores(regression_data):
    X, y = regression_data
    reg = RegularizedMLPRegressor((4,), max_iter=2, random_state=0)
    display = RegularizationPathDisplay.from_estimator(
        reg, X, y[:, 0], param_name="l2", param_range=[0.0, 1e-2], cv=2,
        scoring="neg_mean_squared_error", std_display_style="errorbar",
    )  # fmt: skip
    assert display.ax_.get_ylabel() == "Negative mean squared error"
    assert display.lines_ is None and len(display.errorbar_) == 2
    display.plot(ax=plt.subplots()[1], negate_score=True)
    assert display.ax_.get_ylabel() == "Mean squared error"
    np.testing.assert_allclose(
        display.lines_[1].get_ydata(), -display.test_scores.mean(axis=1), rtol=1e-6
    )


def test_displays_say_what_they_were_given_instead(classification_data):
    X, y = classification_data
    search = GridSearchCV(make(max_iter=1), {"l2": [0.0]}, cv=2)
    with pytest.raises(TypeError, match="got GridSearchCV. Pass search.cv_results_"):
        RegularizationPathDisplay.from_cv_results(search, "l2")
    with pytest.raises(ValueError, match=r"under 'loss'.*\['val_loss'\]"):
        TrainingHistoryDisplay(history={"val_loss": [1.0, 0.5]}).plot()
    with pytest.raises(ValueError, match="scoring must name one metric"):
        diagnose_estimator(make(max_iter=1).fit(X, y), X, y, X, y, scoring=["accuracy"])


def test_history_display_drawn_again_reuses_its_score_axis(classification_data):
    X, y = classification_data
    clf = make(early_stopping=True, scoring="accuracy", validation_fraction=0.3).fit(X, y)
    display = TrainingHistoryDisplay.from_estimator(clf)
    display.plot(ax=display.ax_)
    assert len(display.figure_.axes) == 2
    assert display.score_ax_ is display.figure_.axes[1]
    # Another model's display on the same axes shares the score axis, as a second
    # scikit-learn Display adds its lines to the axes it is given.
    other = make(early_stopping=True, scoring="accuracy", validation_fraction=0.3, l2=1e-2)
    second = TrainingHistoryDisplay.from_estimator(other.fit(X, y), ax=display.ax_)
    assert len(display.figure_.axes) == 2 and second.score_ax_ is display.score_ax_
    display.plot()  # a figure of its own, then back to the shared axes
    display.plot(ax=second.ax_)
    assert len(second.figure_.axes) == 2


def test_history_display_points_a_fold_ensemble_at_its_fold_models(classification_data):
    from skreg import RegularizedMLPClassifierCV

    X, y = classification_data
    cv = RegularizedMLPClassifierCV(
        (4,), l2s=[0.0, 1e-3], dropouts=[0.0], cv=2, max_iter=2, random_state=0
    ).fit(X, y)
    with pytest.raises(TypeError, match=r"averages 2 fold models.*estimators_\[0\]"):
        TrainingHistoryDisplay.from_estimator(cv)
    display = TrainingHistoryDisplay.from_estimator(cv.estimators_[0])
    assert len(display.lines_["loss"].get_ydata()) == cv.estimators_[0].n_iter_


def test_diagnosis_of_both_gaps_never_advises_opposites():
    for train, val in [(0.10, 0.40), (0.30, 0.34)]:
        steps = " ".join(diagnose(train, val, bayes_error=0.0).recommendations)
        assert "smaller network" not in steps and "weaken" not in steps
        assert "strengthen" not in steps and "tune the regularization" in steps


def test_path_display_finds_the_penalty_of_a_search_over_a_pipeline(classification_data):
    # The README's search: the grid names the pipeline step's l2.
    X, y = classification_data
    clf = RegularizedMLPClassifier((4,), max_iter=2, random_state=0)
    grid = {"regularizedmlpclassifier__l2": [1e-4, 1e-2]}
    search = GridSearchCV(make_pipeline(StandardScaler(), clf), grid, cv=2).fit(X, y)
    display = RegularizationPathDisplay.from_estimator(search)
    assert display.param_name == "regularizedmlpclassifier__l2"
    np.testing.assert_array_equal(display.param_range, [1e-4, 1e-2])
    np.testing.assert_allclose(
        display.test_scores.mean(axis=1), search.cv_results_["mean_test_score"]
    )
