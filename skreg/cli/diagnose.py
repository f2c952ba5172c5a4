"""``skreg diagnose``: the bias/variance verdict, from given errors or from a fit."""

from __future__ import annotations

import argparse

from sklearn.model_selection import train_test_split

from ..inspection import diagnose, diagnose_estimator
from .data import check_backend, check_holdout, load_data, make_model, set_network_params
from .errors import DataError


def run(args: argparse.Namespace) -> int:
    """``skreg diagnose``: the bias/variance verdict from given errors or from a fit."""
    given = (args.train_error is not None, args.validation_error is not None)
    if any(given) and not all(given):
        raise DataError("give both --train-error and --validation-error, or neither.")
    if all(given) and (args.data is not None or args.target is not None):
        raise DataError(
            "--train-error and --validation-error diagnose given errors, and --data and "
            "--target a fit: give one or the other."
        )
    if all(given):
        result = diagnose(
            args.train_error,
            args.validation_error,
            bayes_error=args.bayes_error,
            tolerance=args.tolerance,
        )
    else:
        data = load_data(args.data, args.target, args.task)
        args.max_iter = args.max_iter or data.max_iter
        check_holdout(data, args.validation_fraction)
        check_backend(args.verbose)
        model = make_model(data, args.hidden, args.max_iter, args.seed)
        set_network_params(model, l2=args.l2, dropout=args.dropout)
        stratify = data.y if data.task == "classification" else None
        X_train, X_val, y_train, y_val = train_test_split(
            data.X,
            data.y,
            test_size=args.validation_fraction,
            random_state=args.seed,
            stratify=stratify,
        )
        model.fit(X_train, y_train)
        error = "1 - accuracy" if data.task == "classification" else "1 - R2"
        print(
            f"{data.name}: error = {error}, validation = {args.validation_fraction:.0%} hold-out"
        )
        bayes = data.bayes_error if args.bayes_error is None else args.bayes_error
        if args.bayes_error is None and bayes is not None:
            print(f"bayes error {bayes} from the data's {bayes:.0%} flipped labels")
        result = diagnose_estimator(
            model, X_train, y_train, X_val, y_val, bayes_error=bayes, tolerance=args.tolerance
        )
    print(result)
    return 0
