"""scikit-learn's callback API (``sklearn.callback``): epochs are the fit's subtasks."""

import numpy as np
import pytest
from plain import plain
from sklearn.exceptions import FitFailedWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, cross_validate

from skreg import (
    GaussianNoise,
    RegularizedMLPClassifier,
    RegularizedMLPClassifierCV,
    RegularizedMLPRegressor,
    RegularizedMLPRegressorCV,
)
from skreg._validation import HAS_CALLBACKS

pytestmark = pytest.mark.skipif(
    not HAS_CALLBACKS, reason="sklearn.callback needs scikit-learn >= 1.9"
)


def small(**params):
    params = {
        **plain(RegularizedMLPClassifier),
        "learning_rate": 1e-2,
        "random_state": 0,
        **params,
    }
    return RegularizedMLPClassifier((8,), **params)


def epoch_rows(log):
    return [row for row in log.data if row["task_name"] == "epoch"]


def test_scoring_monitor_scores_each_epochs_network(iris):
    from sklearn.callback import ScoringMonitor

    X, y = iris
    monitor = ScoringMonitor(scoring="accuracy")
    clf = small(max_iter=4).set_callbacks(monitor).fit(X, y)
    rows = epoch_rows(monitor.get_logs())
    assert [row["task_id"] for row in rows] == [0, 1, 2, 3]
    # Epoch k's network is the one a fit of k epochs ends with.
    for k, row in enumerate(rows, start=1):
        assert row["accuracy"] == small(max_iter=k).fit(X, y).score(X, y)
    root = [row for row in monitor.get_logs().data if row["task_name"] == "fit"]
    assert root[0]["accuracy"] == clf.score(X, y)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_callbacks_do_not_change_the_model(iris, early_stopping):
    from sklearn.callback import ScoringMonitor

    X, y = iris
    params = dict(max_iter=12, early_stopping=early_stopping, augmentation=GaussianNoise(0.1))
    if early_stopping:  # no epoch improves by 10: it stops after 3 (epochs run one a call)
        params.update(n_iter_no_change=2, tol=10.0)
    plain = small(**params).fit(X, y)
    monitored = small(**params).set_callbacks(ScoringMonitor(scoring="accuracy")).fit(X, y)
    np.testing.assert_array_equal(plain.predict_proba(X), monitored.predict_proba(X))
    assert plain.history_ == monitored.history_
    assert monitored.n_iter_ == (3 if early_stopping else 12)


def test_scoring_monitor_follows_grid_search_and_cross_validate(iris):
    from sklearn.callback import ScoringMonitor

    X, y = iris
    monitor = ScoringMonitor(scoring="accuracy")
    clf = small(max_iter=3).set_callbacks(monitor)
    GridSearchCV(clf, {"l2": [0.0, 1e-2]}, cv=2).fit(X, y)
    # 2 candidates x 2 folds + the refit, 3 epochs each.
    assert len(epoch_rows(monitor.get_logs())) == 5 * 3
    cross_validate(clf, X, y, cv=3)
    runs = monitor.get_logs(select="all")[-3:]  # one run per fold
    assert [len(epoch_rows(run)) for run in runs] == [3, 3, 3]


class Quiet:
    """A callback that does nothing; the tests' callbacks override on_fit_task_end."""

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context):
        pass


def test_a_callback_can_stop_training(iris):
    class StopAtThree(Quiet):
        def on_fit_task_end(self, estimator, context):
            return context.task_name == "epoch" and context.task_id == 2

    X, y = iris
    clf = small(max_iter=10).set_callbacks(StopAtThree()).fit(X, y)
    assert clf.n_iter_ == 3
    assert len(clf.history_["loss"]) == 3


@pytest.mark.parametrize("warm_start", [False, True])
def test_a_callback_raising_at_the_fits_end_undoes_the_fit(iris, warm_start):
    class RaiseAtTheEnd(Quiet):
        def on_fit_task_end(self, estimator, context):
            if context.task_name == "fit":
                raise RuntimeError("the callback failed")

    X, y = iris
    clf = small(max_iter=3, warm_start=warm_start)
    if warm_start:
        clf.fit(X, y)
        before = (clf.predict_proba(X), clf.n_iter_, clf.t_, list(clf.loss_curve_))
    with pytest.raises(RuntimeError, match="the callback failed"):
        clf.set_callbacks(RaiseAtTheEnd()).fit(X, y)
    if warm_start:  # the previous fit, untouched
        np.testing.assert_array_equal(clf.predict_proba(X), before[0])
        assert (clf.n_iter_, clf.t_, list(clf.loss_curve_)) == before[1:]
    else:  # still unfitted
        with pytest.raises(NotFittedError):
            clf.predict(X)


