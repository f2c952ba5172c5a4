"""The data the command line runs on, the network it fits, and checks made before a fit."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import is_classifier
from sklearn.datasets import load_digits
from sklearn.model_selection import KFold, StratifiedKFold

from .. import RegularizedMLPClassifier, RegularizedMLPRegressor, _engine
from ..datasets import make_noisy_moons
from .errors import DataError

# Integer targets with at most this many distinct values are read as classes.
_MAX_CLASSES_FOR_INTEGER_TARGET = 20


@dataclass
class Dataset:
    """Features, target and task of the data a command runs on."""

    X: pd.DataFrame
    y: pd.Series
    task: str
    name: str
    numeric: list[str]
    categorical: list[str]
    # Training settings that suit the data, used unless the command line gives others.
    max_iter: int = 40
    learning_rate: float = 1e-3
    # The lowest error a model can reach, where the data say (diagnose's default).
    bayes_error: float | None = None


def load_data(path: str | None, target: str | None, task: str = "auto") -> Dataset:
    """The noisy moons (by default), the digits, or a CSV file's features and target, with the
    task inferred or checked."""
    builtin = path is None or (path == "digits" and not Path(path).is_file())
    if builtin and target is not None:
        raise DataError(
            f"--target {target} names a column of a CSV file, and the built-in "
            f"{path or 'noisy moons'} data have their own target: "
            + ("drop --target, or give a CSV file's path." if path else "give --data too.")
        )
    if path is None:
        return _noisy_moons()
    if path == "digits" and not Path(path).is_file():
        digits = load_digits(as_frame=True)
        return Dataset(
            X=digits.data,
            y=digits.target,
            task="classification",
            name="digits",
            numeric=list(digits.data.columns),
            categorical=[],
        )
    frame = _read_csv(path, target)
    y = frame.pop(target)
    present = y.notna().to_numpy()
    if not present.any():
        raise DataError(f"the target {target!r} is empty (missing in every row).")
    if not present.all():
        note(
            f"dropped {int((~present).sum())} of {len(y)} rows whose target {target!r} is "
            "missing (empty, or a word pandas reads as missing: NA, N/A, null, None, NaN)."
        )
    frame, y = frame[present].reset_index(drop=True), y[present].reset_index(drop=True)
    if len(frame.columns) == 0:
        raise DataError(f"{path} has no feature columns besides the target {target!r}.")
    numeric = list(frame.select_dtypes("number").columns)
    if not numeric:
        raise DataError(f"{path} has no numeric feature columns.")
    for name, values in [*frame[numeric].items(), (target, y)]:
        _check_finite(name, values, is_target=values is y)
    categorical = [c for c in frame.columns if c not in numeric]
    for column in categorical:
        values = frame[column]
        frame[column] = values.where(values.isna(), values.astype(str))
    task = _task(y, task, target)
    if task == "classification":
        if y.nunique() < 2:
            raise DataError(f"the target {target!r} has a single class, {_plain(y.iloc[0])!r}.")
    elif not pd.api.types.is_numeric_dtype(y):
        raise DataError(f"--task regression needs a numeric target; {target!r} is not.")
    return Dataset(frame, y, task, Path(path).name, numeric, categorical)


def _noisy_moons() -> Dataset:
    """The default data: small and noisy, so that an unregularized network overfits visibly.

    200 points of scikit-learn's two moons with Gaussian noise 0.3 and 10% of the labels
    flipped. Trained long enough to memorize (300 epochs at learning_rate=1e-2), the
    unregularized (128, 64) network fits the flips and its train/validation gap opens; the
    regularizers close it (the getting-started page shows the table).
    """
    X, y = make_noisy_moons(200, noise=0.3, label_noise=0.1, random_state=0)
    columns = ["x1", "x2"]
    return Dataset(
        X=pd.DataFrame(X, columns=columns),
        y=pd.Series(y, name="label"),
        task="classification",
        name="noisy moons",
        numeric=columns,
        categorical=[],
        max_iter=300,
        learning_rate=1e-2,
        bayes_error=0.1,  # the flipped labels: no model does better on average
    )


def make_model(data: Dataset, hidden: tuple[int, ...], max_iter: int, seed: int) -> Any:
    """The network without regularization, on the raw columns: the estimator scales the
    numeric ones, encodes the categorical ones and imputes missing values inside each fit,
    so cross-validation stays honest (and the regressor standardizes its target)."""
    params = dict(
        max_iter=max_iter,
        learning_rate=data.learning_rate,
        learning_rate_schedule="constant",
        dropout=0.0,
        early_stopping=False,
        random_state=seed,
    )
    if data.task == "classification":
        return RegularizedMLPClassifier(hidden, label_smoothing=0.0, **params)
    return RegularizedMLPRegressor(hidden, **params)


def cv_model(model: Any, **grid: Any) -> Any:
    """The CV estimator with ``model``'s settings, choosing ``l2`` and ``dropout`` itself
    over ``grid`` (``l2s``, ``dropouts``, ``cv``, ...)."""
    from .. import RegularizedMLPClassifierCV, RegularizedMLPRegressorCV

    cls = RegularizedMLPClassifierCV if is_classifier(model) else RegularizedMLPRegressorCV
    shared = set(cls().get_params()) - {"l2s", "dropouts", "cv", "scoring"}
    params = {k: v for k, v in model.get_params().items() if k in shared}
    return cls(**params, **grid)


def require(module: str, extra: str, purpose: str) -> None:
    """Refuse a run whose ``purpose`` needs ``module`` when it is not installed, before any
    fit (an import failing after the fits loses them)."""
    if not _engine.installed(module):
        raise DataError(f"{purpose} needs {module}: python -m pip install 'skreg[{extra}]'.")


def output_folder(path: str, files: Sequence[str]) -> Path:
    """The folder for the results, made, and each of ``files`` in it shown writable, before
    any fit, so that no run is lost to them; a file the check creates is removed again."""
    out = Path(path)
    made = [folder for folder in (out, *out.parents) if not folder.exists()]  # deepest first
    try:
        out.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        # The file in the way: --out itself, or a folder it would be made in.
        blocking = next((f for f in (out, *out.parents) if f.exists() and not f.is_dir()), out)
        where = "exists and" if blocking == out else f"is under the file {blocking}, which"
        raise DataError(f"--out {path} {where} is not a folder; name a folder.") from None
    except OSError as error:
        raise DataError(f"cannot create the folder --out {path}: {error.strerror}.") from None
    for name in files:
        target = out / name
        existed = target.exists()
        with writing(target):
            open(target, "a").close()  # appending: an existing file keeps its content
        if not existed:
            target.unlink()
    _MADE[:] = made
    return out


# The folders output_folder made for this run, deepest first (settle_made_folders).
_MADE: list[Path] = []


def settle_made_folders(*, finished: bool) -> None:
    """Forget the folders :func:`output_folder` made for this run; if it did not finish
    (an error, Ctrl-C), remove those still empty first, so that it leaves no empty folder."""
    while _MADE and not finished:
        try:
            _MADE.pop(0).rmdir()
        except OSError:  # a file in it (a figure written already): it and its parents stay
            break
    _MADE.clear()


@contextmanager
def writing(target: Path) -> Iterator[None]:
    """Writing ``target``: a failure is one line (the folder or disk can change during a
    run), not a traceback."""
    try:
        yield
    except OSError as error:
        raise DataError(f"cannot write {target}: {error.strerror or error}.") from None


def set_network_params(model: Any, **params: Any) -> Any:
    """Set parameters of the network from :func:`make_model`."""
    return model.set_params(**params)


def fitted_network(model: Any) -> Any:
    """The fitted skreg estimator from :func:`make_model`."""
    return model


def _read_csv(path: str, target: str | None) -> pd.DataFrame:
    if target is None:
        raise DataError("--data needs --target, the name of the column to predict.")
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise DataError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise DataError(f"--data {path} is a folder; name a CSV file.") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else "empty file"
        fix = (
            "save it as UTF-8 text"
            if isinstance(error, UnicodeDecodeError)
            else "give a comma-separated text file with a header row naming the columns"
        )
        raise DataError(f"cannot read {path} as CSV ({message}): {fix}.") from None
    header = pd.read_csv(path, header=None, nrows=1, dtype=str).iloc[0].tolist()
    named = [name for name in header if isinstance(name, str)]  # pandas names empty ones
    repeated = sorted({name for name in named if named.count(name) > 1}, key=named.index)
    if repeated:  # pandas renames the second "y" to "y.1", which would become a feature
        raise DataError(
            f"{path} repeats the column name(s) {', '.join(map(repr, repeated))}; give each "
            "column its own name."
        )
    if target not in frame.columns:
        columns = ", ".join(map(str, frame.columns[:10]))
        hint = ""
        if len(frame.columns) == 1 and ";" in str(frame.columns[0]):
            hint = "; it looks separated by semicolons, and skreg reads commas"
        raise DataError(f"{path} has no column {target!r} (columns: {columns}){hint}.")
    if len(frame) == 0:
        raise DataError(f"{path} has no rows.")
    return frame


# Larger values overflow the scalers' squares (float64 beyond about 1e154) or, unscaled, the
# float32 network; no real measurement needs them.
_LARGEST_VALUE = 1e30


def _check_finite(name: str, values: pd.Series, *, is_target: bool) -> None:
    """Refuse infinite values and values beyond what float32 training can hold."""
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return
    array = values.to_numpy(dtype=float)
    what = "the target" if is_target else "the feature"
    if np.isinf(array).any():
        raise DataError(f"{what} {name!r} contains infinite values; remove or replace them.")
    largest = np.nanmax(np.abs(array)) if np.isfinite(array).any() else 0.0
    if largest > _LARGEST_VALUE:
        raise DataError(
            f"{what} {name!r} has values up to {largest:.3g}, too large to scale and train on "
            f"(at most {_LARGEST_VALUE:.0e}); rescale it, for example to other units or its "
            "logarithm."
        )


def note(message: str) -> None:
    """Tell the user, on the standard error, something done to their data."""
    print(f"skreg: note: {message}", file=sys.stderr)


def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python value it holds, for messages (0, not np.int64(0))."""
    return value.item() if isinstance(value, np.generic) else value


