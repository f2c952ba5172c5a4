"""The caches never touch a user's files, never break a fit, and are safe between threads.

Each case here comes from issue 17's sweep of adversarial probes: a cache pointed at a folder
of the user's deleted the user's old files; a damaged entry failed every later fit; a cache
folder that could not be made failed every fit; dropping a program while another thread ran
it crashed that thread; a nested fit of the same network waited forever.
"""

import os
import threading
import time
import warnings

import numpy as np
import pytest

import skreg
from skreg import RegularizedMLPClassifier, _engine
from skreg._engine import _disk

BACKEND = _engine.backend_name()

FIT = """
    import json, warnings
    import numpy as np
    from skreg import RegularizedMLPClassifier
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 10))
    y = np.arange(300) % 3
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf = RegularizedMLPClassifier((64, 32), max_iter=3, random_state=0).fit(X, y)
    said = [str(w.message) for w in caught if w.category is RuntimeWarning]
    print(json.dumps({"proba": clf.predict_proba(X[:5]).tolist(), "said": said}))
    """


def _entries(folder):
    """The compiled-code entries the backend wrote in skreg's cache folder."""
    pattern = "xla_compile_cache*" if BACKEND == "tensorflow" else "jit_*-cache"
    return sorted(folder.glob(pattern))


def test_pruning_deletes_only_what_skreg_wrote(tmp_path, monkeypatch):
    monkeypatch.setattr(_disk, "MAX_BYTES", 4000)
    user = tmp_path / "data"
    user.mkdir()
    (user / "old.parquet").write_bytes(b"x" * 5000)
    (tmp_path / "notes.txt").write_bytes(b"x" * 5000)
    lookalike = tmp_path / "skreg-but-not-a-cache"  # skreg's prefix, no marker
    lookalike.mkdir()
    (lookalike / "keep").write_bytes(b"x" * 5000)
    old, current = tmp_path / "skreg-0.0.1_old", tmp_path / "skreg-now"
    for i, folder in enumerate([old, old, current, current]):
        folder.mkdir(exist_ok=True)
        (folder / _disk.MARKER).write_text("Signature: 8a477f597d28d172789f06886806bc55")
        entry = folder / f"entry{i}"
        entry.write_bytes(b"x" * 1500)
        os.utime(entry, (1000 + i, 1000 + i))
    for path in [user / "old.parquet", tmp_path / "notes.txt", lookalike / "keep"]:
        os.utime(path, (1, 1))  # older than every entry
    _disk.prune(current, bounded_by_backend=False)
    left = sorted(p.name for p in tmp_path.rglob("entry*"))
    assert left == ["entry2", "entry3"]  # 3000 bytes: within 3/4 of the bound
    assert (user / "old.parquet").exists() and (tmp_path / "notes.txt").exists()
    assert (lookalike / "keep").exists()
    # A folder that the backend bounds itself (JAX's) is left alone.
    (current / "entry4").write_bytes(b"x" * 3000)
    _disk.prune(current, bounded_by_backend=True)
    assert len(list(current.glob("entry*"))) == 3


@pytest.mark.slow
@pytest.mark.subprocess
def test_a_cache_in_a_users_folder_leaves_the_users_files(tmp_path, run_python):
    user_file = tmp_path / "data" / "old.parquet"
    user_file.parent.mkdir()
    with open(user_file, "wb") as sparse:  # 1 GB that takes no room: over the bound
        sparse.truncate(1 << 30)
    os.utime(user_file, (1, 1))
    run_python(FIT, SKREG_COMPILATION_CACHE_DIR=str(tmp_path))
    assert user_file.stat().st_size == 1 << 30
    (folder,) = tmp_path.glob("skreg-*")
    assert (folder / _disk.MARKER).read_text().startswith("Signature: 8a477f59")


def test_a_cache_folder_with_a_space_keeps_the_entries_inside(tmp_path, run_python):
    # TensorFlow splits its XLA flags at spaces: the entries once went to the path cut there.
    (tmp_path / "my").mkdir()
    (tmp_path / "my" / "notes.txt").write_text("the user's")
    run_python(FIT, SKREG_COMPILATION_CACHE_DIR=str(tmp_path / "my cache"))
    (folder,) = (tmp_path / "my cache").glob("skreg-*")
    assert _entries(folder)
    assert [p.name for p in (tmp_path / "my").iterdir()] == ["notes.txt"]


