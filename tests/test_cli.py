"""The command line: compare and diagnose on CSV files, and its one-line errors."""

import importlib.util
import os
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

import skreg
from skreg._validation import HAS_CALLBACKS
from skreg.cli import main
from skreg.cli.data import load_data

# --scheduler's error: an unreachable scheduler with dask.distributed installed (the
# distributed extra), else that it is needed (the test extra alone).
NO_SCHEDULER = (
    "cannot reach the Dask scheduler"
    if importlib.util.find_spec("distributed")
    else "--scheduler needs distributed: python -m pip install 'skreg[distributed]'"
)


@pytest.fixture(scope="module")
def mixed_csv(tmp_path_factory):
    """Numeric and categorical columns, missing values, a string target."""
    rng = np.random.default_rng(0)
    n = 120
    signal = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "x1": signal + 0.3 * rng.normal(size=n),
            "x2": rng.normal(size=n),
            "colour": rng.choice(["red", "green", "blue"], size=n),
            "label": np.where(signal > 0, "yes", "no"),
        }
    )
    frame.loc[::7, "x2"] = np.nan
    frame.loc[::11, "colour"] = np.nan
    path = tmp_path_factory.mktemp("data") / "mixed.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_compare_prints_every_variant_and_writes_figures(mixed_csv, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["compare", "--data", str(mixed_csv), "--target", "label", "--cv", "2"]
    argv += ["--max-iter", "3", "--hidden", "8", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    table = pd.read_csv(out / "compare.csv")
    assert len(table) == 8 and table["variant"].iloc[-1].startswith("cross-validated")
    for variant in table["variant"]:
        assert variant in printed
    assert {"train", "cv_mean", "cv_std", "gap", "epochs", "fit_seconds"} <= set(table.columns)
    np.testing.assert_allclose(table["gap"], table["train"] - table["cv_mean"])
    assert "classification" in printed and "accuracy" in printed
    # Categorical columns get swap noise, which keeps one-hot values valid.
    assert any("SwapNoise" in v for v in table["variant"])
    assert (out / "loss_curves.png").stat().st_size > 0
    assert (out / "l2_path.png").stat().st_size > 0


def test_select_prints_the_path_and_the_choice(mixed_csv, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["select", "--data", str(mixed_csv), "--target", "label", "--cv", "3"]
    argv += ["--max-iter", "3", "--hidden", "8", "--l2s", "1e-4,1e-3,1e-2", "--dropouts"]
    argv += ["0,0.2", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    table = pd.read_csv(out / "select.csv")
    assert len(table) == 6 and table["rank"].iloc[0] == 1
    # Racing: 6 candidates, then 3, then 2 on the last fold.
    assert sorted(table["folds_run"]) == [1, 1, 1, 2, 3, 3]
    # One fold's spread is unknown, and the output says why those rank last.
    assert table["cv_std"].isna().tolist() == (table["folds_run"] == 1).tolist()
    assert "racing dropped the candidates with fewer folds_run" in printed
    best = table.iloc[0]
    assert f"chosen: l2={best['l2']:.4g}, dropout={best['dropout']}" in printed
    assert "11 fold models of 18" in printed


@pytest.mark.skipif(not HAS_CALLBACKS, reason="the bar needs scikit-learn >= 1.9's callbacks")
def test_select_shows_a_bar_over_the_fold_models_unless_quiet(tmp_path, capsys):
    argv = ["select", "--max-iter", "2", "--hidden", "4", "--cv", "3", "--dropouts", "0"]
    argv += ["--l2s", "1e-4,1e-3,1e-2"]
    assert main([*argv, "--out", str(tmp_path / "shown")]) == 0
    shown = capsys.readouterr()
    # Racing: 3 candidates on fold 1, then the better 2 on folds 2 and 3.
    assert "fold models: 100%" in shown.err and "7/7" in shown.err
    assert "fold models:" not in shown.out  # the table on standard output stays clean
    assert main([*argv, "--out", str(tmp_path / "quiet"), "--quiet"]) == 0
    assert "fold models:" not in capsys.readouterr().err


def test_warnings_under_the_bar_still_show_when_the_fit_fails(capsys):
    from skreg.cli.select import fold_progress

    class Failing:  # a CV estimator whose fit warns about a fold model, then fails
        def set_callbacks(self, *callbacks):
            self.callbacks = callbacks

        def fit(self):
            warnings.warn("fold model 2 failed", UserWarning, stacklevel=2)
            raise ValueError("every fold model failed")

    model = Failing()
    with pytest.warns(UserWarning, match="fold model 2 failed"):
        with pytest.raises(ValueError, match="every fold model failed"):
            with fold_progress(model, disable=False):
                model.fit()
    assert model.callbacks == ()  # the bar's callback is removed
    assert "fold models:" in capsys.readouterr().err


def _compare_table(csv, out, *options):
    argv = ["compare", "--data", str(csv), "--target", "label", "--cv", "2", "--max-iter", "3"]
    assert main([*argv, "--hidden", "8", "--out", str(out), "--quiet", *options]) == 0
    # Everything but the fit times, which differ from run to run.
    return pd.read_csv(out / "compare.csv").drop(columns="fit_seconds")


@pytest.fixture(scope="module")
def serial_table(mixed_csv, tmp_path_factory):
    return _compare_table(mixed_csv, tmp_path_factory.mktemp("serial"))


@pytest.mark.slow
def test_compare_in_parallel_prints_the_serial_table(mixed_csv, tmp_path, serial_table):
    parallel = _compare_table(mixed_csv, tmp_path, "--n-jobs", "2")
    pd.testing.assert_frame_equal(parallel, serial_table)


@pytest.mark.slow
@pytest.mark.distributed
def test_compare_runs_on_a_dask_scheduler(mixed_csv, tmp_path, serial_table):
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        remote = _compare_table(mixed_csv, tmp_path, "--scheduler", cluster.scheduler_address)
    pd.testing.assert_frame_equal(remote, serial_table)


def test_out_naming_a_file_stops_before_any_fit(tmp_path, capsys):
    taken = tmp_path / "results"
    taken.write_text("not a folder")
    lookups = skreg.program_cache_info().hits + skreg.program_cache_info().misses
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--out", str(taken), "--quiet"])
    assert exit_info.value.code == 2
    assert "exists and is not a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # a folder to be made under the file
        main(["compare", "--out", str(taken / "sub"), "--quiet"])
    assert f"is under the file {taken}, which is not a folder" in capsys.readouterr().err
    assert skreg.program_cache_info().hits + skreg.program_cache_info().misses == lookups


@pytest.mark.parametrize(
    ("command", "written"), [("compare", "l2_path.png"), ("select", "select.csv")]
)
def test_an_output_file_that_cannot_be_written_stops_before_any_fit(
    tmp_path, capsys, command, written
):
    # The writes came after every fit, and failed with a traceback: the run was lost.
    out = tmp_path / "results"
    (out / written).mkdir(parents=True)
    (out / "kept.txt").write_text("mine")
    lookups = skreg.program_cache_info().hits + skreg.program_cache_info().misses
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--out", str(out)])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error == f"skreg {command}: error: cannot write {out / written}: Is a directory."
    assert skreg.program_cache_info().hits + skreg.program_cache_info().misses == lookups
    assert sorted(p.name for p in out.iterdir()) == sorted(["kept.txt", written])


def test_empty_column_names_are_not_repeats(tmp_path):
    # pandas names them "Unnamed: 0", "Unnamed: 1"; they were refused as a repeated "nan".
    path = tmp_path / "unnamed.csv"
    path.write_text(",,c,y\n" + "".join(f"{i},{i % 3},{i % 2},{i % 2}\n" for i in range(20)))
    data = load_data(str(path), "y")
    assert list(data.X.columns) == ["Unnamed: 0", "Unnamed: 1", "c"]


def test_diagnose_from_given_errors(capsys):
    assert main(["diagnose", "--train-error", "0.01", "--validation-error", "0.12"]) == 0
    printed = capsys.readouterr().out
    assert "verdict: high variance" in printed
    assert "more training data" in printed


def test_diagnose_fits_a_regressor_on_a_csv(tmp_path, capsys):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(150, 3))
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(price=X @ [1.5, -2.0, 0.5])
    path = tmp_path / "houses.csv"
    frame.to_csv(path, index=False)
    argv = ["diagnose", "--data", str(path), "--target", "price", "--max-iter", "5"]
    assert main(argv + ["--hidden", "8", "--bayes-error", "0.0"]) == 0
    printed = capsys.readouterr().out
    assert "1 - R2" in printed
    assert "verdict:" in printed and "next steps:" in printed


def write(tmp_path, frame, name="bad.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return str(path)


@pytest.mark.parametrize(
    ("frame", "target", "message", "cv"),
    [
        (pd.DataFrame({"a": [1.0, 2.0], "y": [0, 1]}), "label", "has no column 'label'", []),
        (pd.DataFrame({"a": ["u", "v"] * 10, "y": [0, 1] * 10}), "y", "no numeric feature", []),
        (pd.DataFrame({"a": np.arange(20.0), "y": ["same"] * 20}), "y", "single class", []),
        (pd.DataFrame({"a": np.arange(20.0), "y": [1] * 20}), "y", "single class, 1.", []),
        (
            pd.DataFrame(np.arange(60.0).reshape(20, 3) % 2, columns=["a", "y", "y"]),
            "y",
            "repeats the column name(s) 'y'",
            [],
        ),
        (pd.DataFrame({"a": np.arange(6.0), "y": [0, 1] * 3}), "y", "too few", []),
        (pd.DataFrame({"a": np.arange(20.0), "y": [0] * 18 + [1] * 2}), "y", "smallest class", []),
        (pd.DataFrame({"a": np.arange(20.0), "y": [np.nan] * 20}), "y", "is empty", []),
        (pd.DataFrame({"a": [np.inf] + [1.0] * 19, "y": [0, 1] * 10}), "y", "infinite", []),
        (
            pd.DataFrame({"a": np.arange(40.0), "y": np.linspace(1, 2, 40) * 1e300}),
            "y",
            "too large to scale",
            [],
        ),
        (pd.DataFrame({"a": [1e300] + [1.0] * 19, "y": [0, 1] * 10}), "y", "too large", []),
        (
            pd.DataFrame({"a": np.arange(20.0), "y": np.arange(20) % 2}),
            "y",
            "too few for the early-stopping variants",
            ["--cv", "2"],
        ),
        (
            pd.DataFrame({"a": np.arange(9.0), "y": [0] * 8 + [1]}),
            "y",
            "remove or merge",
            ["--cv", "2"],
        ),
        (
            pd.DataFrame({"a": np.arange(20.0), "y": [0] + [1] * 19}),
            "y",
            "the smallest class, 0, has 1 rows; 5-fold cross-validation needs at least 5 "
            "(lower --cv; or, if the target is a quantity, --task regression)",
            [],
        ),
    ],
    ids=[
        "missing-target",
        "no-numeric",
        "single-class",
        "single-numeric-class",
        "repeated-column",
        "too-few-rows",
        "tiny-class",
        "empty-target",
        "infinite-feature",
        "huge-target",
        "huge-feature",
        "early-stopping-split-too-small",
        "class-below-minimum-cv",
        "integer-target-read-as-classes",
    ],
)
def test_bad_csv_gives_a_one_line_error(tmp_path, capsys, frame, target, message, cv):
    path = write(tmp_path, frame)
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--data", path, "--target", target, "--quiet", *cv])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("skreg compare: error:") and message in error
    assert "\n" not in error


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["compare", "--data", "missing.csv", "--target", "y"], "no such file"),
        (["compare", "--data", "whatever.csv"], "needs --target"),
        (["diagnose", "--train-error", "0.1"], "give both"),
        (
            ["diagnose", "--train-error", "0.1", "--validation-error", "0.3", "--data", "x.csv"],
            "give one or the other",
        ),
        (["select", "--target", "y"], "the built-in noisy moons data have their own target"),
        (["compare", "--data", "digits", "--target", "y"], "drop --target, or give a CSV"),
        (["compare", "--scheduler", "tcp://127.0.0.1:9"], NO_SCHEDULER),
        (["compare", "--data", ".", "--target", "y"], "is a folder"),
        (["diagnose", "--dropout", "1"], "--dropout: must be below 1"),
        (["diagnose", "--l2", "inf"], "--l2: must be a finite, non-negative number"),
        (["compare", "--seed", "-1"], "--seed: must be at least 0"),
        (["select", "--l2s", "1e-3,-1"], "--l2s: must be a finite, non-negative number"),
        # A negative first value is the option's value, not an unknown option.
        (["select", "--l2s", "-1e-3,1e-2"], "--l2s: must be a finite, non-negative number"),
        (["diagnose", "--dropout", "-.1"], "--dropout: must be a finite, non-negative number"),
        (["select", "--cv", "150"], "at least two rows per fold (300); lower --cv"),
        (["select", "--dropouts", "0,1"], "--dropouts: must be below 1"),
        (["compare", "--seed", str(2**32)], "--seed: must be below 2**32"),
        (["select", "--l2s", "0"], "a count of penalties and must be at least 1; to try l2=0"),
        (
            ["compare", "--dropuot", "0.1"],
            "skreg compare: error: unrecognized arguments: --dropuot 0.1 "
            "(see skreg compare --help)",
        ),
        (["select", "--data", "a.csv", "x"], "skreg select: error: unrecognized arguments: x"),
        (["compar"], "invalid choice: 'compar'"),
    ],
)
def test_bad_arguments_give_a_one_line_error(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()  # argparse's usage block: not here
    assert line.startswith("skreg") and message in line


@pytest.mark.parametrize(
    ("y", "message"),
    [
        ([0, 0, 1, 1, 2, 2, 3, 3, 4, 4], "too few to hold out"),
        ([0] * 9 + [1], "single row"),
        ([0, 0, 1], "single row"),
        ([0.1, 0.5, 1.2, 3.3, 2.2], "at least 2 rows on each side"),  # R2 of one row
    ],
    ids=["2-rows-per-class", "singleton-class", "3-rows", "regression-hold-out-of-one"],
)
def test_diagnose_checks_its_holdout_before_fitting(tmp_path, capsys, y, message):
    path = write(tmp_path, pd.DataFrame({"a": np.arange(len(y), dtype=float), "y": y}))
    with pytest.raises(SystemExit) as exit_info:
        main(["diagnose", "--data", path, "--target", "y"])
    assert exit_info.value.code == 2
    *notes, error = capsys.readouterr().err.strip().splitlines()  # one line, after any note
    assert message in error and all(line.startswith("skreg: note:") for line in notes)


@pytest.mark.slow
@pytest.mark.subprocess
def test_an_unsupported_backend_is_one_line_before_any_fit(tmp_path):
    import os

    result = subprocess.run(
        [sys.executable, "-m", "skreg", "compare", "--quiet", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=dict(os.environ, KERAS_BACKEND="torch"),
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "skreg compare: error: the Keras backend is 'torch' (KERAS_BACKEND); skreg runs on "
        "'tensorflow' or 'jax'."
    ]


@pytest.mark.slow
@pytest.mark.subprocess
def test_compare_prints_nothing_but_its_table_unless_verbose(mixed_csv, tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    argv = [sys.executable, "-m", "skreg", "compare", "--data", str(mixed_csv)]
    argv += ["--target", "label", "--cv", "2", "--max-iter", "2", "--hidden", "4", "--quiet"]
    result = subprocess.run(
        [*argv, "--out", str(tmp_path)], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "variant" in result.stdout


@pytest.mark.slow
@pytest.mark.subprocess
def test_a_candidate_whose_fits_fail_is_one_warning_line_and_all_failing_one_error(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    path = write(tmp_path, pd.DataFrame(X, columns=["a", "b"]).assign(y=(X[:, 0] > 0) * 1))
    argv = [sys.executable, "-m", "skreg", "select", "--data", path, "--target", "y"]
    argv += ["--cv", "3", "--max-iter", "3", "--hidden", "4", "--out", str(tmp_path)]

    def run(l2s, *options):
        done = subprocess.run([*argv, "--l2s", l2s, *options], capture_output=True)
        # As written: a progress bar redraws its line after carriage returns.
        return done.returncode, done.stdout.decode(), done.stderr.decode().strip().split("\n")

    code, out, err = run("1e300,1e-3", "--quiet")  # l2=1e300 diverges; 1e-3 is chosen
    assert code == 0, err
    (line,) = err
    assert line.startswith("skreg select: warning: 2 of the 8 fold models failed")  # racing
    assert "'l2': 1e+300" in line and "diverged" in line
    assert "chosen: l2=0.001" in out
    code, _, err = run("1e300", "--quiet")
    assert code == 1
    (line,) = err
    assert line.startswith("skreg select: error: Training diverged")
    # With the progress bar, the warning comes once the bar is done, on its own line.
    code, _, err = run("1e300,1e-3")
    assert code == 0 and len(err) == 1 + HAS_CALLBACKS
    assert err[-1].startswith("skreg select: warning: 2 of the 8 fold models failed")
    if HAS_CALLBACKS:
        assert err[0].split("\r")[-1].startswith("fold models: 100%")


def test_a_categorical_column_missing_in_a_whole_training_fold_is_kept(tmp_path):
    from skreg.cli.data import make_model

    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=40),
            "colour": [np.nan] * 20 + list(rng.choice(["red", "blue"], size=20)),
            "empty": [np.nan] * 20 + list(rng.normal(size=20)),
            "y": np.arange(40) % 2,
        }
    )
    data = load_data(write(tmp_path, frame), "y")
    model = make_model(data, (4,), max_iter=2, seed=0)
    model.fit(data.X.iloc[:20], data.y.iloc[:20])  # both columns are empty in these rows
    assert model.predict(data.X.iloc[20:]).shape == (20,)


@pytest.mark.slow
def test_many_small_classes_run_every_variant(tmp_path, capsys):
    # 12 classes of 5 rows: each fold's early-stopping split cannot hold every class, so it
    # is a plain random split; this used to crash after the first variants were fitted.
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"a": rng.normal(size=60), "y": np.arange(60) % 12})
    argv = ["compare", "--data", write(tmp_path, frame), "--target", "y", "--cv", "2"]
    out = tmp_path / "out"
    assert main([*argv, "--max-iter", "2", "--hidden", "4", "--quiet", "--out", str(out)]) == 0
    assert "L2 + dropout + early stopping" in capsys.readouterr().out


