"""RegularizedMLPClassifierCV and RegularizedMLPRegressorCV: the search GridSearchCV would run,
racing, the fold ensemble, the refit, and the estimator's manners."""

import pickle
import warnings

import matplotlib
import numpy as np
import pandas as pd
import pytest
import sklearn
from packaging.version import Version
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.exceptions import FitFailedWarning
from sklearn.metrics import accuracy_score, log_loss, mean_absolute_error
from sklearn.model_selection import GridSearchCV, GroupKFold, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skreg
from skreg import (
    RegularizedMLPClassifier,
    RegularizedMLPClassifierCV,
    RegularizedMLPRegressor,
    RegularizedMLPRegressorCV,
)
from skreg._search import SearchRecord, l2_path, rounds, survivors
from skreg.inspection import RegularizationPathDisplay

matplotlib.use("Agg")

SMALL = {
    "hidden_layer_sizes": (8,),
    "max_iter": 8,
    "batch_size": 16,
    "learning_rate": 1e-2,
    "random_state": 0,
}
GRID = {"l2": [1e-4, 1e-2], "dropout": [0.0, 0.2]}


def small_cv(cls=RegularizedMLPClassifierCV, **params):
    return cls(**{**SMALL, "l2s": GRID["l2"], "dropouts": GRID["dropout"], "cv": 3, **params})


def _numeric_results(results):
    return {k: v for k, v in results.items() if "time" not in k and k != "params"}


@pytest.mark.parametrize(
    "cv_class, member_class",
    [
        (RegularizedMLPClassifierCV, RegularizedMLPClassifier),
        (RegularizedMLPRegressorCV, RegularizedMLPRegressor),
    ],
)
def test_without_pruning_the_results_are_grid_search_cvs(
    cv_class, member_class, iris, regression_data
):
    X, y = iris if cv_class is RegularizedMLPClassifierCV else regression_data
    weights = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    groups = np.arange(len(y)) % 4
    ours = small_cv(cv_class, cv=GroupKFold(3), pruning=False)
    ours.fit(X, y, sample_weight=weights, groups=groups)
    search = GridSearchCV(member_class(**SMALL), GRID, cv=GroupKFold(3))
    search.fit(X, y, sample_weight=weights, groups=groups)
    theirs = search.cv_results_
    assert ours.cv_results_["params"] == theirs["params"]
    for key, value in _numeric_results(theirs).items():
        np.testing.assert_allclose(
            np.asarray(ours.cv_results_[key], dtype=float), np.asarray(value, dtype=float),
            rtol=1e-6, err_msg=key,
        )  # fmt: skip
    assert ours.best_params_ == search.best_params_
    assert ours.best_score_ == pytest.approx(search.best_score_)
    frame = pd.DataFrame(ours.cv_results_)
    assert len(frame) == 4 and frame["n_folds_run"].eq(3).all()


def test_racing_halves_the_candidates_after_each_fold_until_two_remain(iris):
    X, y = iris
    l2s = [1e-5, 1e-4, 1e-3, 1e-2]
    cv = small_cv(l2s=l2s, dropouts=[0.0, 0.3], cv=5).fit(X, y)
    runs = cv.cv_results_["n_folds_run"]
    assert sorted(runs) == [1, 1, 1, 1, 2, 2, 5, 5]  # 8 + 4 + 2 + 2 + 2 fold models
    assert (cv.n_iter_ > 0).sum() == 18
    # The best ran every fold, and every candidate that did ranks before every pruned one.
    ranks = cv.cv_results_["rank_test_score"]
    assert runs[cv.best_index_] == 5 and ranks[cv.best_index_] == 1
    assert ranks[runs == 5].max() < ranks[runs < 5].min()
    scores = np.column_stack([cv.cv_results_[f"split{k}_test_score"] for k in range(5)])
    assert np.isnan(scores[runs == 1, 1:]).all() and not np.isnan(scores[runs == 5]).any()


def test_survivors_are_the_better_half_with_ties_to_the_earlier_candidate():
    means = np.array([0.5, 0.9, 0.7, 0.9, 0.1])
    assert survivors([0, 1, 2, 3, 4], means) == [1, 2, 3]
    assert survivors([0, 2, 4], np.array([0.5, 0, 0.5, 0, 0.5])) == [0, 2]
    assert survivors([3, 4], means) == [3, 4]
    # A NaN mean (a fold the scorer could not score) is the worst, not an arbitrary place.
    assert survivors([0, 1, 2, 3], np.array([np.nan, 0.1, np.nan, 0.2])) == [1, 3]


def test_the_racing_schedule_halves_to_two_then_runs_the_remaining_folds_at_once():
    assert rounds(8, 5, pruning=True) == [(8, [0]), (4, [1]), (2, [2, 3, 4])]
    assert rounds(3, 5, pruning=True) == [(3, [0]), (2, [1, 2, 3, 4])]
    assert rounds(2, 3, pruning=True) == [(2, [0, 1, 2])]
    assert rounds(8, 5, pruning=False) == [(8, [0, 1, 2, 3, 4])]


def test_ranks_are_grid_search_ranks_with_ties_sharing_the_lowest():
    record = SearchRecord([{"l2": v} for v in range(4)], n_folds=2)
    for c, (a, b) in enumerate([(0.5, 0.7), (0.7, 0.5), (0.9, np.nan), (0.2, 0.4)]):
        record.add(c, 0, dict(score=a, fit_time=1, score_time=0, best_epoch=1, n_iter=1))
        if not np.isnan(b):
            record.add(c, 1, dict(score=b, fit_time=1, score_time=0, best_epoch=1, n_iter=1))
    # Candidate 2 has the best mean, but over one fold: it ranks after the complete ones.
    np.testing.assert_array_equal(record.ranks(), [1, 1, 4, 3])
    assert record.best() == 0
    np.testing.assert_array_equal(record.cv_results()["n_folds_run"], [2, 2, 1, 2])


