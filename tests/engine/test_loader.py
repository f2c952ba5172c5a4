"""The backend loads late, once per process, with the process's threads and a disk cache."""

import importlib.util
import json
import multiprocessing
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
from sklearn.base import BaseEstimator

import skreg
from skreg import RegularizedMLPClassifier, _engine

BACKEND = _engine.backend_name()
BACKEND_MODULES = ("keras", "tensorflow", "jax")


@pytest.fixture
def python(run_python, tmp_path):
    """Run code in a fresh interpreter in ``tmp_path``, with its compilation cache there."""

    def run(code, **env):
        env.setdefault("SKREG_COMPILATION_CACHE_DIR", str(tmp_path / "cache"))
        return run_python(code, cwd=tmp_path, **env)

    return run


def test_import_clone_params_repr_and_parsing_never_load_the_backend(tmp_path, python):
    loaded = python(
        """
        import json, pickle, sys
        import skreg
        after_import = [m for m in ("keras", "tensorflow", "jax", "sklearn") if m in sys.modules]
        from sklearn.base import clone
        from skreg import GaussianNoise, RegularizedMLPClassifier, RegularizedMLPRegressor
        from skreg.cli import _parser
        clf = RegularizedMLPClassifier((8,), l2=1e-3, augmentation=GaussianNoise(0.1))
        copy = clone(clf).set_params(dropout=0.2, augmentation__std=0.2)
        repr(copy), copy.get_params(), pickle.loads(pickle.dumps(copy))
        clone(RegularizedMLPRegressor())
        _parser().parse_args(["compare", "--cv", "3", "--n-jobs", "2"])
        skreg.program_cache_info(), skreg.clear_program_cache()
        print(json.dumps({
            "after_import": after_import,
            "after_use": [m for m in ("keras", "tensorflow", "jax") if m in sys.modules],
        }))
        """,
    )
    assert loaded == {"after_import": [], "after_use": []}


@pytest.mark.slow
@pytest.mark.subprocess
def test_a_fitted_estimator_unpickles_without_the_backend_and_predicts_after(
    tmp_path, classification_data, python
):
    X, y = classification_data
    clf = RegularizedMLPClassifier((8,), max_iter=3, random_state=0).fit(X, y)
    (tmp_path / "clf.pkl").write_bytes(pickle.dumps(clf))
    np.save(tmp_path / "X.npy", X)
    result = python(
        """
        import json, pickle, sys
        import numpy as np
        clf = pickle.loads(open("clf.pkl", "rb").read())
        # A notebook's display too: scikit-learn's table of fitted attributes reads every
        # property, and model_ imported the backend to build the Keras model (3 s).
        html = clf._repr_html_()
        before = [m for m in ("keras", "tensorflow", "jax") if m in sys.modules]
        built = "_model" in vars(clf)
        proba = clf.predict_proba(np.load("X.npy"))
        print(json.dumps({"before": before, "n_iter": clf.n_iter_, "proba": proba.tolist(),
                          "built": built, "listed": "coefs_" in html}))
        """,
    )
    assert result["before"] == [] and not result["built"]
    # scikit-learn lists the fitted attributes from 1.9 on
    assert result["listed"] == hasattr(BaseEstimator, "_get_fitted_attr_html")
    assert result["n_iter"] == clf.n_iter_
    np.testing.assert_allclose(result["proba"], clf.predict_proba(X), atol=1e-6)


@pytest.mark.slow
@pytest.mark.subprocess
def test_command_line_help_and_data_errors_do_not_load_the_backend(tmp_path, python):
    result = python(
        """
        import contextlib, io, json, sys
        from skreg.cli import main
        codes = []
        for argv in (["--help"], ["compare", "--data", "missing.csv", "--target", "y"]):
            try:
                with contextlib.redirect_stdout(io.StringIO()), \\
                        contextlib.redirect_stderr(io.StringIO()):
                    main(argv)
            except SystemExit as exit:
                codes.append(exit.code)
        print(json.dumps({
            "codes": codes,
            "loaded": [m for m in ("keras", "tensorflow", "jax") if m in sys.modules],
        }))
        """,
    )
    assert result == {"codes": [0, 2], "loaded": []}