def test_what_reading_the_data_did_to_the_target_is_noted(tmp_path, capsys):
    regions = np.repeat(["NA", "EU", "AS"], 10)  # pandas reads "NA" as missing
    path = write(tmp_path, pd.DataFrame({"a": np.arange(30.0), "region": regions}))
    assert len(load_data(path, "region").y) == 20
    assert "dropped 10 of 30 rows whose target 'region' is missing" in capsys.readouterr().err
    path = write(tmp_path, pd.DataFrame({"a": np.arange(30.0), "y": np.arange(30) % 4}))
    assert load_data(path, "y").task == "classification"
    note = capsys.readouterr().err
    assert "holds 4 distinct integers: read as classes; --task regression" in note
    assert load_data(path, "y", task="regression").task == "regression"
    assert capsys.readouterr().err == ""


def test_select_grid_values_are_tried_once_each():
    from skreg.cli import _parser

    args = _parser().parse_args(["select", "--l2s", "1e-3,1e-3,0", "--dropouts", "0,0.2,0"])
    assert args.l2s == (1e-3, 0.0) and args.dropouts == (0.0, 0.2)


def test_a_semicolon_file_is_named_as_such(tmp_path, capsys):
    path = tmp_path / "semi.csv"
    pd.DataFrame({"a": np.arange(6.0), "y": [0, 1] * 3}).to_csv(path, index=False, sep=";")
    with pytest.raises(SystemExit):
        main(["select", "--data", str(path), "--target", "y"])
    assert "separated by semicolons, and skreg reads commas" in capsys.readouterr().err


