"""The estimators without their tabular ingredients: the network sees the features as given,
trains with Keras' default Adam at a constant 1e-3 on the plain loss (for the regressor, on
the raw target), without dropout, on every row, for every epoch: the defaults of earlier
releases.

Most tests check behaviour against a formula (NumPy's forward pass and penalty, Keras' own
optimizer, scikit-learn's MLP); these parameters make the formula the plain one. The tabular
defaults have their own tests (``test_tabular.py``) and scikit-learn's checks run on the
defaults (``test_sklearn_compat.py``).
"""

from skreg import RegularizedMLPClassifier

PLAIN = dict(
    numeric_scaling=None,
    numeric_embedding=None,
    scaling_layer=False,
    beta_2=0.999,
    early_stopping=False,
    dropout=0.0,
    learning_rate=1e-3,
    learning_rate_schedule="constant",
)


def plain(cls) -> dict:
    """``cls``'s plain parameters."""
    if issubclass(cls, RegularizedMLPClassifier):
        return {**PLAIN, "label_smoothing": 0.0}
    return {**PLAIN, "target_scaling": False}