@pytest.mark.slow
@pytest.mark.subprocess
def test_loading_the_backend_leaves_optional_modules_unrun_and_usable(tmp_path, python):
    code = """
        import importlib.util, json, sys
        import numpy as np
        from skreg import RegularizedMLPClassifier, _engine
        tf_api = ("tensorflow._api.v2.compat", "tensorflow._api.v2.feature_column")
        names = ("matplotlib", "IPython", "jax") + tf_api
        before = {name: name in sys.modules for name in names}
        _engine.load()
        X, y = np.random.default_rng(0).normal(size=(40, 3)), np.arange(40) % 2
        RegularizedMLPClassifier((4,), max_iter=2, random_state=0).fit(X, y).predict(X)
        after = {
            name: type(sys.modules[name]).__name__ if name in sys.modules else None
            for name in names
        }
        used = {}
        if importlib.util.find_spec("matplotlib"):  # Keras' plots import it at their first use
            import keras
            keras.visualization.plot_image_gallery(
                np.zeros((2, 8, 8, 3)), rows=1, cols=2, path="gallery.png"
            )
            used["keras.visualization"] = open("gallery.png", "rb").read(4) == b"\\x89PNG"
        if "tensorflow" in sys.modules:
            import tensorflow as tf
            used["tf.compat"] = tf.compat.v1.reset_default_graph.__name__
            used["tf.feature_column"] = tf.feature_column.numeric_column("x").key
            # the API's namespace, not TensorFlow's own tensorflow.lite package
            used["tf.lite"] = hasattr(tf.lite, "TFLiteConverter")
        if importlib.util.find_spec("matplotlib"):
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
            figure, axes = plt.subplots()
            axes.plot([0, 1], [1, 0])
            figure.canvas.draw()
            used["matplotlib.pyplot"] = len(axes.lines)
        if importlib.util.find_spec("IPython"):
            import IPython
            used["IPython"] = IPython.get_ipython() is None
        if importlib.util.find_spec("jax"):
            import jax.numpy as jnp
            used["jax"] = float(jnp.arange(4.0).sum())
        print(json.dumps({"before": before, "after": after, "used": used}))
        """
    result = python(code, SKREG_COMPILATION_CACHE_DIR="off")
    assert not any(result["before"].values())
    names = ("matplotlib", "IPython", "jax")
    installed = {name for name in names if importlib.util.find_spec(name)}
    if "matplotlib" in installed:
        assert result["after"]["matplotlib"] is None
        assert result["used"]["keras.visualization"] is True
        assert result["used"]["matplotlib.pyplot"] == 1
    if "IPython" in installed:
        assert result["after"]["IPython"] == "_LazyModule"
        assert result["used"]["IPython"] is True
    if "jax" in installed:
        assert result["after"]["jax"] == ("module" if BACKEND == "jax" else None)
        assert result["used"]["jax"] == 6.0
    if BACKEND == "tensorflow":  # tf.compat and tf.feature_column: unrun by a fit, then usable
        assert result["after"]["tensorflow._api.v2.compat"] == "_LazyModule"
        assert result["after"]["tensorflow._api.v2.feature_column"] == "_LazyModule"
        used = [result["used"][name] for name in ("tf.compat", "tf.feature_column", "tf.lite")]
        assert used == ["reset_default_graph", "x", True]