@pytest.mark.subprocess
def test_a_full_disk_never_fails_a_fit_nor_stays_full(tmp_path):
    # The cache on a full disk failed every TensorFlow fit ("No space left on device") and
    # left partial files that kept it full; JAX warned and went on. A 300 kB file system of
    # its own (a private mount namespace: root and unshare(1) needed) holds the cache.
    import json
    import shutil
    import subprocess
    import sys
    import textwrap

    cache = tmp_path / "cache"
    cache.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKREG_")}
    env.update(KERAS_BACKEND=BACKEND, TF_CPP_MIN_LOG_LEVEL="3",
               SKREG_COMPILATION_CACHE_DIR=str(cache))  # fmt: skip
    mount = f"mount -t tmpfs -o size=300k tmpfs '{cache}'"
    script = f"{mount} && '{sys.executable}' -c \"$CODE\" && '{sys.executable}' -c \"$CODE\""
    if (
        shutil.which("unshare") is None
        or subprocess.run(["unshare", "-m", "sh", "-c", mount], capture_output=True).returncode
    ):
        pytest.skip("needs unshare and mount (root) for a small file system of its own")
    out = subprocess.run(
        ["unshare", "-m", "sh", "-c", script + f"; df -k '{cache}'; ls -aR '{cache}'"],
        capture_output=True, text=True, env={**env, "CODE": textwrap.dedent(FIT)}, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    runs = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert len(runs) == 2
    np.testing.assert_allclose(runs[0]["proba"], runs[1]["proba"], rtol=1e-6)
    assert not any(".part" in line or ".tmp" in line for line in out.stdout.splitlines())
    if BACKEND == "tensorflow":
        assert all("trains without XLA compilation" in " ".join(r["said"]) for r in runs)
        assert "(No space left on device)" in runs[0]["said"][0]


@pytest.mark.subprocess
def test_set_config_reaches_the_worker_processes_of_a_search(tmp_path, run_python):
    code = f"""
        import json, os
        from joblib import Parallel, delayed
        import skreg
        skreg.set_config(compilation_cache_dir={str(tmp_path)!r}, n_threads=1,
                         program_cache_size=12)
        workers = Parallel(n_jobs=2, backend="loky")(
            delayed(skreg.get_config)() for _ in range(2))
        with skreg.config_context(compilation_cache_dir=False):
            inside = os.environ["SKREG_COMPILATION_CACHE_DIR"]
        after = os.environ["SKREG_COMPILATION_CACHE_DIR"]
        print(json.dumps({{"workers": workers, "inside": inside, "after": after}}))
        """
    out = run_python(code)
    for config in out["workers"]:
        assert config["compilation_cache_dir"] == str(tmp_path)
        assert config["n_threads"] == 1
        assert config["program_cache_size"] == 12  # a search over 12 networks keeps them all
    assert (out["inside"], out["after"]) == ("off", str(tmp_path))


def test_changed_code_never_reads_an_older_codes_entries(tmp_path):
    # TensorFlow finds an entry by function name and shapes: an entry of an earlier skreg of
    # the same version once broke a fit of the changed program. The folder names the code.
    import shutil
    from pathlib import Path

    package = Path(skreg.__file__).parent
    copy = tmp_path / "skreg"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert _disk.code_fingerprint(copy) == _disk.code_fingerprint(package)
    assert _disk.folder("tensorflow").endswith(_disk.code_fingerprint(package))
    (copy / "_engine" / "_program.py").write_text("# changed\n", encoding="utf-8")
    assert _disk.code_fingerprint(copy) != _disk.code_fingerprint(package)


@pytest.mark.parametrize("value", ["", ".", "relative/folder"])
def test_a_relative_or_empty_cache_folder_is_refused_or_means_off(value):
    if value == "":
        with skreg.config_context(compilation_cache_dir=value):
            assert skreg.get_config()["compilation_cache_dir"] is False
        return
    with pytest.raises(ValueError, match="must be an absolute path.*relative path"):
        skreg.set_config(compilation_cache_dir=value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("off", False), ("False", False), ("NONE", False), ("0", False), ("Auto", "auto")],
)
def test_the_setting_and_the_variable_take_the_same_spellings(monkeypatch, value, expected):
    monkeypatch.setenv("SKREG_COMPILATION_CACHE_DIR", value)
    assert skreg._config._defaults()["compilation_cache_dir"] == expected
    with skreg.config_context(compilation_cache_dir=value):
        assert skreg.get_config()["compilation_cache_dir"] == expected