def test_pruned_candidates_rank_by_how_far_racing_took_them_then_by_their_mean():
    # 5 candidates, 3 folds: racing keeps 3 after fold 1 (ties to the earlier candidate)
    # and 2 after fold 2. Candidate 2 beat 3 and 4 on fold 1 but then met the hard fold 2
    # (as every candidate there did): its mean over two folds is lower than candidate 3's
    # over one, yet racing ranked it higher, and so do the ranks.
    record = SearchRecord([{"l2": v} for v in range(5)], n_folds=3)
    table = [(0.6, 0.4, 0.45), (0.6, 0.42, 0.44), (0.6, 0.4), (0.55,), (0.5,)]
    for c, scores in enumerate(table):
        for fold, score in enumerate(scores):
            record.add(c, fold, dict(score=score, fit_time=1, score_time=0, best_epoch=1,
                                     n_iter=1))  # fmt: skip
    assert survivors(range(5), record.scores[:, 0]) == [0, 1, 2]
    assert survivors([0, 1, 2], record.scores[:3, :2].mean(axis=1)) == [0, 1]
    np.testing.assert_array_equal(record.ranks(), [2, 1, 3, 4, 5])
    assert record.best() == 1


def test_a_fold_scored_nan_counts_as_run_and_makes_the_mean_nan_as_in_grid_search():
    record = SearchRecord([{"l2": v} for v in range(3)], n_folds=2)
    for c, (a, b) in enumerate([(0.5, np.nan), (0.2, 0.4), (0.1, 0.3)]):
        for fold, score in enumerate((a, b)):
            record.add(c, fold, dict(score=score, fit_time=1, score_time=0, best_epoch=1,
                                     n_iter=1))  # fmt: skip
    results = record.cv_results()
    np.testing.assert_array_equal(results["n_folds_run"], [2, 2, 2])
    assert np.isnan(results["mean_test_score"][0]) and np.isnan(results["std_test_score"][0])
    np.testing.assert_array_equal(results["rank_test_score"], [3, 1, 2])  # NaN last
    assert record.best() == 1


def test_an_integer_path_spans_three_decades_and_moves_down_with_the_rows():
    assert l2_path(4, 500) == pytest.approx([1e-2, 1e-3, 1e-4, 1e-5])
    assert l2_path(2, 10_000) == pytest.approx([1e-3, 1e-6])
    assert l2_path([0.0, 0.5], 10) == [0.0, 0.5]


def test_the_ensemble_predicts_the_mean_of_its_fold_models(iris):
    X, y = iris
    cv = small_cv().fit(X, y)
    assert len(cv.estimators_) == 3 and not hasattr(cv, "best_estimator_")
    members = [m.predict_proba(X) for m in cv.estimators_]
    np.testing.assert_allclose(cv.predict_proba(X), np.mean(members, axis=0))
    assert all(m.l2 == cv.l2_ and m.dropout == cv.dropout_ for m in cv.estimators_)
    reg = small_cv(RegularizedMLPRegressorCV).fit(X, y.astype(float))
    np.testing.assert_allclose(
        reg.predict(X), np.mean([m.predict(X) for m in reg.estimators_], axis=0)
    )


def test_the_refit_trains_the_best_candidate_for_its_best_epoch_count():
    # Noisy labels and a constant learning rate: the fold models overfit after a few epochs.
    X, y = make_classification(n_samples=300, n_features=10, flip_y=0.3, random_state=0)
    params = dict(hidden_layer_sizes=(32,), learning_rate=2e-2, learning_rate_schedule="constant")
    cv = small_cv(refit=True, max_iter=20, l2s=[1e-4], dropouts=[0.0], **params).fit(X, y)
    fold_epochs = cv.cv_results_["mean_best_epoch"][cv.best_index_]
    assert cv.best_epoch_ == max(1, round(fold_epochs)) and cv.best_epoch_ < 20
    refit = cv.best_estimator_
    assert refit.n_iter_ == cv.best_epoch_ and refit.early_stopping is False
    expected = clone(refit).fit(X, y)
    np.testing.assert_array_equal(cv.predict_proba(X), expected.predict_proba(X))
    assert not hasattr(cv, "estimators_")


@pytest.mark.parametrize("early_stopping, schedule", [(True, "constant"), ("auto", "coslog4")])
def test_the_refit_runs_the_schedule_the_fold_models_ran(iris, early_stopping, schedule):
    X, y = iris
    cv = small_cv(
        refit=True, max_iter=6, l2s=[1e-4], dropouts=[0.0], early_stopping=early_stopping
    )
    cv.fit(X, y)
    assert cv.best_estimator_.learning_rate_schedule == schedule
    member = cv._member().set_params(l2=1e-4, dropout=0.0)
    rates = member.fit(X[:100], y[:100]).history_["learning_rate"]
    assert (len(set(rates)) == 1) == (schedule == "constant")


def test_without_refit_it_chooses_and_keeps_no_model(iris):
    X, y = iris
    cv = small_cv(refit=False).fit(X, y)
    assert cv.best_params_ and not hasattr(cv, "estimators_")
    for method in ("predict", "predict_proba", "predict_log_proba", "score"):
        assert not hasattr(cv, method)  # as GridSearchCV's, for duck typing
    with pytest.raises(AttributeError, match="no attribute 'predict'") as raised:
        cv.predict(X)
    assert "refit=False" in str(raised.value.__cause__)  # why, as GridSearchCV says it
    regressor = small_cv(RegularizedMLPRegressorCV, refit=False, l2s=[1e-3], dropouts=[0.0])
    assert not hasattr(regressor, "predict") and not hasattr(regressor, "score")
    assert hasattr(regressor.set_params(refit=True), "predict")