@pytest.mark.slow
@pytest.mark.subprocess
def test_thread_count_and_compilation_cache_apply_at_the_first_fit(tmp_path, python):
    code = """
        import json, os
        import numpy as np
        import skreg
        from skreg import RegularizedMLPClassifier
        rng = np.random.default_rng(0)
        X, y = rng.normal(size=(40, 3)), np.arange(40) % 2
        HIDDEN = int(os.environ.get("HIDDEN", "4"))
        clf = RegularizedMLPClassifier((HIDDEN,), max_iter=2, random_state=0).fit(X, y)
        settings = skreg._engine.settings()
        threads = None
        if settings["backend"] == "tensorflow":
            import tensorflow as tf
            threads = tf.config.threading.get_intra_op_parallelism_threads()
        elif os.path.isdir("/proc/self/task"):  # XLA's CPU pool, and narrowed threads
            tasks = os.listdir("/proc/self/task")
            names = [open(f"/proc/self/task/{t}/comm").read().strip() for t in tasks]
            cpus = os.sched_getaffinity(0)
            narrowed = [t for t in tasks if os.sched_getaffinity(int(t)) != cpus]
            threads = {"pool": names.count("tf_XLAEigen"), "narrowed": narrowed}
        print(json.dumps({**settings, "threads": threads, "proba": clf.predict_proba(X).tolist()}))
        """
    # A small network: one thread by default, whatever the cores.
    first = python(code, OMP_NUM_THREADS=None)
    assert first["backend"] == BACKEND
    assert first["n_threads"] == 1
    if BACKEND == "tensorflow":
        assert first["threads"] == 1
    elif sys.platform == "linux":  # one pool thread, which may run on any CPU of the process
        assert first["threads"] == {"pool": 1, "narrowed": []}
    folder = first["compilation_cache"]
    assert folder.startswith(str(tmp_path / "cache"))
    name = os.path.basename(folder)
    assert f"skreg-{skreg.__version__}" in name and f"keras-{keras.__version__}" in name
    assert BACKEND in name
    written = os.listdir(folder)
    assert written, "the first fit wrote nothing to the compilation cache"
    # A new process in a worker (loky's limit for n_jobs=2 on two cores, or Dask's) loads the
    # programs: same predictions, the same one thread.
    second = python(code, OMP_NUM_THREADS="2")
    assert second["n_threads"] == 1
    assert second["threads"] == first["threads"]
    np.testing.assert_array_equal(second["proba"], first["proba"])
    # A network whose step passes the threshold: every core, or a worker's share; a count
    # set by the variable overrides the size.
    from skreg._engine._loader import MANY_THREADS_FROM_FLOPS

    # 3 inputs, 2 outputs, 40 rows: 6 * 40 * 5 operations per hidden unit and step.
    hidden = int(2 * MANY_THREADS_FROM_FLOPS / (6 * 40 * 5))
    large = {"HIDDEN": str(hidden), "SKREG_COMPILATION_CACHE_DIR": "off"}
    assert python(code, OMP_NUM_THREADS=None, **large)["n_threads"] is None
    assert python(code, OMP_NUM_THREADS="2", **large)["n_threads"] == 2
    fixed = python(code, OMP_NUM_THREADS=None, SKREG_NUM_THREADS="1", **large)
    assert fixed["n_threads"] == 1 and fixed["compilation_cache"] is None