def test_the_estimator_being_fitted_first_is_unfitted_until_its_fit_ends(iris):
    # It held classes_ and n_features_in_, so check_is_fitted passed and predict failed
    # with an AttributeError on the network it did not have yet.
    seen = []

    class Look(Quiet):
        def on_fit_task_end(self, estimator, context):
            if context.task_name == "epoch":
                with pytest.raises(NotFittedError):
                    estimator.predict(X)
                seen.append(context.task_id)

    X, y = iris
    clf = small(max_iter=2).set_callbacks(Look()).fit(X, y)
    assert seen == [0, 1]
    assert clf.predict(X).shape == y.shape


def test_progress_bar_shows_the_epochs(iris, capsys):
    pytest.importorskip("rich")
    from sklearn.callback import ProgressBar

    X, y = iris
    RegularizedMLPRegressor((4,), max_iter=3).set_callbacks(ProgressBar()).fit(X, y)
    assert "RegularizedMLPRegressor - fit" in capsys.readouterr().out


def test_partial_fit_is_a_task_of_one_epoch(iris):
    from sklearn.callback import ScoringMonitor

    X, y = iris
    monitor = ScoringMonitor(scoring="accuracy")
    clf = small().set_callbacks(monitor)
    clf.partial_fit(X, y, classes=np.unique(y))
    log = monitor.get_logs()
    assert [row["task_name"] for row in log.data] == ["partial_fit", "epoch"]


class _KeepEachEpoch(Quiet):
    """A callback that keeps every epoch's ``fitted_estimator`` (to checkpoint one)."""

    def __init__(self):
        self.copies = []

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        if fitted_estimator is not None and context.task_name == "epoch":
            self.copies.append(fitted_estimator)


def test_an_epochs_fitted_estimator_is_the_fit_stopped_there_and_can_continue(iris):
    # The copy held the epoch's weights but the previous call's n_iter_ and loss_curve_ (or
    # none), and continuing it raised AttributeError: 'history_'.
    X, y = iris
    keep = _KeepEachEpoch()
    clf = small(max_iter=5, warm_start=True).set_callbacks(keep).fit(X, y)
    clf.fit(X, y)  # a continued fit: epochs 6 to 10
    after_8 = keep.copies[7]
    stopped = small(max_iter=5, warm_start=True).fit(X, y)
    stopped.set_params(max_iter=3).fit(X, y)
    assert after_8.n_iter_ == 8 and after_8.t_ == stopped.t_
    np.testing.assert_allclose(after_8.loss_curve_, stopped.loss_curve_, rtol=1e-6)
    np.testing.assert_array_equal(after_8.predict_proba(X), stopped.predict_proba(X))
    after_8.set_callbacks().partial_fit(X, y)  # continues, with a new optimizer state
    assert after_8.n_iter_ == 9 and len(after_8.history_["loss"]) == 9
    assert clf.n_iter_ == 10  # the estimator itself is untouched


class Record(Quiet):
    """Records every task that ends: its estimator's class, name and id. With
    ``max_propagation_depth=None`` it reaches the estimators a search fits, as ProgressBar
    does; with 0 it stays with the search."""

    def __init__(self, max_propagation_depth=None):
        self.max_propagation_depth = max_propagation_depth
        self.ended = []

    def on_fit_task_end(self, estimator, context):
        self.ended.append((type(estimator).__name__, context.task_name, context.task_id))


def search_tasks(ended, search):
    """The names of the search's own tasks in the order they ended, a run of one name as
    one (the fold models' tasks are one run, however many fold models)."""
    named = [name for cls, name, _ in ended if cls == search]
    return [name for i, name in enumerate(named) if i == 0 or name != named[i - 1]]


def small_cv(cv_class=RegularizedMLPClassifierCV, **params):
    params = {"l2s": [0.0, 1e-3, 1e-2], "dropouts": [0.0], "cv": 3, "max_iter": 3,
              "learning_rate": 1e-2, "random_state": 0, **params}  # fmt: skip
    return cv_class((8,), **params)