@pytest.mark.parametrize("cls", [RegularizedMLPClassifierCV, RegularizedMLPRegressorCV])
def test_with_no_hidden_layer_the_default_dropouts_make_no_duplicate_candidates(iris, cls):
    # No hidden layer, no dropout layer: the default's second rate trained the first's model
    # again, and the search paid for every candidate twice.
    X, y = iris
    search = cls((), l2s=[1e-4, 1e-2], cv=2, max_iter=3, random_state=0).fit(X, y)
    assert search.cv_results_["param_dropout"].tolist() == [0.0, 0.0]
    assert search.dropout_ == 0.0
    hidden = cls((4,), l2s=[1e-4], cv=2, max_iter=3, random_state=0).fit(X, y)
    assert hidden.cv_results_["param_dropout"].tolist() == [0.0, 0.15]
    chosen = cls((), l2s=[1e-4], dropouts=[0.0, 0.3], cv=2, max_iter=3).fit(X, y)
    assert chosen.cv_results_["param_dropout"].tolist() == [0.0, 0.3]  # asked for: as given


def test_a_fold_without_a_class_gives_that_class_no_probability():
    X = np.arange(40, dtype=float).reshape(-1, 1) / 40
    y = np.arange(40) % 2
    y[0] = 2  # only the second fold model trains on a row of class 2
    cv = small_cv(cv=KFold(2), l2s=[1e-3], dropouts=[0.0]).fit(X, y)
    first, second = cv.estimators_
    assert list(first.classes_) == [0, 1] and list(second.classes_) == [0, 1, 2]
    proba = cv.predict_proba(X)
    np.testing.assert_allclose(proba[:, 2], second.predict_proba(X)[:, 2] / 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("joint", [False, True])
def test_a_class_too_rare_for_the_folds_names_itself_when_the_scorer_fails(iris, joint):
    X, y = iris
    y = y.copy()
    y[-2:] = 3  # two members, three folds: one test fold has none
    cv = small_cv(l2s=[1e-3], dropouts=[0.0], joint=joint).fit(X, y % 3)
    before = cv.predict_proba(X)
    with pytest.warns(UserWarning, match="least populated class"):
        with pytest.raises(ValueError, match=r"without class\(es\) \[3\]: .*use fewer folds"):
            cv.set_params(scoring="neg_log_loss").fit(X, y)
    np.testing.assert_array_equal(cv.predict_proba(X), before)  # the previous fit is kept


@pytest.mark.parametrize("error_score", [np.nan, "raise"])
def test_a_fold_training_on_one_class_stops_the_search_naming_the_rare_class(error_score):
    # Binary labels with one row of a class: the fold holding it tests on it and trains on
    # the other class alone, so its fold models cannot train. Every candidate's mean was
    # NaN and the search picked the first, with an ensemble of four models.
    X = np.random.default_rng(0).normal(size=(60, 3))
    y = np.zeros(60, dtype=int)
    y[7] = 1
    search = RegularizedMLPClassifierCV((4,), l2s=[1e-4, 1e-2], dropouts=[0.0], cv=3,
                                        max_iter=3, error_score=error_score)  # fmt: skip
    with pytest.warns(UserWarning, match="least populated class"):
        with pytest.raises(ValueError, match=r"training rows hold one class only \(0\), so .*"
                           r"A class has 1 member\(s\), .* merge the rare class"):  # fmt: skip
            search.fit(X, y)
    assert not hasattr(search, "cv_results_")


@pytest.mark.parametrize("scoring", ["neg_log_loss", "roc_auc_ovr"])
def test_a_class_absent_from_a_folds_training_rows_names_itself(scoring):
    X = np.random.default_rng(0).normal(size=(40, 2))
    y = np.r_[2, np.tile([0, 1], 19), 0]  # class 2: one row, in one fold's test rows
    with pytest.warns(UserWarning, match="least populated class"):
        with pytest.raises(ValueError, match=r"training rows without class\(es\) \[2\]: .*fewer"):
            small_cv(l2s=[1e-3], dropouts=[0.0], scoring=scoring).fit(X, y)


@pytest.mark.parametrize("refit", [True, False])
def test_a_fit_with_another_refit_drops_the_previous_refits_models(iris, refit):
    X, y = iris
    cv = small_cv(l2s=[1e-3], dropouts=[0.0]).fit(X, y)  # refit="ensemble": fold models
    cv.set_params(refit=refit).fit(X, y)
    assert not hasattr(cv, "estimators_")
    if refit:
        np.testing.assert_array_equal(cv.predict(X), cv.best_estimator_.predict(X))
    else:
        assert not hasattr(cv, "predict")
    cv.set_params(refit="ensemble").fit(X, y)
    assert not hasattr(cv, "best_estimator_") and not hasattr(cv, "refit_time_")


@pytest.mark.parametrize("joint", [False, True])
def test_one_program_serves_every_candidate_and_fold(iris, joint):
    X, y = iris
    cv = small_cv(
        hidden_layer_sizes=(7,), l2s=[0.0, 1e-3, 1e-2], dropouts=[0.0, 0.1, 0.3], joint=joint
    )
    skreg.clear_program_cache()
    before = skreg.program_cache_info()
    cv.fit(X, y)  # 9 candidates x 3 folds of equal size, racing: 9 + 5 + 2 fold models
    after = skreg.program_cache_info()
    assert after.misses - before.misses == 1
    assert after.epoch_compiles - before.epoch_compiles == 1


def test_folds_where_a_column_crosses_max_onehot_levels_share_one_program():
    # "shop" has 10 levels, one of them in a single row: the folds without that row see 9,
    # which alone they would one-hot encode (a wider first layer and no embedding table).
    rng = np.random.default_rng(0)
    shops = np.array([f"s{i % 9}" for i in range(59)] + ["rare"], dtype=object)
    X = pd.DataFrame({"shop": shops, "x": rng.normal(size=60)})
    y = (X["x"] > 0).to_numpy().astype(int)
    cv = small_cv(l2s=[1e-3], dropouts=[0.0, 0.2], max_onehot_levels=9, cv=KFold(3))
    skreg.clear_program_cache()
    before = skreg.program_cache_info()
    cv.fit(X, y)
    assert skreg.program_cache_info().misses - before.misses == 1
    layouts = {m._fitted.inputs.layout_ for m in cv.estimators_}
    assert len(layouts) == 1 and len(layouts.pop().levels) == 1  # "shop" embedded in each
    assert not hasattr(cv.estimators_[0], "_table_like")
    assert np.isfinite(cv.predict_proba(X)).all()


def test_racing_stops_a_fold_model_at_a_cycle_end_no_better_than_the_last():
    # Labels of pure noise: a (64,) network memorizes them and its validation loss rises.
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(120, 4)), rng.integers(0, 2, 120)
    params = {
        "hidden_layer_sizes": (64,),
        "max_iter": 60,
        "learning_rate": 1e-2,
        "early_stopping": "best_epoch",
    }
    raced = small_cv(l2s=[0.0], dropouts=[0.0], **params).fit(X, y)
    full = small_cv(l2s=[0.0], dropouts=[0.0], pruning=False, **params).fit(X, y)
    points = (5, 13, 29)  # coslog4's ends of cycles over 60 epochs
    assert (full.n_iter_ == 60).all()
    assert set(raced.n_iter_.ravel()) <= {*points[1:], 60} and (raced.n_iter_ < 60).any()
    for model, epochs in zip(raced.estimators_, raced.n_iter_[0], strict=True):
        losses = model.history_["val_loss"]
        assert len(losses) == epochs and model.best_epoch_ <= epochs
        if epochs < 60:  # stopped: its loss at this cycle end was no lower than the last's
            assert losses[epochs - 1] >= losses[points[points.index(epochs) - 1] - 1]
        else:
            assert all(
                losses[b - 1] < losses[a - 1] for a, b in zip(points, points[1:])
            )  # fmt: skip
    # The epochs it ran are the full run's: stopping cuts the same fit short.
    for short, whole in zip(raced.estimators_, full.estimators_, strict=True):
        n = len(short.history_["loss"])
        np.testing.assert_allclose(short.history_["loss"], whole.history_["loss"][:n], rtol=1e-6)