@pytest.mark.slow
@pytest.mark.subprocess
def test_processes_sharing_an_empty_cache_write_it_at_the_same_time(tmp_path):
    code = textwrap.dedent(
        """
        import json
        import numpy as np
        from skreg import RegularizedMLPRegressor
        rng = np.random.default_rng(0)
        X = rng.normal(size=(50, 4))
        reg = RegularizedMLPRegressor((6,), max_iter=3, random_state=0).fit(X, X.sum(1))
        print(json.dumps(reg.predict(X).tolist()))
        """
    )
    env = dict(
        os.environ,
        KERAS_BACKEND=BACKEND,
        TF_CPP_MIN_LOG_LEVEL="3",
        SKREG_COMPILATION_CACHE_DIR=str(tmp_path),
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=300)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0]
    first, second = (json.loads(out.strip().splitlines()[-1]) for out in outputs)
    np.testing.assert_allclose(first, second, atol=1e-6)


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.skipif(BACKEND != "tensorflow", reason="TensorFlow's pools exist from its first op")
def test_tensorflow_run_before_the_first_fit_warns_of_threads_and_cache(tmp_path, python):
    code = """
        import json, os, warnings
        import numpy as np
        import tensorflow as tf
        from skreg import RegularizedMLPClassifier
        tf.constant(1.0) + 1.0  # the user's own TensorFlow work starts the runtime
        X, y = np.random.default_rng(0).normal(size=(40, 3)), np.arange(40) % 2
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            RegularizedMLPClassifier((4,), max_iter=1, random_state=0).fit(X, y)
        print(json.dumps([str(w.message) for w in caught if w.category is RuntimeWarning]))
        """
    caught = python(code, TF_XLA_FLAGS=None)  # not this process's, which names its cache
    assert len(caught) == 2
    assert "could not set its thread pools to 1" in caught[1]
    # TensorFlow read its XLA flags when it started: no persistent cache in this process.
    assert "on-disk compilation cache is off in this process" in caught[0]
    cache = tmp_path / "cache"
    assert f'--tf_xla_persistent_cache_directory="{cache}' in caught[0]
    # The remedies each warning names: nothing left to say.
    same = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}
    assert python(code, **same, TF_XLA_FLAGS=None, SKREG_COMPILATION_CACHE_DIR="off") == []
    flags = f"--tf_xla_persistent_cache_directory={tmp_path / 'own'}"
    assert python(code, **same, TF_XLA_FLAGS=flags) == []


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.skipif(BACKEND != "tensorflow", reason="only TensorFlow fixes its flags at start")
def test_tensorflow_imported_but_not_run_keeps_the_compilation_cache(tmp_path, python):
    code = """
        import json, os, warnings
        import numpy as np
        import tensorflow as tf  # imported by the user, no operation run yet
        from skreg import RegularizedMLPClassifier
        X, y = np.random.default_rng(0).normal(size=(40, 3)), np.arange(40) % 2
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            RegularizedMLPClassifier((4,), max_iter=1, random_state=0).fit(X, y)
        print(json.dumps([str(w.message) for w in caught if w.category is RuntimeWarning]))
        """
    assert python(code, TF_XLA_FLAGS=None) == []
    assert any((tmp_path / "cache").rglob("xla_compile_cache*"))


@pytest.mark.parametrize(
    ("variable", "name", "value", "expected"),
    [
        ("SKREG_NUM_THREADS", "n_threads", None, "auto"),
        ("SKREG_NUM_THREADS", "n_threads", "3", 3),
        ("SKREG_NUM_THREADS", "n_threads", "auto", "auto"),
        ("SKREG_NUM_THREADS", "n_threads", " AUTO ", "auto"),
        ("SKREG_PROGRAM_CACHE_SIZE", "program_cache_size", None, 6),
        ("SKREG_PROGRAM_CACHE_SIZE", "program_cache_size", "12", 12),
        ("SKREG_PROGRAM_CACHE_SIZE", "program_cache_size", " 2 ", 2),
    ],
)
def test_a_settings_variable_sets_its_default(monkeypatch, variable, name, value, expected):
    if value is None:
        monkeypatch.delenv(variable, raising=False)
    else:
        monkeypatch.setenv(variable, value)
    assert skreg._config._defaults()[name] == expected


def test_a_settings_variable_that_does_not_parse_warns_and_keeps_the_default(monkeypatch):
    monkeypatch.setenv("SKREG_NUM_THREADS", "all")
    with pytest.warns(RuntimeWarning, match="positive integer or 'auto'; got 'all'. Using 'auto'"):
        assert skreg._config._defaults()["n_threads"] == "auto"
    monkeypatch.setenv("SKREG_PROGRAM_CACHE_SIZE", "0")
    with pytest.warns(RuntimeWarning, match="program_cache_size must be >= 1; got 0. Using 6"):
        assert skreg._config._defaults()["program_cache_size"] == 6


@pytest.mark.parametrize(
    ("setting", "flops", "limit", "expected"),
    [
        ("auto", None, None, 1),  # a process that predicts first
        ("auto", 1e6, None, 1),  # a small network
        ("auto", 1e6, "4", 1),  # ... in a worker with four cores
        ("auto", 1e9, None, None),  # a large one: every core
        ("auto", 1e9, "2", 2),  # ... or the worker's share
        (3, 1e6, None, 3),  # a count, whatever the network
        (1, 1e9, "2", 1),
    ],
)
def test_threads_follow_the_work_of_a_step(monkeypatch, setting, flops, limit, expected):
    from skreg._engine import _loader

    if limit is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", limit)
    monkeypatch.setitem(skreg._config._CONFIG, "n_threads", setting)
    assert _loader.thread_count(flops) == expected