@pytest.mark.parametrize("depth", [0, None])
@pytest.mark.parametrize("refit", [True, "ensemble"])
def test_the_cv_estimator_lays_out_its_tasks_as_grid_search_does(iris, refit, depth):
    X, y = iris
    record, searched = Record(depth), Record(depth)
    cv = small_cv(refit=refit).set_callbacks(record).fit(X, y)
    grid = GridSearchCV(small(max_iter=3), {"l2": [0.0, 1e-2]}, cv=2, refit=refit is True)
    grid.set_callbacks(searched).fit(X, y)
    name = type(cv).__name__
    assert search_tasks(record.ended, name) == search_tasks(searched.ended, "GridSearchCV")
    # Racing: 3 candidates on fold 1, then the better 2 on folds 2 and 3: 7 fold models,
    # each a task of the search (merged with the fold model's fit when callbacks reach it).
    fold_tasks = [task_id for cls, task, task_id in record.ended
                  if task == ("fit" if depth is None else "candidate-split-evaluation")
                  and cls == ("RegularizedMLPClassifier" if depth is None else name)]  # fmt: skip
    assert fold_tasks[:7] == list(range(7)) == list(range(int((cv.n_iter_ > 0).sum())))
    member_epochs = [e for e in record.ended if e[1] == "epoch"]
    assert len(member_epochs) == (cv.n_iter_.sum() + 3 * (refit is True)) * (depth is None)


@pytest.mark.parametrize("cv_class", [RegularizedMLPClassifierCV, RegularizedMLPRegressorCV])
def test_callbacks_do_not_change_the_cv_estimators_models(iris, cv_class):
    X, y = iris
    plain_cv = small_cv(cv_class).fit(X, y)
    called = small_cv(cv_class).set_callbacks(Record()).fit(X, y)
    np.testing.assert_array_equal(plain_cv.predict(X), called.predict(X))
    np.testing.assert_array_equal(plain_cv.n_iter_, called.n_iter_)
    assert plain_cv.best_params_ == called.best_params_


def test_a_callback_raising_at_the_cv_fits_end_keeps_the_previous_fit(iris):
    class RaiseAtTheEnd(Quiet):
        def on_fit_task_end(self, estimator, context):
            if context.task_name == "fit" and isinstance(estimator, RegularizedMLPClassifierCV):
                raise RuntimeError("the callback failed")

    X, y = iris
    cv = small_cv().fit(X, y)
    before = (cv.predict_proba(X), cv.best_params_)
    with pytest.raises(RuntimeError, match="the callback failed"):
        cv.set_callbacks(RaiseAtTheEnd()).set_params(l2s=[0.1, 1.0]).fit(X, y)
    np.testing.assert_array_equal(cv.predict_proba(X), before[0])
    assert cv.best_params_ == before[1]


@pytest.mark.parametrize("hook", ["begin", "end"])
def test_a_callback_raising_in_a_fold_models_task_acts_as_in_grid_search(iris, hook):
    class RaiseOnFoldTwo(Quiet):
        def on_fit_task_begin(self, estimator, context):
            self.maybe("begin", context)

        def on_fit_task_end(self, estimator, context):
            self.maybe("end", context)

        def maybe(self, when, context):
            if (when, context.task_name, context.task_id) == (
                hook, "candidate-split-evaluation", 1
            ):  # fmt: skip
                raise RuntimeError("the callback failed")

    X, y = iris
    grid = GridSearchCV(small(max_iter=3), {"l2": [0.0, 1e-3, 1e-2]}, cv=3)
    for search in (grid, small_cv(pruning=False)):
        search.set_callbacks(RaiseOnFoldTwo())
        if hook == "end":  # after the fold's score, outside error_score: the search stops
            with pytest.raises(RuntimeError, match="the callback failed"):
                search.fit(X, y)
        else:  # within the fold model's fit: that fold gets error_score, the search goes on
            with pytest.warns(FitFailedWarning, match="the callback failed"):
                search.fit(X, y)
            scores = [search.cv_results_[f"split{k}_test_score"] for k in range(3)]
            assert np.isnan(scores).sum() == 1


def test_progress_bar_shows_the_cv_estimators_search(iris, capsys):
    pytest.importorskip("rich")
    from sklearn.callback import ProgressBar

    X, y = iris
    small_cv(max_iter=2).set_callbacks(ProgressBar()).fit(X, y)
    out = capsys.readouterr().out
    assert "RegularizedMLPClassifierCV - search" in out
    assert out.count("candidate-split-evaluation") == 7
