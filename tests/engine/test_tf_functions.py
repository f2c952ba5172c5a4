"""TensorFlow: training functions under stable names, saved and loaded by new processes.

JAX keys its compilation cache by the compiled program's content and needs none of this.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="TensorFlow names traced functions by a process-wide counter; JAX does not",
)


def _looped(tf):
    """A new ``tf.function`` with a nested loop and a captured variable, and the variable."""
    variable = tf.Variable(2.0)

    def run(x):
        def body(i, total):
            return i + 1, total + x * variable

        return tf.while_loop(lambda i, total: i < 3, body, (0, 0.0))[1]

    return variable, tf.function(run, jit_compile=True, autograph=False)


def test_the_same_function_gets_the_same_library_whatever_was_traced_before():
    import tensorflow as tf

    from skreg._engine._tf_functions import StableFunction

    spec = tf.TensorSpec((), tf.float32)
    first_variable, first = _looped(tf)
    stable = StableFunction.from_traced(first.get_concrete_function(spec), "looped")
    for _ in range(3):  # move TensorFlow's function counter on
        _looped(tf)[1].get_concrete_function(spec)
    second_variable, second = _looped(tf)
    again = StableFunction.from_traced(second.get_concrete_function(spec), "looped")
    assert again.names == stable.names
    assert [d.SerializeToString(deterministic=True) for d in again.definitions] == [
        d.SerializeToString(deterministic=True) for d in stable.definitions
    ]
    # Each binds its own variable.
    second_variable.assign(5.0)
    assert float(stable(1.5)) == 9.0
    assert float(again(1.5)) == 22.5
    # Registered while either lives.
    from tensorflow.python.eager import context

    stable.release()
    assert context.context().has_function(again.names[0])
    again.release()
    assert not any(context.context().has_function(name) for name in stable.names + again.names)


def test_a_different_function_under_a_used_tag_is_refused():
    import tensorflow as tf

    from skreg._engine._tf_functions import StableFunction

    spec = tf.TensorSpec((), tf.float32)
    variable, looped = _looped(tf)
    stable = StableFunction.from_traced(looped.get_concrete_function(spec), "same tag")
    other = tf.function(lambda x: x * variable + 1.0, jit_compile=True)
    with pytest.raises(ValueError, match="already has another function"):
        StableFunction.from_traced(other.get_concrete_function(spec), "same tag")
    stable.release()


# Fits two networks in the order given, recording which tf.functions it traced.
_FITS = """
    import json, sys
    import numpy as np
    from tensorflow.python.eager.polymorphic_function import polymorphic_function
    from skreg import RegularizedMLPClassifier

    traced = []
    get_concrete_function = polymorphic_function.Function.get_concrete_function

    def spy(self, *args, **kwargs):
        traced.append(self._name)
        return get_concrete_function(self, *args, **kwargs)

    polymorphic_function.Function.get_concrete_function = spy
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 4)), np.arange(60) % 3
    probas = {}
    for width in WIDTHS:
        clf = RegularizedMLPClassifier((width, 3), dropout=0.1, max_iter=3, random_state=0)
        probas[width] = clf.fit(X, y).predict_proba(X).tolist()
    print(json.dumps({"traced": traced, "probas": probas}))
"""


def _fit(tmp_path, widths):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKREG_")}
    env.update(
        KERAS_BACKEND="tensorflow",
        TF_CPP_MIN_LOG_LEVEL="3",
        SKREG_COMPILATION_CACHE_DIR=str(tmp_path / "cache"),
    )
    code = textwrap.dedent(_FITS).replace("WIDTHS", repr(widths))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _entries(tmp_path):
    (folder,) = [p for p in (tmp_path / "cache").iterdir() if p.is_dir()]
    xla = sorted(p.name for p in folder.glob("xla_compile_cache*"))
    return xla, sorted((folder / "functions").glob("*.json"))


@pytest.mark.slow
@pytest.mark.subprocess
def test_new_processes_reuse_the_saved_functions_and_compiled_code_in_any_order(tmp_path):
    first = _fit(tmp_path, [5, 7])
    assert first["traced"].count("_trace_epochs") == 2
    xla, functions = _entries(tmp_path)
    assert len(xla) == 2 and len(functions) >= 2

    # The other order: nothing traced, nothing compiled again, the same models.
    second = _fit(tmp_path, [7, 5])
    assert second["traced"] == []
    assert _entries(tmp_path) == (xla, functions)
    assert second["probas"] == first["probas"]

    # Damaged entries are traced again and rewritten; the names still find the
    # compiled code that the first process wrote.
    for path in functions:
        path.write_text("{not json")
    third = _fit(tmp_path, [7, 5])
    assert third["traced"].count("_trace_epochs") == 2
    assert _entries(tmp_path)[0] == xla
    assert all(json.loads(Path(path).read_text())["tag"] for path in functions)
    np.testing.assert_array_equal(third["probas"]["5"], first["probas"]["5"])


_CLEARED = """
    import json, warnings
    import numpy as np
    import skreg
    from skreg import RegularizedMLPClassifier
    X, y = np.random.default_rng(0).normal(size=(60, 4)), np.arange(60) % 3
    said = []
    with skreg.config_context(program_cache_size=2), warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for width in (5, 6, 5, 6, 5):
            RegularizedMLPClassifier((width,), max_iter=1, random_state=0).fit(X, y)
            skreg.clear_program_cache()
        said.append([str(x.message) for x in w if issubclass(x.category, UserWarning)])
        RegularizedMLPClassifier((7,), max_iter=1, random_state=0).fit(X, y)
        said.append([str(x.message) for x in w if issubclass(x.category, UserWarning)])
        xla = skreg.program_cache_info().xla_networks
    print(json.dumps({"said": said, "xla_networks": xla}))