@pytest.mark.slow
def test_compare_skips_the_cross_validated_row_when_its_inner_folds_cannot_split(tmp_path, capsys):
    # 20 classes of 3 rows: each 3-fold training fold holds 2 rows of every class, too few
    # for the cross-validated row's own 3-fold search; every other row runs.
    frame = pd.DataFrame({"a": np.random.default_rng(1).normal(size=60)})
    frame["y"] = np.repeat(np.arange(20), 3)
    argv = ["compare", "--data", write(tmp_path, frame), "--target", "y", "--cv", "3"]
    out = tmp_path / "out"
    assert main([*argv, "--max-iter", "2", "--hidden", "4", "--quiet", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert "L2 + dropout + early stopping" in printed.out
    assert "cross-validated" not in printed.out
    assert "no 'cross-validated (l2, dropout)' row" in printed.err


@pytest.mark.subprocess
def test_select_checks_its_folds_before_loading_the_backend(tmp_path, run_python):
    path = write(tmp_path, pd.DataFrame({"a": np.arange(20.0), "y": [0] * 18 + [1] * 2}))
    loaded = run_python(
        f"""
        import json, sys
        from skreg.cli import main
        try:
            main(["select", "--data", {str(path)!r}, "--target", "y", "--quiet"])
        except SystemExit as exit:
            assert exit.code == 2
        print(json.dumps([m for m in ("tensorflow", "jax", "keras") if m in sys.modules]))
        """
    )
    assert loaded == []


@pytest.mark.parametrize(
    ("target", "task"),
    [
        (np.arange(40) % 3, "classification"),
        (np.where(np.arange(40) % 2, "a", "b"), "classification"),
        (np.linspace(0, 1, 40), "regression"),
        (np.arange(40), "regression"),  # 40 distinct integers: a count, not classes
    ],
)
def test_task_is_inferred_from_the_target(tmp_path, target, task):
    path = write(tmp_path, pd.DataFrame({"a": np.arange(40.0), "y": target}))
    assert load_data(path, "y").task == task


@pytest.mark.subprocess
def test_python_m_skreg_shows_the_commands():
    result = subprocess.run(
        [sys.executable, "-m", "skreg", "--help"], capture_output=True, text=True, check=True
    )
    assert "compare" in result.stdout and "diagnose" in result.stdout


def test_an_interrupted_command_says_so_in_one_line(monkeypatch, capsys):
    import skreg.cli.diagnose

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(skreg.cli.diagnose, "run", interrupted)
    with pytest.raises(SystemExit) as exit_info:
        main(["diagnose"])
    assert exit_info.value.code == 130  # 128 + SIGINT, as a shell reports it
    assert capsys.readouterr().err == "skreg diagnose: interrupted\n"


@pytest.mark.parametrize(("command", "step"), [("compare", "variants"), ("select", "cv_model")])
def test_an_interrupted_run_removes_the_empty_folders_it_made(
    tmp_path, monkeypatch, capsys, command, step
):
    # Ctrl-C during the fits left the --out folder (and its new parents) empty behind it.
    module = importlib.import_module(f"skreg.cli.{command}")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(module, step, interrupted)
    out = tmp_path / "runs" / "today"
    for folder, removed in [(out, True), (tmp_path, False)]:  # tmp_path existed before
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--out", str(folder)])
        assert exit_info.value.code == 130
        assert folder.exists() is not removed
    assert not (tmp_path / "runs").exists()
    assert capsys.readouterr().err.count("interrupted") == 2


def test_version_prints_the_packages_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"skreg {skreg.__version__}\n"


def test_regression_target_is_standardized_inside_the_pipeline(tmp_path):
    from skreg.cli.data import fitted_network, make_model

    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 3))
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(price=1000 * (X @ [1.5, -2.0, 0.5]))
    data = load_data(write(tmp_path, frame, "prices.csv"), "price")
    model = make_model(data, (16,), max_iter=300, seed=0).fit(data.X, data.y)
    # Unscaled targets in the thousands would leave R2 near 0 after 300 small steps.
    assert model.score(data.X, data.y) > 0.9
    assert fitted_network(model).n_iter_ == 300