@pytest.mark.parametrize(
    ("value", "expected"), [("AUTO", "auto"), ("2", 2), (3, 3), (np.int64(3), 3)]
)
def test_n_threads_takes_auto_in_any_case_and_counts(value, expected):
    with skreg.config_context(n_threads=value):
        assert skreg.get_config()["n_threads"] == expected
        assert type(skreg.get_config()["n_threads"]) is type(expected)


def test_the_cache_size_takes_any_integer_type():
    # As scikit-learn's parameter checks do: a size computed with NumPy is an int.
    with skreg.config_context(program_cache_size=np.int64(3)):
        assert skreg.get_config()["program_cache_size"] == 3
    with pytest.raises(TypeError, match="program_cache_size must be an int; got 2.5"):
        skreg.set_config(program_cache_size=2.5)


def test_config_context_leaves_the_environment_as_it_found_it(monkeypatch):
    # set_config writes the SKREG_* variables for a search's worker processes; leaving the
    # block must not leave a variable behind that was not set before it.
    monkeypatch.setitem(skreg._config._HOOKS, "read", set)  # whether or not a fit ran
    monkeypatch.delenv("SKREG_NUM_THREADS", raising=False)
    monkeypatch.setenv("SKREG_COMPILATION_CACHE_DIR", "auto")
    with skreg.config_context(n_threads=2, compilation_cache_dir=False):
        assert os.environ["SKREG_NUM_THREADS"] == "2"
        assert os.environ["SKREG_COMPILATION_CACHE_DIR"] == "off"
    assert "SKREG_NUM_THREADS" not in os.environ
    assert os.environ["SKREG_COMPILATION_CACHE_DIR"] == "auto"