"""


@pytest.mark.slow
@pytest.mark.subprocess
def test_networks_made_again_after_a_cache_clear_keep_xla(tmp_path):
    # Their compiled code is found again under the same names: they take no new XLA slot.
    # A fresh process: the XLA record is the process's and outlives clearing the cache.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKREG_")}
    env.update(KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3",
               SKREG_COMPILATION_CACHE_DIR="off")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(_CLEARED)], capture_output=True,
                         text=True, env=env, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["said"][0] == []
    assert len(result["said"][1]) == 1 and "compiled 2 networks with XLA" in result["said"][1][0]
    assert result["xla_networks"] == 2


_LOWERED = """
    import json, warnings
    import numpy as np
    import skreg
    from skreg import RegularizedMLPClassifier
    X, y = np.random.default_rng(0).normal(size=(60, 4)), np.arange(60) % 3
    for width in (5, 6, 7):
        RegularizedMLPClassifier((width,), max_iter=1, random_state=0).fit(X, y)
    with skreg.config_context(program_cache_size=1), warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        RegularizedMLPClassifier((8,), max_iter=1, random_state=0).fit(X, y)
        xla = skreg.program_cache_info().xla_networks
    # Its own category (a subclass of UserWarning), which a suite run with warnings as
    # errors filters: otherwise one fit in it, the first beyond the limit, failed.
    said = [str(x.message) for x in w if x.category is skreg.ProgramCacheWarning]
    print(json.dumps({"said": said, "xla_networks": xla}))
"""


@pytest.mark.subprocess
def test_the_xla_warning_counts_the_networks_compiled_when_the_cache_shrinks(run_python):
    # It said "compiled 1 networks", the new limit, after three had been compiled.
    result = run_python(_LOWERED, SKREG_COMPILATION_CACHE_DIR="off")
    assert result["xla_networks"] == 3
    assert len(result["said"]) == 1, result["said"]
    assert "compiled 3 networks with XLA" in result["said"][0]
    assert "program_cache_size'] (1)" in result["said"][0]


@pytest.mark.subprocess
def test_models_that_only_predict_take_no_xla_slot_from_a_later_fit(tmp_path, run_python):
    # A serving process that loads models, predicts, then trains: the training is the first
    # XLA compile of the process, with no warning, as in a fresh process. Nor does a network
    # whose augmentation has no XLA kernel (an image rotation) take a slot.
    import pickle

    from skreg import RegularizedMLPClassifier

    X, y = np.random.default_rng(0).normal(size=(60, 4)), np.arange(60) % 3
    models = [RegularizedMLPClassifier((w,), max_iter=1, random_state=0).fit(X, y) for w in (5, 6)]
    (tmp_path / "models.pkl").write_bytes(pickle.dumps((models, X, y)))
    result = run_python(f"""
        import json, pickle, warnings
        import skreg
        from skreg import RegularizedMLPClassifier
        models, X, y = pickle.loads(open({str(tmp_path / "models.pkl")!r}, "rb").read())
        with skreg.config_context(program_cache_size=2), warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            for model in models:
                model.predict(X)
            serving = skreg.program_cache_info().xla_networks
            rotated = skreg.ImageAugmentation((2, 2), rotation=10)
            RegularizedMLPClassifier((3,), augmentation=rotated, numeric_scaling=None,
                                     max_iter=1).fit(X, y)
            RegularizedMLPClassifier((7,), max_iter=1, random_state=0).fit(X, y)
        said = [str(x.message) for x in w if "XLA" in str(x.message)]
        print(json.dumps({{"serving": serving, "said": said,
                          "xla": skreg.program_cache_info().xla_networks}}))
    """, SKREG_COMPILATION_CACHE_DIR="off")  # fmt: skip
    assert result == {"serving": 0, "said": [], "xla": 1}
