"""Keras' optional imports are deferred or skipped while skreg loads the backend."""

import importlib
import importlib.util
import sys
import threading

import pytest

from skreg._engine import _imports


@pytest.fixture
def package(tmp_path, monkeypatch):
    """Modules in ``tmp_path`` that record in ``ran`` when their body runs."""
    (tmp_path / "skreg_probe_heavy.py").write_text(
        "import skreg_probe_log\nskreg_probe_log.ran.append('heavy')\nVALUE = 42\n"
    )
    (tmp_path / "skreg_probe_log.py").write_text("ran = []\n")
    (tmp_path / "skreg_probe_optional.py").write_text("ran = True\n")
    (tmp_path / "skreg_probe_user.py").write_text(
        "try:\n    import skreg_probe_optional\nexcept ImportError:\n"
        "    skreg_probe_optional = None\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(_imports, "DEFERRED", frozenset({"skreg_probe_heavy"}))
    monkeypatch.setattr(_imports, "SKIPPED", {"skreg_probe_optional": ("skreg_probe_user",)})
    monkeypatch.setattr(_imports, "RESTORED", ())
    names = ["skreg_probe_heavy", "skreg_probe_log", "skreg_probe_optional", "skreg_probe_user"]
    yield importlib.import_module("skreg_probe_log")
    for name in names:
        sys.modules.pop(name, None)


def test_a_deferred_module_runs_at_its_first_attribute_access(package):
    with _imports.deferred_imports("tensorflow"):
        import skreg_probe_heavy
    assert package.ran == []
    assert sys.modules["skreg_probe_heavy"] is skreg_probe_heavy
    assert skreg_probe_heavy.VALUE == 42
    assert package.ran == ["heavy"]
    assert _imports._Finder not in {type(finder) for finder in sys.meta_path}


def test_a_skipped_import_fails_for_its_importer_only_and_works_after(package):
    with _imports.deferred_imports("tensorflow"):
        import skreg_probe_user

        assert skreg_probe_user.skreg_probe_optional is None
        assert "skreg_probe_optional" not in sys.modules
        import skreg_probe_optional  # another importer (this test) gets it

    assert skreg_probe_optional.ran is True


def test_a_restored_import_runs_at_its_importers_first_use(package, monkeypatch):
    restored = (("skreg_probe_user", "skreg_probe_optional", "skreg_probe_optional"),)
    monkeypatch.setattr(_imports, "RESTORED", restored)
    with _imports.deferred_imports("tensorflow"):
        import skreg_probe_user

        assert skreg_probe_user.skreg_probe_optional is None
    assert "skreg_probe_optional" not in sys.modules
    assert skreg_probe_user.skreg_probe_optional.ran is True
    assert "skreg_probe_optional" in sys.modules


def test_the_backend_being_loaded_is_never_skipped(package):
    with _imports.deferred_imports("skreg_probe_optional"):
        import skreg_probe_user
    assert skreg_probe_user.skreg_probe_optional.ran is True


def test_other_threads_import_as_usual_during_the_load(package):
    seen = {}

    def other_thread():
        importlib.import_module("skreg_probe_heavy")
        import skreg_probe_user

        seen["heavy ran"] = list(package.ran)
        seen["optional"] = skreg_probe_user.skreg_probe_optional

    with _imports.deferred_imports("tensorflow"):
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert seen["heavy ran"] == ["heavy"]
    assert seen["optional"] is not None
