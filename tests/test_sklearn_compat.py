"""scikit-learn's estimator checks over the estimators and the transformer."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skreg import (
    RegularizedMLPClassifier,
    RegularizedMLPClassifierCV,
    RegularizedMLPRegressor,
    RegularizedMLPRegressorCV,
    ZCAWhitening,
)

# Small, fast networks: the checks fit dozens of times on tiny data sets.
ESTIMATORS = [
    RegularizedMLPClassifier((16,), learning_rate=1e-2, max_iter=60, random_state=0),
    RegularizedMLPRegressor((16,), learning_rate=1e-2, max_iter=60, random_state=0),
    # Two candidates racing over three folds, then the fold ensemble.
    RegularizedMLPClassifierCV(
        (16,),
        l2s=[1e-4, 1e-3],
        dropouts=[0.0],
        cv=3,
        learning_rate=1e-2,
        max_iter=60,
        random_state=0,
    ),
    RegularizedMLPRegressorCV(
        (16,),
        l2s=[1e-4, 1e-3],
        dropouts=[0.0],
        cv=3,
        learning_rate=1e-2,
        max_iter=60,
        random_state=0,
    ),
    ZCAWhitening(),
]

# Every expected failure with its reason; keep this list as short as possible.
_FLOAT32_WEIGHTS = (
    "The tabular preprocessing learns its medians and quantiles from the rows, each counted "
    "once whatever its weight (user guide, 'Rows of weight zero'), and Keras trains in "
    "float32: without the scaling, weighted and repeated rows give the same model up to "
    "float32 rounding (relative differences near 1e-6, see test_sample_weight_equals_repetition), "
    "but this check demands rtol=1e-7, which only float64 training can meet."
)
EXPECTED_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data": _FLOAT32_WEIGHTS,
}


_REPEATED_ROWS_MOVE_FOLDS = (
    "Repeating a row instead of weighting it changes the cross-validation folds (the copies "
    "fall into different folds, and the folds change size), so the fold models and the "
    "candidate chosen differ; GridSearchCV behaves the same way."
)


def _expected_failed_checks(estimator):
    if isinstance(estimator, ZCAWhitening):
        return {}
    if isinstance(estimator, (RegularizedMLPClassifierCV, RegularizedMLPRegressorCV)):
        return {"check_sample_weight_equivalence_on_dense_data": _REPEATED_ROWS_MOVE_FOLDS}
    return EXPECTED_FAILURES


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