def test_settings_read_at_load_warn_when_changed_after_it(classification_data):
    X, y = classification_data
    RegularizedMLPClassifier((4,), max_iter=1).fit(X, y)
    before = skreg.get_config()["n_threads"]  # "auto" unless SKREG_NUM_THREADS is set
    with pytest.warns(RuntimeWarning, match="applies to new processes"):
        with skreg.config_context(n_threads=3):
            assert skreg.get_config()["n_threads"] == 3
    assert skreg.get_config()["n_threads"] == before
    with pytest.raises(ValueError, match="n_threads must be a positive integer or 'auto'"):
        skreg.set_config(n_threads=0)
    with pytest.raises(TypeError, match="compilation_cache_dir must be an absolute path"):
        skreg.set_config(compilation_cache_dir=3)


def _predict_in_child(clf, X):
    try:
        return clf.predict(X)
    except RuntimeError as error:
        return str(error)


@pytest.mark.subprocess
@pytest.mark.skipif(sys.platform != "linux", reason="fork is the Linux default")
def test_a_child_forked_after_the_backend_loaded_gets_an_error_not_a_hang(classification_data):
    X, y = classification_data
    clf = RegularizedMLPClassifier((4,), max_iter=1, random_state=0).fit(X, y)
    with multiprocessing.get_context("fork").Pool(1) as pool:
        answer = pool.apply_async(_predict_in_child, (clf, X[:5])).get(timeout=120)
    assert isinstance(answer, str), "the forked child predicted instead of refusing"
    assert "forked" in answer and "spawn" in answer and "loky" in answer
    # The parent is unaffected.
    assert clf.predict(X[:5]).shape == (5,)


@pytest.mark.subprocess
@pytest.mark.skipif(sys.platform != "linux", reason="fork is the Linux default")
def test_a_child_forked_after_the_users_own_backend_work_gets_an_error_not_a_hang(python):
    # The parent ran the backend without skreg (its own Keras work), then forked: skreg had
    # loaded nothing, and the child's first fit hung.
    answer = python(
        """
        import json, multiprocessing
        import keras, numpy as np
        import skreg
        keras.ops.convert_to_numpy(keras.ops.sum(keras.ops.ones((3, 3))))

        def fit(_):
            try:
                skreg.RegularizedMLPClassifier((4,), max_iter=1).fit(np.eye(4), [0, 1, 0, 1])
                return "fitted"
            except RuntimeError as error:
                return str(error)

        with multiprocessing.get_context("fork").Pool(1) as pool:
            print(json.dumps(pool.apply_async(fit, (0,)).get(timeout=120)))
        """
    )
    assert "forked from a process" in answer and "spawn" in answer


@pytest.mark.subprocess
def test_a_process_started_after_a_fit_runs_its_own_settings_not_its_parents(python):
    # skreg puts its cache folder (TensorFlow) and thread flags (JAX) in the environment,
    # which the processes the parent starts next inherit: a child with the cache off wrote
    # into the parent's folder, and a JAX child carried its parent's flags twice.
    child = (
        "import json, os, numpy as np, skreg\n"
        "X, y = np.random.default_rng(0).normal(size=(40, 5)), [0, 1] * 20\n"
        "skreg.RegularizedMLPClassifier((6,), max_iter=2, random_state=0).fit(X, y)\n"
        "print(json.dumps([os.environ.get(v, '') for v in ('TF_XLA_FLAGS', 'XLA_FLAGS')]))\n"
    )
    report = python(
        f"""
        import json, pathlib, subprocess, sys, warnings
        import numpy as np
        import skreg
        X, y = np.random.default_rng(0).normal(size=(40, 3)), [0, 1] * 20
        skreg.RegularizedMLPClassifier((4,), max_iter=2, random_state=0).fit(X, y)
        folder = pathlib.Path(skreg._engine.settings()["compilation_cache"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the change applies to new processes
            skreg.set_config(compilation_cache_dir=False)
        before = len(list(folder.iterdir()))
        out = subprocess.run([sys.executable, "-c", {child!r}], capture_output=True,
                             text=True, check=True)
        flags = json.loads(out.stdout.strip().splitlines()[-1])
        print(json.dumps({{"new": len(list(folder.iterdir())) - before, "flags": flags}}))
        """
    )
    assert report["new"] == 0  # nothing written where the cache was
    tf_flags, xla_flags = report["flags"]
    assert "tf_xla_persistent_cache_directory" not in tf_flags
    assert xla_flags.count("--xla_cpu_multi_thread_eigen=false") <= 1


