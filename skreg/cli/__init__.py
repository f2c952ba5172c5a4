"""The command line: ``skreg compare``, ``skreg select`` and ``skreg diagnose``.

``skreg compare`` fits one network with each regularizer, cross-validates every variant and
prints one table; ``skreg select`` chooses L2 and dropout by cross-validation and prints the
path; ``skreg diagnose`` gives the bias/variance verdict. They run on small noisy moons by
default, on scikit-learn's digits (``--data digits``) or on a CSV file (``--data file.csv
--target column``).

This module only parses arguments, so ``skreg --help`` and argument errors answer at once: the
commands themselves (:mod:`skreg.cli.compare`, :mod:`skreg.cli.diagnose`, over
:mod:`skreg.cli.data`) import pandas and scikit-learn, and Keras loads at the first fit.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Sequence

from .errors import DataError


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``skreg`` command line; return the exit status."""
    parser = _parser()
    args, unknown = parser.parse_known_args(_negative_values_attached(argv))
    if unknown:  # the command's own parser says it, naming the command and its --help
        parser.commands.choices[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    # TensorFlow's C++ logging (GPU probes, CPU features, cache reads) buries the one line
    # the command prints; --verbose shows it.
    # Set for the run (workers inherit it), then taken back: main() called from Python.
    quiet = not getattr(args, "verbose", False) and "TF_CPP_MIN_LOG_LEVEL" not in os.environ
    if quiet:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    # A warning (a candidate whose fits failed, say) as one line, as the errors are.
    formatwarning = warnings.formatwarning
    warnings.formatwarning = lambda message, *_, **__: (
        f"skreg {args.command}: warning: {message}\n"
    )
    try:
        status = _run(parser, args)
    except BaseException:
        _settle_made_folders(finished=False)
        raise
    else:
        _settle_made_folders(finished=True)
        return status
    finally:
        warnings.formatwarning = formatwarning
        if quiet:
            os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)


def _negative_values_attached(argv: Sequence[str] | None) -> list[str]:
    """``argv`` with a negative number (``-1e-3``, ``-0.1,0.2``) after an option attached to
    it (``--l2s=-1e-3``): argparse takes such a value for an option of its own and answers
    "expected one argument", not the option's check ("must be ... non-negative"). No skreg
    option starts with a digit or a dot, so nothing else is read differently."""
    argv = list(sys.argv[1:] if argv is None else argv)
    for i in range(len(argv) - 1, 0, -1):  # from the end: a join shifts only what follows
        option, value = argv[i - 1], argv[i]
        named = option.startswith("--") and option != "--" and "=" not in option
        if named and value[:1] == "-" and value[1:2] in tuple("0123456789."):
            argv[i - 1 : i + 1] = [f"{option}={value}"]
    return argv


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    try:
        return importlib.import_module(f".{args.command}", __name__).run(args)
    except DataError as error:
        parser.exit(2, f"skreg {args.command}: error: {error}\n")
    except ValueError as error:
        # A setting the parser let through and the estimator refuses: still one line.
        from .._validation import InvalidParameterError  # loaded by the command already

        if not isinstance(error, InvalidParameterError):
            raise
        parser.exit(2, f"skreg {args.command}: error: {error}\n")
    except FloatingPointError as error:
        parser.exit(1, f"skreg {args.command}: error: {error}\n")
    except KeyboardInterrupt:  # Ctrl-C: one line, not a traceback through joblib's workers
        parser.exit(130, f"skreg {args.command}: interrupted\n")


def _settle_made_folders(*, finished: bool) -> None:
    """The output folders the run made: the user's once it finished; removed where still
    empty if it failed or was interrupted (once the command got that far, its data module
    is loaded)."""
    data = sys.modules.get(f"{__name__}.data")
    if data is not None:
        data.settle_made_folders(finished=finished)