@pytest.mark.parametrize("cls", [RegularizedMLPClassifierCV, RegularizedMLPRegressorCV])
def test_joint_training_gives_each_fold_model_what_one_by_one_training_gives_it(iris, cls):
    X, y = iris
    if cls is RegularizedMLPRegressorCV:
        X, y = X[:, 1:], X[:, 0]
    # Dropout (each lane's own random stream), a penalty, best-epoch early stopping (each
    # lane's own record and weights) and racing (rounds of 4 and 2 x 2 fits, one width).
    params = {"l2s": [1e-4, 1e-2], "dropouts": [0.0, 0.3], "max_iter": 12}
    alone = small_cv(cls, joint=False, **params).fit(X, y)
    joint = small_cv(cls, joint=True, **params).fit(X, y)
    assert alone.joint_lanes_ == 0
    # Jointly on JAX; TensorFlow's programs keep a fit's state in variables: one by one.
    assert joint.joint_lanes_ == (4 if skreg._engine.backend_name() == "jax" else 0)
    for key, value in _numeric_results(alone.cv_results_).items():
        np.testing.assert_allclose(joint.cv_results_[key], value, rtol=1e-5, err_msg=key)
    assert joint.best_params_ == alone.best_params_
    for a, b in zip(alone.estimators_, joint.estimators_, strict=True):
        assert a.history_["loss"] == pytest.approx(b.history_["loss"], rel=1e-5)
        np.testing.assert_allclose(b.predict(X), a.predict(X), rtol=1e-5, atol=1e-6)


def test_joint_training_prints_each_fits_epochs_in_order_as_one_by_one_training(iris, capsys):
    # The lanes printed from their threads, in the order they happened to run: a different
    # order every run on JAX, and lines that no fit could be told from.
    X, y = iris
    params = {"l2s": [1e-4, 1e-2], "dropouts": [0.0, 0.3], "max_iter": 3, "verbose": 1}
    printed = []
    for joint in (False, True):
        small_cv(joint=joint, pruning=False, **params).fit(X, y)
        printed.append(capsys.readouterr().out.splitlines())
    alone, together = printed
    assert len(alone) == 4 * 3 * 3  # 4 candidates x 3 folds x 3 epochs (an ensemble: no refit)
    assert [line.split(",")[0] for line in together] == [line.split(",")[0] for line in alone]
    losses = [[float(part.split("=")[1]) for part in line.split(",")[1:]] for line in printed[1]]
    expected = [[float(part.split("=")[1]) for part in line.split(",")[1:]] for line in alone]
    np.testing.assert_allclose(losses, expected, rtol=1e-4)


@pytest.mark.parametrize("joint", [False, True])
def test_a_failing_candidate_scores_error_score_and_the_others_still_choose(iris, joint):
    # l2=30 under SGD at 0.1 diverges on every fold: GridSearchCV's manner, NaN and a warning.
    X, y = iris
    cv = small_cv(l2s=[1e-4, 30.0], dropouts=[0.0], joint=joint, optimizer="sgd",
                  learning_rate=0.1)  # fmt: skip
    with pytest.warns(FitFailedWarning, match=r"3 of the 6 fold models failed .*'l2': 30.0") as w:
        cv.fit(X, y)
    assert w[0].filename == __file__  # it points at the caller of fit
    results = cv.cv_results_
    assert np.isnan(results["split0_test_score"][1]) and results["rank_test_score"][1] == 2
    assert cv.l2_ == 1e-4 and len(cv.estimators_) == 3
    before = cv.predict_proba(X)
    with pytest.raises(FloatingPointError, match="diverged"):
        cv.set_params(error_score="raise").fit(X, y)
    with pytest.raises(FloatingPointError, match="diverged") as every_one:
        cv.set_params(error_score=np.nan, l2s=[30.0]).fit(X, y)
    note = every_one.value.__notes__[0]  # names the fold, since the error names the rows'
    assert "All 3 fold models failed, the first of them {'dropout': 0.0, 'l2': 30.0}" in note
    assert "on the rows of fold 0" in note
    np.testing.assert_array_equal(cv.predict_proba(X), before)  # the previous fit is kept
    with pytest.raises(ValueError, match="best candidate.*failed"):  # 1.0 beats any accuracy
        cv.set_params(error_score=1.0, l2s=[1e-4, 30.0]).fit(X, y)


