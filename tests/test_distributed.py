"""Searches on a Dask LocalCluster and on Ray give the serial search's results."""

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV

import skreg
from skreg import RegularizedMLPClassifier, _engine
from skreg._engine import _loader

GRID = {"hidden_layer_sizes": [(4,), (6,)], "l2": [0.0, 1e-2]}

pytestmark = [pytest.mark.slow, pytest.mark.distributed]


def _search(X, y, n_jobs):
    search = GridSearchCV(
        RegularizedMLPClassifier(max_iter=3, random_state=0), GRID, cv=2, n_jobs=n_jobs
    )
    return search.fit(X, y)


def _assert_same_results(parallel, serial, X):
    np.testing.assert_array_equal(
        parallel.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )
    assert parallel.best_params_ == serial.best_params_
    np.testing.assert_array_equal(parallel.predict(X), serial.predict(X))


@pytest.fixture(scope="module")
def serial_search(classification_data):
    X, y = classification_data
    return _search(X, y, n_jobs=1)


def _fit_proba(X, y):
    clf = RegularizedMLPClassifier((128, 64), max_iter=20, random_state=0).fit(X, y)
    return clf.predict_proba(X)


def test_fits_in_loky_workers_equal_the_same_fit_in_a_script_bit_for_bit(monkeypatch):
    # One thread by default, in a script's process and in the workers of n_jobs=2. With every
    # core in the script (on a machine of 2 or more) and one per worker, XLA's matrix kernels
    # add this network's sums in another order: probabilities differ by about 1e-7. The
    # script is a fresh process, as a user's is: this one has compiled more networks than
    # TensorFlow keeps XLA for (see set_config's program_cache_size).
    X, y = make_classification(
        n_samples=200, n_features=64, n_informative=5, n_classes=3, random_state=0
    )
    X = X.astype(np.float32)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # no worker's limit in the script
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as script:
        here = script.submit(_fit_proba, X, y).result()
    with joblib.parallel_config(backend="loky"):
        there = joblib.Parallel(n_jobs=2)(joblib.delayed(_fit_proba)(X, y) for _ in range(2))
    for proba in there:
        np.testing.assert_array_equal(proba, here)


def test_search_on_a_dask_local_cluster_matches_serial(classification_data, serial_search):
    distributed = pytest.importorskip("dask.distributed")
    X, y = classification_data
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        with joblib.parallel_config(backend="dask"):
            search = _search(X, y, n_jobs=2)
        # The fits ran on the workers, which each loaded the backend once, with one thread.
        workers = client.run(lambda: (_engine.loaded(), _loader.thread_count()))
        # The cluster's nannies set their workers' thread limit in this process too; this
        # process is no worker, so a large network would get every core here.
        assert os.environ.get("OMP_NUM_THREADS") == "1"
        assert skreg.get_config()["n_threads"] == "auto"
        assert _loader.thread_count(step_flops=1e12) is None
    assert [list(worker) for worker in workers.values()] == [[True, 1], [True, 1]]
    _assert_same_results(search, serial_search, X)


def test_search_on_ray_matches_serial(classification_data, serial_search):
    ray = pytest.importorskip("ray")
    from ray.util.joblib import register_ray

    X, y = classification_data
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        register_ray()
        with joblib.parallel_config(backend="ray"):
            search = _search(X, y, n_jobs=2)
    finally:
        ray.shutdown()
    _assert_same_results(search, serial_search, X)


def test_the_cv_estimator_in_loky_workers_and_on_dask_matches_serial(classification_data):
    from skreg import RegularizedMLPClassifierCV

    distributed = pytest.importorskip("dask.distributed")
    X, y = classification_data
    cv = RegularizedMLPClassifierCV(
        (6,), l2s=[0.0, 1e-3, 1e-2], dropouts=[0.0, 0.2], cv=3, max_iter=3, random_state=0
    )
    serial = clone(cv).fit(X, y)
    loky = clone(cv).set_params(n_jobs=2).fit(X, y)
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster),
        joblib.parallel_config(backend="dask"),
    ):
        dask = clone(cv).set_params(n_jobs=2).fit(X, y)
    for parallel in (loky, dask):
        for key in ("mean_test_score", "n_folds_run", "rank_test_score"):
            np.testing.assert_array_equal(parallel.cv_results_[key], serial.cv_results_[key])
        np.testing.assert_array_equal(parallel.predict(X), serial.predict(X))
        # This process has compiled more networks than TensorFlow keeps XLA for (see
        # set_config's program_cache_size), so here the fold models may run without XLA,
        # which sums in another order than the workers: probabilities differ near 1e-8.
        np.testing.assert_allclose(parallel.predict_proba(X), serial.predict_proba(X), rtol=1e-6)