def test_a_setting_made_too_late_warns_once_in_a_block(monkeypatch):
    # Once the backend has read n_threads, changing it does nothing in this process: the
    # block says so on entry, and restoring the old value on the way out says nothing more.
    monkeypatch.setitem(skreg._config._HOOKS, "read", lambda: {"n_threads"})
    before = skreg.get_config()["n_threads"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with skreg.config_context(n_threads=7 if before != 7 else 5):
            pass
    said = [str(w.message) for w in caught if w.category is RuntimeWarning]
    assert len(said) == 1 and said[0].startswith("n_threads is read when the backend loads")
    assert caught[0].filename == __file__  # the with statement's line, not contextlib's
    assert skreg.get_config()["n_threads"] == before


def test_config_context_names_the_settings_it_takes():
    with pytest.raises(TypeError, match="'n_thread'; the settings are compilation_cache_dir, n_"):
        with skreg.config_context(n_thread=2):
            pass


def test_a_bad_thread_count_names_both_forms():
    with pytest.raises(ValueError, match="positive integer or 'auto'; got 'all'"):
        skreg.set_config(n_threads="all")


@pytest.mark.slow
@pytest.mark.subprocess
def test_a_cache_folder_that_cannot_be_made_warns_once_and_fits(tmp_path, run_python):
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    result = run_python(FIT, SKREG_COMPILATION_CACHE_DIR=str(blocker))
    assert len(result["said"]) == 1, result["said"]
    assert f"cannot write its compilation cache in {blocker}" in result["said"][0]
    assert np.isfinite(result["proba"]).all()


def _damage(path, how):
    data = path.read_bytes()
    damaged = {
        "truncated": data[:100],
        "empty": b"",
        "random bytes": np.random.default_rng(0).bytes(5000),
        "half written": data[: len(data) // 2],
    }[how]
    path.write_bytes(damaged)


@pytest.fixture(scope="module")
def whole_cache(tmp_path_factory, run_python):
    """A cache folder written by a fresh process's fit, and what it predicted. The tests
    damage it in place, and each leaves it whole again (JAX keys its entries by the
    folder's path, so a copy elsewhere would find none of them)."""
    root = tmp_path_factory.mktemp("whole")
    return root, run_python(FIT, SKREG_COMPILATION_CACHE_DIR=str(root))


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.parametrize("how", ["truncated", "empty", "random bytes", "half written"])
def test_a_damaged_entry_is_removed_and_the_fit_goes_on(whole_cache, how, run_python):
    root, first = whole_cache
    cache = {"SKREG_COMPILATION_CACHE_DIR": str(root)}
    (folder,) = root.glob("skreg-*")
    entries = _entries(folder)
    assert entries, "the first fit wrote no compiled code"
    for entry in entries:
        _damage(entry, how)
    repaired = run_python(FIT, **cache)  # a fresh process meets the damaged entry
    np.testing.assert_allclose(repaired["proba"], first["proba"], atol=1e-6)
    assert len(repaired["said"]) == 1, repaired["said"]
    # Every damaged entry counted (JAX's warning counted the first module's only).
    assert f"compilation cache in {folder} held {len(entries)} damaged" in repaired["said"][0]
    assert "damaged" in repaired["said"][0] and "removed" in repaired["said"][0]
    after = run_python(FIT, **cache)  # and the next process finds a whole cache
    assert after["said"] == []
    np.testing.assert_array_equal(after["proba"], repaired["proba"])


@pytest.mark.slow
@pytest.mark.subprocess
def test_an_entry_that_cannot_be_removed_never_fails_a_fit(whole_cache, run_python):
    # A folder where an entry should be: unreadable and not a file to delete. TensorFlow
    # failed every fit of its network for good; JAX said it had removed it.
    root, first = whole_cache
    cache = {"SKREG_COMPILATION_CACHE_DIR": str(root)}
    (folder,) = root.glob("skreg-*")
    entries = _entries(folder)
    assert entries, "the first fit wrote no compiled code"
    try:
        for entry in entries:
            entry.unlink()
            entry.mkdir()
        for _ in range(2):  # and so in every later process
            result = run_python(FIT, **cache)
            np.testing.assert_allclose(result["proba"], first["proba"], atol=1e-5)
            assert len(result["said"]) == 1, result["said"]
            assert "damaged" in result["said"][0] and "cannot remove" in result["said"][0]
            assert "which skreg removed" not in result["said"][0]
    finally:
        for entry in entries:
            if entry.is_dir():
                entry.rmdir()
    after = run_python(FIT, **cache)  # the folders gone, the cache is whole again
    np.testing.assert_allclose(after["proba"], first["proba"], atol=1e-5)


def _jobs(X, y, widths):
    def job(i):
        clf = RegularizedMLPClassifier((widths[i % len(widths)],), max_iter=3, random_state=i)
        return clf.fit(X, y).predict_proba(X)

    return job


@pytest.mark.slow
def test_threads_fitting_while_another_clears_and_resizes_the_cache(classification_data):
    X, y = classification_data
    job = _jobs(X, y, widths=[6, 7, 6, 8, 7, 6])
    serial = [job(i) for i in range(12)]
    results, errors, stop = {}, [], threading.Event()

    def meddle():
        for k in range(10**6):
            if stop.is_set():
                return
            if k % 3:
                skreg.set_config(program_cache_size=1 + k % 2)
            else:
                skreg.clear_program_cache()
            skreg.program_cache_info()
            time.sleep(0.001)

    def work(ids):
        for i in ids:
            try:
                results[i] = job(i)
            except Exception as error:  # what the test is about: no thread may fail
                errors.append(repr(error))

    size = skreg.get_config()["program_cache_size"]
    meddler = threading.Thread(target=meddle)
    workers = [threading.Thread(target=work, args=(range(k, 12, 4),)) for k in range(4)]
    try:
        meddler.start()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=240)
        assert not any(worker.is_alive() for worker in workers), "a fit hangs"
    finally:
        stop.set()
        meddler.join()
        skreg.set_config(program_cache_size=size)
    assert errors == []
    for i in range(12):
        np.testing.assert_array_equal(results[i], serial[i])


def test_a_nested_fit_of_the_same_network_runs_on_its_own_program(iris):
    X, y = iris
    nested = []

    def scorer(estimator, X_val, y_val):
        inner = RegularizedMLPClassifier((8,), max_iter=2, random_state=1).fit(X, y)
        nested.append(inner.predict_proba(X[:3]))
        return estimator.score(X_val, y_val)

    outer = RegularizedMLPClassifier(
        (8,),
        max_iter=3,
        early_stopping=True,
        scoring=scorer,
        validation_fraction=0.3,
        random_state=0,
    )
    finished = []
    thread = threading.Thread(target=lambda: finished.append(outer.fit(X, y)), daemon=True)
    thread.start()
    thread.join(timeout=240)
    assert finished, "the nested fit waited forever"
    assert len(nested) == 3
    # The nested fits gave what the same fit gives on its own.
    alone = RegularizedMLPClassifier((8,), max_iter=2, random_state=1).fit(X, y)
    np.testing.assert_array_equal(nested[0], alone.predict_proba(X[:3]))
    # And the outer fit what it gives without them.
    plain = RegularizedMLPClassifier(
        (8,),
        max_iter=3,
        early_stopping=True,
        scoring="accuracy",
        validation_fraction=0.3,
        random_state=0,
    ).fit(X, y)
    np.testing.assert_array_equal(outer.predict_proba(X), plain.predict_proba(X))