def _task(y: pd.Series, task: str, target: str) -> str:
    if task != "auto":
        return task
    if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
        return "classification"
    values = y.to_numpy(dtype=float)
    integral = np.all(np.mod(values, 1) == 0)
    if integral and y.nunique() <= _MAX_CLASSES_FOR_INTEGER_TARGET:
        if y.nunique() > 2:  # 0/1 labels need no note; a count with few values might
            note(
                f"the target {target!r} holds {y.nunique()} distinct integers: read as "
                "classes; --task regression reads it as numbers."
            )
        return "classification"
    return "regression"


def cv_splitter(data: Dataset, n_splits: int, seed: int) -> KFold | StratifiedKFold:
    if len(data.y) < 2 * n_splits:
        raise DataError(
            f"{len(data.y)} rows are too few for {n_splits}-fold cross-validation, which needs "
            f"at least two rows per fold ({2 * n_splits}); lower --cv."
        )
    if data.task == "regression":
        return KFold(n_splits, shuffle=True, random_state=seed)
    counts = data.y.value_counts()
    if counts.min() < n_splits:
        remedy = "lower --cv" if n_splits > 2 else "remove or merge the smallest classes"
        if pd.api.types.is_numeric_dtype(data.y) and not pd.api.types.is_bool_dtype(data.y):
            remedy += "; or, if the target is a quantity, --task regression"
        raise DataError(
            f"the smallest class, {_plain(counts.idxmin())!r}, has {counts.min()} rows; "
            f"{n_splits}-fold cross-validation needs at least {n_splits} ({remedy})."
        )
    return StratifiedKFold(n_splits, shuffle=True, random_state=seed)