def test_a_joint_search_leaves_the_warnings_machinery_as_it_found_it(iris):
    # The lanes are threads, and their fits and compiles use warnings.catch_warnings, which
    # is not thread-safe: left as a lane set it, later warnings went to that lane's record.
    X, y = iris
    before = (warnings.showwarning, list(warnings.filters))
    small_cv(hidden_layer_sizes=(7,), joint=True).fit(X, y)  # a new network: compiles
    assert (warnings.showwarning, list(warnings.filters)) == before


def test_an_unstratified_split_that_leaves_a_class_out_says_so(iris):
    X, y = iris  # sorted by class: an unshuffled KFold(3) tests each class alone
    with pytest.raises(ValueError, match=r"without class\(es\).*folds are not stratified"):
        small_cv(cv=KFold(3), scoring="neg_log_loss", l2s=[1e-3], dropouts=[0.0]).fit(X, y)


def test_a_scorer_failing_one_candidate_on_a_fold_lacking_a_class_fails_only_it(iris):
    # The fold lacks a class, but the failure is the candidate's: GridSearchCV scores that
    # candidate NaN and chooses among the others; skreg blamed the folds and raised.
    X, y = iris  # sorted by class: an unshuffled KFold(3) tests each class alone

    def picky(estimator, X, y):
        if estimator.l2 > 0.5:
            raise ValueError("this candidate cannot be scored")
        return accuracy_score(y, estimator.predict(X))

    grid = {"l2": [1e-3, 1.0], "dropout": [0.0]}
    kwargs = dict(cv=KFold(3), scoring=picky)
    with pytest.warns(FitFailedWarning, match="3 of the 6 fold models failed"):
        cv = small_cv(l2s=grid["l2"], dropouts=grid["dropout"], pruning=False, **kwargs)
        cv.fit(X, y)
    with pytest.warns(UserWarning, match="Scoring failed"):
        search = GridSearchCV(RegularizedMLPClassifier(**SMALL), grid, **kwargs).fit(X, y)
    assert cv.best_params_ == search.best_params_ == {"dropout": 0.0, "l2": 1e-3}
    np.testing.assert_array_equal(np.isnan(cv.cv_results_["mean_test_score"]), [False, True])


def test_an_empty_test_fold_scores_nan_as_in_grid_search(iris):
    X, y = iris
    rows = np.random.default_rng(0).permutation(len(y))
    folds = [(rows[:100], rows[100:]), (rows, rows[:0])]
    with pytest.warns(FitFailedWarning, match="Found array with 0 sample"):
        cv = small_cv(l2s=[1e-3], dropouts=[0.0], cv=folds).fit(X, y)
    assert np.isnan(cv.cv_results_["split1_test_score"][0])
    assert np.isfinite(cv.cv_results_["split0_test_score"][0])


@pytest.mark.parametrize("result", [{"a": 1.0}, "0.5", None])
def test_a_scorer_returning_no_number_is_refused_as_in_grid_search(iris, result):
    X, y = iris
    with pytest.raises(ValueError, match="scoring must return a number, got"):
        small_cv(l2s=[1e-3], dropouts=[0.0], scoring=lambda e, X, y: result).fit(X, y)


@pytest.mark.parametrize("scoring", [["accuracy"], ("accuracy", "f1"), {"acc": "accuracy"}])
def test_multi_metric_scoring_is_refused_saying_so(iris, scoring):
    X, y = iris
    cv = small_cv(l2s=[1e-3], dropouts=[0.0], scoring=scoring)
    with pytest.raises(ValueError, match="takes no multi-metric scoring"):
        cv.fit(X, y)
    assert not hasattr(cv, "cv_results_")


def test_penalties_keep_their_type_as_in_grid_search(iris):
    X, y = iris
    cv = small_cv(l2s=[0, 1], dropouts=[0.0], pruning=False).fit(X, y)
    search = GridSearchCV(RegularizedMLPClassifier(**SMALL), {"l2": [0, 1], "dropout": [0.0]},
                          cv=3).fit(X, y)  # fmt: skip
    assert cv.cv_results_["param_l2"].dtype == search.cv_results_["param_l2"].dtype == np.int64
    assert type(cv.best_params_["l2"]) is type(search.best_params_["l2"]) is int


def test_a_batch_runs_each_posted_call_once_whatever_its_group():
    """Lanes whose calls share no group each run their call once (no backend: a program
    that records its calls)."""
    from skreg._engine._joint import Batch, take

    class Program:
        def __init__(self):
            self.calls = []

        def call(self, name, *inputs):
            self.calls.append((name, inputs[0].shape))
            return inputs[0]

    program = Program()

    def task(shapes):
        def run():
            lane = take()
            return [lane.call(program, (np.zeros(shape),) * 7) for shape in shapes]

        return run

    # Lane 1's first call has a shape of its own, so lane 0's group holds lane 0 alone;
    # lane 1's second call then joins that group as a call from outside it.
    results = Batch(width=1).run([task([(2,), (2,)]), task([(3,), (2,)])])
    assert [r.shape for r in results[0] + results[1]] == [(2,), (2,), (3,), (2,)]
    assert sorted(program.calls) == sorted([("epochs", (2,))] * 3 + [("epochs", (3,))])


def test_an_interrupted_batch_ends_its_lanes_at_their_next_call(monkeypatch):
    """Ctrl-C while lanes train: they trained on to their fits' end in the background
    (JAX, joint=True: 8 threads for 4 s after the interrupt); now each ends at its next
    call, and the interrupt reaches the caller once they have."""
    import time

    from skreg._engine import _joint

    calls = []

    class Program:
        def call(self, name, *inputs):
            calls.append(name)
            time.sleep(0.002)
            return inputs[0]

    def task():
        lane = _joint.take()
        for _ in range(1000):  # 2 s of calls a lane
            lane.call(Program, (np.zeros(2),) * 7)

    def interrupted(futures):
        time.sleep(0.05)
        raise KeyboardInterrupt

    monkeypatch.setattr(_joint, "wait", interrupted, raising=False)
    start = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        _joint.Batch(width=1).run([task, task])
    made = len(calls)
    time.sleep(0.05)
    assert len(calls) == made < 200  # no lane runs on
    assert time.perf_counter() - start < 1.0