@pytest.mark.slow
@pytest.mark.subprocess
def test_collecting_the_doctests_loads_no_backend(tmp_path, python):
    # Collecting imports every public module; only a fit or predict may load the backend.
    root = Path(skreg.__file__).parents[1]
    loaded = python(
        f"""
        import contextlib, io, json, sys
        import pytest
        with contextlib.redirect_stdout(io.StringIO()):
            code = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider",
                                {str(root / "skreg")!r}])
        loaded = [m for m in ("keras", "tensorflow", "jax") if m in sys.modules]
        print(json.dumps({{"code": int(code), "loaded": loaded}}))
        """,
    )
    assert loaded == {"code": 0, "loaded": []}


@pytest.mark.subprocess
def test_a_fit_after_an_interrupted_backend_import_asks_for_a_restart(python):
    # Ctrl-C during a process's first fit, while the backend was importing, left its modules
    # half made: the next fit raised TensorFlow's "partially initialized module" or JAX's
    # "module 'jax' has no attribute '_src'", which say nothing of what to do.
    inside = {"tensorflow": "tensorflow.python.data", "jax": "jax._src.lax.lax"}
    answer = python(
        f"""
        import importlib.abc, json, sys
        import numpy as np

        class Interrupt(importlib.abc.MetaPathFinder):  # Ctrl-C, inside the import
            fired = False
            def find_spec(self, name, path, target=None):
                if name == {inside[BACKEND]!r} and not Interrupt.fired:
                    Interrupt.fired = True
                    raise KeyboardInterrupt
        sys.meta_path.insert(0, Interrupt())

        import skreg
        errors = []
        for attempt in range(2):
            try:
                skreg.RegularizedMLPClassifier((4,), max_iter=1).fit(np.eye(4), [0, 1, 0, 1])
            except BaseException as error:
                errors.append([type(error).__name__, str(error)])
        print(json.dumps(errors))
        """
    )
    assert answer[0][0] == "KeyboardInterrupt"
    kind, message = answer[1]
    assert kind == "RuntimeError" and "Restart the Python process" in message


@pytest.mark.subprocess
def test_a_fit_run_by_a_file_shadowing_a_module_keras_imports_gets_an_error_not_a_hang(
    python, tmp_path
):
    # Keras' import looks for OpenCV as cv2; a user's cv2.py that fits a model ran inside
    # skreg's first load and waited on its lock forever.
    (tmp_path / "cv2.py").write_text(
        "import numpy as np, skreg\n"
        "skreg.RegularizedMLPClassifier((4,), max_iter=1).fit(np.eye(4), [0, 1, 0, 1])\n"
    )
    answer = python(
        """
        import json, numpy as np, skreg
        try:
            skreg.RegularizedMLPClassifier((4,), max_iter=1).fit(np.eye(4), [0, 1, 0, 1])
            print(json.dumps("fitted"))
        except RuntimeError as error:
            print(json.dumps(str(error)))
        """
    )
    assert "shadowed by a file of yours" in answer and "cv2.py" in answer


@pytest.mark.subprocess
def test_a_backend_that_is_not_installed_is_named_with_what_to_install(python):
    # KERAS_BACKEND=jax without jax (skreg without its jax extra) failed 40 lines deep in
    # Keras' backend module with "No module named 'jax'"; the command line showed the same.
    answer = python(
        f"""
        import contextlib, io, json, sys
        import numpy as np
        sys.modules[{BACKEND!r}] = None  # as if it were not installed

        import skreg
        from skreg.cli import main
        errors = []
        try:
            skreg.RegularizedMLPClassifier((4,), max_iter=1).fit(np.eye(4), [0, 1, 0, 1])
        except ImportError as error:
            errors.append(str(error))
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr), contextlib.suppress(SystemExit):
            main(["diagnose", "--hidden", "4", "--max-iter", "1"])
        errors.append(stderr.getvalue())
        print(json.dumps(errors + ["keras" in sys.modules]))
        """
    )
    install = "'skreg[jax]'" if BACKEND == "jax" else "tensorflow"
    fit, command, keras_imported = answer
    assert f"but {BACKEND} is not installed: python -m pip install {install}" in fit
    assert command.strip().splitlines() == [f"skreg diagnose: error: {fit}"]
    assert not keras_imported


