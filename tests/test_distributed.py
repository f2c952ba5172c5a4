"""Searches on a Dask LocalCluster and on Ray give the serial search's results."""

import os

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

from skreg import RegularizedMLPClassifier, _backend

GRID = {"hidden_layer_sizes": [(4,), (6,)], "l2": [0.0, 1e-2]}


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
        workers = client.run(lambda: (_backend.loaded(), _backend.thread_count()))
        # The cluster's nannies set their workers' thread limit in this process too; this
        # process is no worker, and keeps every core.
        assert os.environ.get("OMP_NUM_THREADS") == "1"
        assert _backend.thread_count() is None
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