class _Parser(argparse.ArgumentParser):
    """argparse's parser, whose errors are one line, as the commands' own (the usage it
    would print first is one ``--help`` away)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="skreg",
        description="Compare regularizers and diagnose bias and variance of a neural network.",
    )
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"skreg {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    parser.commands = commands
    compare_parser = commands.add_parser(
        "compare",
        help="cross-validate the network with each regularizer",
        description="Fit the same network with no regularization, L2, L1, dropout, early "
        "stopping, augmentation and a combination, and let one choose L2 and dropout by "
        "inner cross-validation (RegularizedMLPClassifierCV); cross-validate each; print a "
        "table and save loss curves and the score along the L2 strength.",
    )
    _data_arguments(compare_parser)
    compare_parser.add_argument("--cv", type=_at_least(2), default=5, help="folds (default 5)")
    compare_parser.add_argument("--out", default="skreg-output", help="folder for figures")
    compare_parser.add_argument("--quiet", action="store_true", help="no progress bar")
    compare_parser.add_argument(
        "--n-jobs",
        type=_n_jobs,
        default=None,
        help="fits run in parallel, as in scikit-learn (-1: every core; default 1, or every "
        "worker with --scheduler)",
    )
    compare_parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the fits on the Dask cluster of this scheduler (tcp://host:8786); needs "
        "skreg[distributed]",
    )

    select_parser = commands.add_parser(
        "select",
        help="choose L2 and dropout by cross-validation and print the path",
        description="Cross-validate the network over a grid of L2 penalties and dropout "
        "rates with RegularizedMLPClassifierCV (or RegressorCV): candidates race over the "
        "folds, the better half going on after each fold. Print the path table and the "
        "choice, and save it as select.csv.",
    )
    _data_arguments(select_parser)
    select_parser.add_argument(
        "--l2s",
        type=_l2s,
        default=4,
        help="L2 penalties, 1e-4,1e-3,1e-2, or how many on the data-driven path (default 4)",
    )
    select_parser.add_argument(
        "--dropouts", type=_rates, default=(0.0, 0.15), help="dropout rates (default 0,0.15)"
    )
    select_parser.add_argument("--cv", type=_at_least(2), default=5, help="folds (default 5)")
    select_parser.add_argument(
        "--no-pruning", action="store_true", help="run every candidate on every fold"
    )
    select_parser.add_argument("--n-jobs", type=_n_jobs, default=None, help="parallel fits")
    select_parser.add_argument(
        "--quiet", action="store_true", help="no progress bar (there is none with --n-jobs)"
    )
    select_parser.add_argument("--out", default="skreg-output", help="folder for select.csv")

    diagnose_parser = commands.add_parser(
        "diagnose",
        help="bias/variance verdict and next steps",
        description="Name high bias, high variance, both or neither from the train and "
        "validation errors (given, or measured by fitting on a hold-out split) and an "
        "optional Bayes (human-level) error.",
    )
    diagnose_parser.add_argument("--train-error", type=_error_rate, help="training error")
    diagnose_parser.add_argument("--validation-error", type=_error_rate, help="validation error")
    diagnose_parser.add_argument("--bayes-error", type=_error_rate, help="human-level error")
    diagnose_parser.add_argument(
        "--tolerance", type=_error_rate, default=0.02, help="gap that counts as high (0.02)"
    )
    _data_arguments(diagnose_parser)
    diagnose_parser.add_argument("--l2", type=_non_negative, default=0.0, help="L2 penalty")
    diagnose_parser.add_argument("--dropout", type=_rate, default=0.0, help="dropout rate")
    diagnose_parser.add_argument(
        "--validation-fraction", type=_fraction, default=0.2, help="hold-out share (0.2)"
    )
    return parser


def _data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        help="CSV file, or 'digits' for scikit-learn's digits (default: 200 noisy moons)",
    )
    parser.add_argument("--target", help="target column of the CSV file")
    parser.add_argument(
        "--task",
        choices=["auto", "classification", "regression"],
        default="auto",
        help="inferred from the target by default",
    )
    parser.add_argument(
        "--hidden", type=_hidden, default=(128, 64), help="hidden layer sizes (default 128,64)"
    )
    parser.add_argument(
        "--max-iter",
        type=_at_least(1),
        help="epochs (default 300 on the noisy moons, else 40)",
    )
    parser.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show the backend's own log lines (hidden by default)",
    )


def _hidden(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 128,64; got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"layer sizes must be positive; got {text!r}")
    return sizes


def _at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer; got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}; got {value}")
        return value

    return parse


def _n_jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer; got {text!r}") from None
    if value == 0:
        raise argparse.ArgumentTypeError("must not be 0 (1 runs serially, -1 uses every core)")
    return value


def _l2s(text: str) -> int | tuple[float, ...]:
    if text.strip().isdigit():  # a count of penalties
        if int(text) == 0:
            raise argparse.ArgumentTypeError(
                "an integer is a count of penalties and must be at least 1; to try l2=0, "
                "write it as a number in a list, such as 0.0,1e-3"
            )
        return _at_least(1)(text)
    values = (_non_negative(part) for part in text.split(","))
    return tuple(dict.fromkeys(values))  # each penalty once, in the order given


def _rates(text: str) -> tuple[float, ...]:
    return tuple(dict.fromkeys(_rate(part) for part in text.split(",")))


def _seed(text: str) -> int:
    value = _at_least(0)(text)
    if value >= 2**32:
        raise argparse.ArgumentTypeError(f"must be below 2**32; got {value}")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number; got {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite, non-negative number; got {text}")
    return value


def _error_rate(text: str) -> float:
    value = _non_negative(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1; got {text}")
    return value


def _rate(text: str) -> float:
    value = _error_rate(text)
    if value == 1:
        raise argparse.ArgumentTypeError("must be below 1 (a rate of 1 drops every unit)")
    return value


def _fraction(text: str) -> float:
    value = _error_rate(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be strictly between 0 and 1; got {text}")
    return value