@pytest.mark.subprocess
@pytest.mark.skipif(BACKEND != "tensorflow", reason="TensorFlow's thread pools, set by its API")
@pytest.mark.parametrize(("setting", "pools"), [("auto", [2, 3]), ("1", [1, 1])])
def test_thread_pools_the_user_sized_are_kept_unless_n_threads_is_a_count(python, setting, pools):
    # skreg's first fit set them to one thread each, silently, for the user's own work too.
    answer = python(
        """
        import json
        import numpy as np
        import tensorflow as tf
        import skreg

        tf.config.threading.set_intra_op_parallelism_threads(2)
        tf.config.threading.set_inter_op_parallelism_threads(3)
        skreg.RegularizedMLPClassifier((4,), max_iter=1).fit(np.eye(4), [0, 1, 0, 1])
        pools = tf.config.threading
        print(json.dumps([skreg._engine.settings()["n_threads"],
                          [pools.get_intra_op_parallelism_threads(),
                           pools.get_inter_op_parallelism_threads()]]))
        """,
        SKREG_NUM_THREADS=setting,
    )
    assert answer == [pools[0], pools]


@pytest.mark.subprocess
def test_a_fit_asked_for_no_log_lines_writes_nothing_to_the_standard_error(tmp_path):
    # TensorFlow's lines before its log level applies (absl, oneDNN, the GPU probes) were
    # written in every process that asked for level 3, the command line's parallel workers
    # among them ("skreg compare --n-jobs 2" printed 12).
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKREG_")}
    env.update(KERAS_BACKEND=BACKEND, TF_CPP_MIN_LOG_LEVEL="3",
               SKREG_COMPILATION_CACHE_DIR=str(tmp_path / "cache"))  # fmt: skip
    code = (
        "import sys, numpy as np, skreg\n"
        "skreg.RegularizedMLPClassifier((4,), max_iter=1).fit(np.eye(4), [0, 1, 0, 1])\n"
        "print('written after the fit', file=sys.stderr)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    # TensorFlow 2.16 writes its XLA service's lines at the first compile, after the load.
    lines = [line for line in out.stderr.splitlines() if "service.cc" not in line
             and "device_compiler.h" not in line and "InitializeLog" not in line]  # fmt: skip
    assert lines == ["written after the fit"], out.stderr[-3000:]


@pytest.mark.subprocess
def test_reloading_skreg_after_its_modules_gives_their_new_classes(python):
    answer = python(
        """
        import importlib, json, pickle
        import skreg, skreg._classifier

        skreg.RegularizedMLPClassifier  # loaded, and stored in skreg's namespace
        importlib.reload(skreg._classifier)
        importlib.reload(skreg)
        new = skreg.RegularizedMLPClassifier
        pickle.dumps(new((4,)))  # "not the same object as" the class in its module, before
        print(json.dumps(new is skreg._classifier.RegularizedMLPClassifier))
        """
    )
    assert answer is True


@pytest.mark.subprocess
def test_threads_starting_the_first_fits_together_share_one_load(python):
    # run_python asks for TF_CPP_MIN_LOG_LEVEL=3, which loads the backend quietly (on
    # TensorFlow): threads waiting for another's load must not load it again.
    answer = python(
        """
        import json
        from concurrent.futures import ThreadPoolExecutor
        import numpy as np
        import skreg

        def fit(seed):
            model = skreg.RegularizedMLPClassifier((4,), max_iter=1, random_state=seed)
            return model.fit(np.eye(4), [0, 1, 0, 1]).predict_proba(np.eye(4)).tolist()

        with ThreadPoolExecutor(3) as pool:
            print(json.dumps(list(pool.map(fit, range(3)))))
        """
    )
    assert len(answer) == 3