def test_the_default_data_are_small_noisy_moons_and_digits_stay_available():
    moons = load_data(None, None)
    assert (moons.name, moons.task, moons.X.shape) == ("noisy moons", "classification", (200, 2))
    assert (moons.max_iter, moons.learning_rate) == (300, 1e-2)
    digits = load_data("digits", None)
    assert (digits.name, digits.X.shape, digits.max_iter) == ("digits", (1797, 64), 40)


@pytest.mark.slow
def test_compare_on_the_default_data_names_the_best_variant(tmp_path, capsys):
    argv = ["compare", "--cv", "2", "--max-iter", "3", "--hidden", "4", "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("noisy moons: classification, 200 rows")
    assert "max_iter=3, learning_rate=0.01" in printed
    assert "\nbest: " in printed


def verdict_table(none_scores, best_scores):
    from skreg.cli.compare import _summary

    rows = []
    for name, scores in [("none", none_scores), ("L2 (1e-3)", best_scores)]:
        folds = [{"train": 1.0, "test": s, "epochs": 1, "seconds": 0.1} for s in scores]
        rows.append({"variant": name, **_summary(folds)})
    return pd.DataFrame(rows)


def test_the_verdict_gives_the_gain_fold_by_fold_and_says_when_it_is_noise():
    from skreg.cli.compare import _verdict

    clear = _verdict(verdict_table([0.6, 0.7, 0.8], [0.7, 0.8, 0.9]))
    assert "best: L2 (1e-3), CV 0.800, +0.100 ± 0.000 over none (per fold)" in clear
    assert "gap 0.200 against 0.300" in clear and "noise" not in clear
    # A mean gain of 0.033 whose per-fold differences spread by 0.125.
    noisy = _verdict(verdict_table([0.6, 0.7, 0.8], [0.8, 0.6, 0.8]))
    assert "+0.033 ± 0.125" in noisy and "within the noise of the folds" in noisy
    assert _verdict(verdict_table([0.9] * 3, [0.8] * 3)).startswith("best: none;")


@pytest.mark.parametrize("command", ["compare", "select"])
def test_a_refused_run_leaves_no_output_folder(tmp_path, monkeypatch, capsys, command):
    # The folder was made before the checks: every refused run left an empty skreg-output/.
    path = write(tmp_path, pd.DataFrame({"a": np.arange(20.0), "y": [0] * 17 + [1] * 3}))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--data", path, "--target", "y"])
    assert exit_info.value.code == 2 and "smallest class" in capsys.readouterr().err
    assert not (tmp_path / "skreg-output").exists()


@pytest.mark.parametrize(
    ("module", "argv", "message"),
    [
        ("matplotlib", [], "drawing its figures needs matplotlib: python -m pip install "
         "'skreg[plots]'."),
        ("distributed", ["--scheduler", "tcp://127.0.0.1:9"], "--scheduler needs distributed: "
         "python -m pip install 'skreg[distributed]'."),
    ],
)  # fmt: skip
def test_compare_without_an_extra_it_needs_stops_before_any_fit(
    tmp_path, monkeypatch, capsys, module, argv, message
):
    # Without matplotlib, compare ran every fit, printed its table, then died with a
    # traceback; without dask it left an empty output folder.
    monkeypatch.setitem(sys.modules, module, None)  # as if it were not installed
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--quiet", "--out", str(out), *argv])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == f"skreg compare: error: {message}"
    assert not out.exists()
    assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ  # set for the run, then taken back


@pytest.mark.parametrize(
    ("content", "fix"),
    [(b"", "give a comma-separated text file"), (b"a,y\n\xe9t\xe9,1\n", "save it as UTF-8")],
    ids=["empty", "latin-1"],
)
def test_an_unreadable_csv_names_the_fix(tmp_path, capsys, content, fix):
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    with pytest.raises(SystemExit):
        main(["compare", "--data", str(path), "--target", "y", "--quiet"])
    error = capsys.readouterr().err.strip()
    assert "cannot read" in error and fix in error and "\n" not in error


def test_diagnose_on_the_noisy_moons_counts_their_flipped_labels_as_bayes_error(capsys):
    # With a Bayes error of 0, memorizing the 10% flipped labels read as "high bias" too.
    assert main(["diagnose", "--max-iter", "3", "--hidden", "4"]) == 0
    printed = capsys.readouterr().out
    assert "bayes error 0.1 from the data's 10% flipped labels" in printed
    assert "bayes error       0.1000" in printed
    assert main(["diagnose", "--max-iter", "3", "--hidden", "4", "--bayes-error", "0"]) == 0
    assert "bayes error       0.0000" in capsys.readouterr().out