def test_inside_a_pipeline_and_nested_cross_validation(iris):
    X, y = iris
    pipe = make_pipeline(StandardScaler(), small_cv(cv=2, l2s=[1e-3], dropouts=[0.0, 0.2]))
    scores = cross_val_score(pipe, X, y, cv=2)
    assert scores.shape == (2,) and (scores > 0.5).all()


@pytest.mark.skipif(
    Version(sklearn.__version__) < Version("1.8"),
    reason="scikit-learn before 1.8 does not route sample_weight to a Pipeline's score in "
    "cross_val_score (UnsetMetadataPassedError for Pipeline.score, whatever the estimator)",
)
@pytest.mark.parametrize("joint", [False, True])
def test_sample_weight_and_groups_reach_it_through_metadata_routing(iris, joint):
    X, y = iris
    weights = np.where(y == 0, 3.0, 1.0)
    groups = np.arange(len(y)) % 3
    with sklearn.config_context(enable_metadata_routing=True):
        cv = small_cv(cv=GroupKFold(3), pruning=False, joint=joint).set_fit_request(
            sample_weight=True, groups=True
        )
        cv.set_score_request(sample_weight=True)
        scaler = StandardScaler().set_fit_request(sample_weight=False)
        scores = cross_val_score(
            make_pipeline(scaler, cv), X, y, cv=2,
            params={"sample_weight": weights, "groups": groups},
        )  # fmt: skip
        routed = clone(cv).fit(X, y, sample_weight=weights, groups=groups)
    unweighted = clone(routed).fit(X, y, groups=groups)
    assert scores.shape == (2,) and np.isfinite(scores).all()
    assert not np.allclose(routed.predict_proba(X), unweighted.predict_proba(X))


def test_score_refuses_weights_its_scorer_cannot_take(binary_data):
    from sklearn.metrics import get_scorer

    X, y = binary_data
    weights = np.where(y == 1, 5.0, 0.2)

    def accuracy(estimator, X, y):
        return accuracy_score(y, estimator.predict(X))

    cv = small_cv(scoring=accuracy, l2s=[1e-3], dropouts=[0.0])
    # As GridSearchCV, the fit warns that such a scorer scores the folds unweighted.
    with pytest.warns(UserWarning, match="does not support sample_weight") as record:
        cv.fit(X, y, sample_weight=weights)
    assert record[0].filename == __file__
    with pytest.raises(TypeError, match="scoring=<function .* takes no sample_weight"):
        cv.score(X, y, sample_weight=weights)
    assert cv.score(X, y) == accuracy_score(y, cv.predict(X))
    cv.set_params(scoring="accuracy")
    expected = accuracy_score(y, cv.predict(X), sample_weight=weights)
    assert cv.score(X, y, sample_weight=weights) == pytest.approx(expected)
    with sklearn.config_context(enable_metadata_routing=True):
        declined = get_scorer("accuracy").set_score_request(sample_weight=False)
        with pytest.raises(TypeError, match=r"declines it \(set_score_request"):
            cv.set_params(scoring=declined).score(X, y, sample_weight=weights)


@pytest.mark.parametrize("request_weights", [False, True])
def test_the_scorers_own_request_decides_its_weights_under_metadata_routing(
    binary_data, request_weights
):
    from sklearn.metrics import get_scorer

    X, y = binary_data
    weights = np.where(y == 1, 5.0, 0.2)
    with sklearn.config_context(enable_metadata_routing=True):
        scorer = get_scorer("accuracy").set_score_request(sample_weight=request_weights)
        ours = small_cv(pruning=False, scoring=scorer, l2s=[1e-3], dropouts=[0.0])
        ours.fit(X, y, sample_weight=weights)
        member = RegularizedMLPClassifier(**SMALL).set_fit_request(sample_weight=True)
        grid = {"l2": [1e-3], "dropout": [0.0]}
        search = GridSearchCV(member, grid, cv=3, scoring=scorer)
        search.fit(X, y, sample_weight=weights)
    splits = [f"split{k}_test_score" for k in range(3)]
    ours_scores = [ours.cv_results_[k][0] for k in splits]
    theirs = [search.cv_results_[k][0] for k in splits]
    np.testing.assert_allclose(ours_scores, theirs, rtol=1e-6)
    # Weighted and unweighted accuracy differ on these folds: the test can tell them apart.
    folds = list(sklearn.model_selection.StratifiedKFold(3).split(X, y))
    other = [
        m.score(X[test], y[test], sample_weight=None if request_weights else weights[test])
        for m, (_, test) in zip(ours.estimators_, folds)
    ]
    assert not np.allclose(ours_scores, other)


def test_class_weight_reaches_every_fold_model(binary_data):
    X, y = binary_data
    cv = small_cv(class_weight={0: 1.0, 1: 5.0}, l2s=[1e-3], dropouts=[0.0]).fit(X, y)
    plain = small_cv(l2s=[1e-3], dropouts=[0.0]).fit(X, y)
    assert all(m.class_weight == {0: 1.0, 1: 5.0} for m in cv.estimators_)
    assert (cv.predict(X) == 1).sum() > (plain.predict(X) == 1).sum()


def test_the_same_random_state_gives_the_same_model_and_pickling_keeps_it(iris):
    X, y = iris
    first, second = small_cv().fit(X, y), small_cv().fit(X, y)
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))
    copy = pickle.loads(pickle.dumps(first))
    np.testing.assert_array_equal(copy.predict_proba(X), first.predict_proba(X))
    assert copy.best_params_ == first.best_params_