def check_early_stopping_split(n_rows: int, n_splits: int) -> None:
    """Early stopping holds out 10% of each training fold and needs 2 rows there."""
    train_rows = n_rows - -(-n_rows // n_splits)
    held_out = -(-train_rows // 10)
    if held_out < 2:
        raise DataError(
            f"{n_rows} rows are too few for the early-stopping variants: they hold out 10% of "
            f"a fold's {train_rows} training rows, {held_out} row, and need at least 2 "
            "(give more rows)."
        )


def check_holdout(data: Dataset, fraction: float) -> None:
    """Check that ``diagnose``'s stratified hold-out split can be made."""
    held_out = -(-len(data.y) * fraction // 1)
    if data.task == "regression":
        # R2 needs two rows on each side.
        if held_out < 2 or len(data.y) - held_out < 2:
            raise DataError(
                f"{len(data.y)} rows are too few to hold out {fraction:.0%} with at least 2 "
                "rows on each side (change --validation-fraction or give more rows)."
            )
        return
    counts = data.y.value_counts()
    if counts.min() < 2:
        raise DataError(
            f"the class {_plain(counts.idxmin())!r} has a single row; a stratified hold-out "
            "needs at least 2 rows per class (remove or merge it)."
        )
    if held_out < len(counts) or len(data.y) - held_out < len(counts):
        raise DataError(
            f"{len(data.y)} rows are too few to hold out {fraction:.0%} with a row of each of "
            f"the {len(counts)} classes (change --validation-fraction or give more rows)."
        )


def check_backend(verbose: bool) -> None:
    """Refuse an unsupported backend, then load it, quietly unless ``verbose``.

    TensorFlow writes lines to the standard error before its log level applies (absl's
    start-up notice, the GPU probes of its import and of its first op); they go to /dev/null
    while it loads and runs one op.
    """
    backend = _engine.backend_name()
    if backend not in ("tensorflow", "jax"):
        raise DataError(
            f"the Keras backend is {backend!r} (KERAS_BACKEND); skreg runs on 'tensorflow' or "
            "'jax'."
        )
    missing = _engine.missing_backend(backend)
    if missing:
        raise DataError(missing)
    if not verbose:
        _engine.start_quietly()