def test_a_dataframe_with_categories_and_missing_values(iris):
    X, y = iris
    rng = np.random.default_rng(0)
    # A copy: pandas 2 shares the array, so the NaN would reach the session's iris fixture.
    frame = pd.DataFrame(X.copy(), columns=["a", "b", "c", "d"])
    frame.loc[rng.random(len(y)) < 0.1, "a"] = np.nan
    frame["colour"] = pd.Categorical(rng.choice(["red", "blue"], len(y)))
    cv = small_cv().fit(frame, y)
    assert list(cv.feature_names_in_) == ["a", "b", "c", "d", "colour"]
    assert cv.score(frame, y) > 0.6
    with pytest.raises(ValueError, match="feature names"):
        cv.predict(frame[["b", "a", "c", "d", "colour"]])
    # An array: scikit-learn's warning once (not once more per fold model), the same answer.
    with pytest.warns(UserWarning, match="valid feature names") as caught:
        from_array = cv.predict_proba(frame.to_numpy())
    assert len(caught) == 1
    np.testing.assert_allclose(from_array, cv.predict_proba(frame), rtol=1e-6)


@pytest.mark.parametrize("refit", ["ensemble", True])
def test_feature_importances_are_the_predicting_models_mean_for_select_from_model(iris, refit):
    from sklearn.feature_selection import SelectFromModel

    X, y = iris
    cv = small_cv(l2s=[1e-3], dropouts=[0.0], refit=refit).fit(X, y)
    models = cv.estimators_ if refit == "ensemble" else [cv.best_estimator_]
    expected = np.mean([m.feature_importances_ for m in models], axis=0)
    np.testing.assert_allclose(cv.feature_importances_, expected)
    assert np.isclose(cv.feature_importances_.sum(), 1.0)
    kept = SelectFromModel(cv, threshold="mean", prefit=True).get_support()
    np.testing.assert_array_equal(kept, expected >= expected.mean())


@pytest.mark.parametrize(
    "params, message",
    [
        ({"l2s": [1e-3, -1.0]}, "l2s must be finite, non-negative"),
        ({"l2s": []}, "l2s must list at least one"),
        ({"l2s": ["a"]}, "l2s must be finite, non-negative"),
        ({"dropouts": []}, "dropouts must list at least one"),
        ({"dropouts": [0.0, 1.5]}, "dropouts must hold dropout rates"),
        ({"refit": "best"}, "'refit' parameter"),
        ({"l2s": 0}, "'l2s' parameter"),
        ({"cv": []}, "gave no split"),
    ],
)
def test_bad_settings_get_a_clear_error_and_keep_the_previous_fit(iris, params, message):
    X, y = iris
    cv = small_cv(l2s=[1e-3], dropouts=[0.0]).fit(X, y)
    before = cv.predict_proba(X)
    with pytest.raises(ValueError, match=message):
        cv.set_params(**params).fit(X, y)
    np.testing.assert_array_equal(cv.predict_proba(X), before)
    assert cv.best_params_ == {"dropout": 0.0, "l2": 1e-3}


def _scores_by_fold(table):
    """A scorer that gives each penalty a fixed score per fold, told apart by its size."""

    def score(model, X, y):
        return table[len(y)][model.l2]

    return score


def test_the_path_display_stars_the_estimators_choice_not_a_lucky_pruned_fold():
    X = np.random.default_rng(0).normal(size=(63, 3))
    y = np.arange(63) % 2
    rows = np.arange(63)
    folds = [(np.setdiff1d(rows, t), t) for t in (rows[:20], rows[20:41], rows[41:])]
    table = {  # 1e-3, pruned after the first fold, has a better mean than the winner's
        20: {1e-1: 0.9, 1e-2: 0.95, 1e-3: 0.85, 1e-4: np.nan},
        21: {1e-1: 0.5, 1e-2: 0.6, 1e-3: 0.99, 1e-4: 0.99},
        22: {1e-1: 0.5, 1e-2: 0.6, 1e-3: 0.99, 1e-4: 0.99},
    }
    cv = RegularizedMLPClassifierCV(
        (4,), l2s=[1e-1, 1e-2, 1e-3, 1e-4], dropouts=[0.0], cv=folds, max_iter=2,
        scoring=_scores_by_fold(table), random_state=0,
    ).fit(X, y)  # fmt: skip
    results = cv.cv_results_
    assert list(results["n_folds_run"]) == [3, 3, 1, 1]  # 1e-3 and the NaN pruned
    assert results["mean_test_score"][2] > results["mean_test_score"][1]
    display = RegularizationPathDisplay.from_estimator(cv)
    assert display.best_value_ == cv.l2_ == 1e-2
    row = list(display.param_range).index  # drawn in increasing order
    np.testing.assert_allclose(display.test_scores[row(1e-3)], 0.85)  # pruned: at its fold
    assert np.isnan(display.test_scores[row(1e-4)]).all()  # NaN: not drawn at a better value


def test_finalists_whose_later_folds_failed_rank_after_every_scored_candidate():
    # The two finalists of racing score NaN on the later folds (a failed scorer, or
    # error_score=np.nan): their means are NaN, the worst, as GridSearchCV ranks them.
    X = np.random.default_rng(0).normal(size=(63, 3))
    y = np.arange(63) % 2
    rows = np.arange(63)
    folds = [(np.setdiff1d(rows, t), t) for t in (rows[:20], rows[20:41], rows[41:])]
    later = {1e-1: 0.5, 1e-2: 0.6, 1e-3: np.nan, 1e-4: np.nan}
    table = {20: {1e-1: 0.5, 1e-2: 0.6, 1e-3: 0.9, 1e-4: 0.95}, 21: later, 22: later}
    cv = RegularizedMLPClassifierCV(
        (4,), l2s=[1e-1, 1e-2, 1e-3, 1e-4], dropouts=[0.0], cv=folds, max_iter=2,
        scoring=_scores_by_fold(table), random_state=0,
    )  # fmt: skip
    # GridSearchCV's warning, at the user's line.
    with pytest.warns(
        UserWarning, match=r"test scores are non-finite: \[0.5 +0.6 +nan +nan\]"
    ) as w:
        cv.fit(X, y)
    assert w[0].filename == __file__
    results = cv.cv_results_
    assert list(results["n_folds_run"]) == [1, 1, 3, 3]
    assert list(results["rank_test_score"]) == [2, 1, 3, 3]
    assert cv.l2_ == 1e-2 and cv.best_score_ == pytest.approx(0.6)
    assert len(cv.estimators_) == 1  # its one fold model predicts


def test_a_nan_mean_is_never_the_best_value_of_a_grid_search(iris):
    X, y = iris
    search = GridSearchCV(
        RegularizedMLPClassifier(**SMALL),
        {"l2": [1e-4, 1e-3, 1e-2]},
        cv=3,
        scoring=_scores_by_fold({50: {1e-4: 0.5, 1e-3: 0.9, 1e-2: np.nan}}),
    )
    with pytest.warns(UserWarning, match="non-finite"):
        search.fit(X, y)
    display = RegularizationPathDisplay.from_cv_results(search.cv_results_, "l2")
    assert display.best_value_ == 1e-3
    display = RegularizationPathDisplay(
        param_name="l2",
        param_range=[1, 2],
        train_scores=None,
        test_scores=np.array([[0.5], [np.nan]]),
    )
    assert display.plot().best_value_ == 1


@pytest.mark.parametrize("refit", [True, "ensemble"])
def test_score_is_by_scoring_as_a_grid_searchs(iris, refit):
    # cross_val_score(cv_estimator) and a search around it compare what chose the candidate.
    X, y = iris
    cv = small_cv(l2s=[1e-3], dropouts=[0.0], scoring="neg_log_loss", refit=refit).fit(X, y)
    assert cv.score(X, y) == pytest.approx(-log_loss(y, cv.predict_proba(X)))
    weights = np.linspace(0.5, 2, len(y))
    expected = -log_loss(y, cv.predict_proba(X), sample_weight=weights)
    assert cv.score(X, y, sample_weight=weights) == pytest.approx(expected)
    plain = cv.set_params(scoring=None)
    assert plain.score(X, y) == pytest.approx(accuracy_score(y, plain.predict(X)))


def test_the_cv_regressors_score_is_by_scoring(regression_data):
    X, y = regression_data
    cv = small_cv(RegularizedMLPRegressorCV, l2s=[1e-3], dropouts=[0.0], cv=2,
                  scoring="neg_mean_absolute_error").fit(X, y)  # fmt: skip
    assert cv.score(X, y) == pytest.approx(-mean_absolute_error(y, cv.predict(X)))


def test_the_path_display_of_a_fitted_estimator_is_named_after_its_scoring(iris):
    X, y = iris
    cv = small_cv(l2s=[1e-4, 1e-3], dropouts=[0.0], scoring="neg_log_loss").fit(X, y)
    display = RegularizationPathDisplay.from_estimator(cv)
    assert display.ax_.get_ylabel() == "Negative log loss"
    negated = RegularizationPathDisplay.from_estimator(cv, negate_score=True)
    assert negated.ax_.get_ylabel() == "Log loss"
    # What would fit again is refused, not ignored: the path is scored already.
    with pytest.raises(ValueError, match="scoring: RegularizedMLPClassifierCV is fitted"):
        RegularizationPathDisplay.from_estimator(cv, scoring="accuracy")
    with pytest.raises(ValueError, match="cv, groups: .* holds its path"):
        RegularizationPathDisplay.from_estimator(cv, cv=3, groups=np.arange(len(y)))


def test_the_path_display_draws_what_the_estimator_computed(iris):
    X, y = iris
    cv = small_cv(l2s=[1e-5, 1e-4, 1e-3, 1e-2], dropouts=[0.0, 0.3], cv=5).fit(X, y)
    fits = cv.n_iter_.copy()
    display = RegularizationPathDisplay.from_estimator(cv)
    np.testing.assert_array_equal(display.param_range, [1e-5, 1e-4, 1e-3, 1e-2])
    assert display.best_value_ == cv.l2_
    best_row = list(display.param_range).index(cv.l2_)
    assert np.nanmean(display.test_scores[best_row]) == pytest.approx(cv.best_score_)
    assert np.isfinite(display.test_scores).all()  # pruned folds drawn at their mean
    np.testing.assert_array_equal(cv.n_iter_, fits)
    # The same path from a pipeline around it, or with the data given again: nothing fitted.
    pipeline = make_pipeline(StandardScaler(), cv)
    for again in (RegularizationPathDisplay.from_estimator(pipeline),
                  RegularizationPathDisplay.from_estimator(cv, X, y)):  # fmt: skip
        np.testing.assert_array_equal(again.test_scores, display.test_scores)
    np.testing.assert_array_equal(cv.n_iter_, fits)


def test_the_scorer_check_judges_what_the_network_can_predict():
    # All-zero counts: a constant baseline predicting their mean, 0, failed the Poisson
    # deviance ("strictly positive y_pred"), which the log link's predictions never do;
    # GridSearchCV over the same grid fits. Dates as targets failed the baseline's fit
    # itself with a raw NumPy error, where the regressor and GridSearchCV read them.
    X = np.random.default_rng(0).normal(size=(60, 3))
    params = dict(l2s=[1e-4, 1e-2], dropouts=[0.0], pruning=False)
    counts = small_cv(RegularizedMLPRegressorCV, loss="poisson", **params,
                      scoring="neg_mean_poisson_deviance").fit(X, np.zeros(60))  # fmt: skip
    member = RegularizedMLPRegressor(**SMALL, loss="poisson")
    search = GridSearchCV(member, {"l2": [1e-4, 1e-2], "dropout": [0.0]}, cv=3,
                          scoring="neg_mean_poisson_deviance").fit(X, np.zeros(60))  # fmt: skip
    np.testing.assert_allclose(
        counts.cv_results_["mean_test_score"], search.cv_results_["mean_test_score"], rtol=1e-5
    )
    dates = pd.date_range("2020-01-01", periods=60).values
    fitted = small_cv(RegularizedMLPRegressorCV, **params).fit(X, dates)
    assert np.isfinite(fitted.cv_results_["mean_test_score"]).all()
