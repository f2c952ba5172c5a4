"""What the Displays share: matplotlib, imported only when something is plotted, and the
score axis's labels."""

from __future__ import annotations

from typing import Any


def require_matplotlib(caller: str) -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError as error:
        raise ImportError(
            f"{caller} needs matplotlib: python -m pip install 'skreg[plots]'."
        ) from error


def score_label(scoring: Any) -> str:
    """The score axis's label for ``scoring`` (scikit-learn's rule): "Score" for None,
    ``"neg_log_loss"`` as "Negative log loss"."""
    name = getattr(scoring, "__name__", None) if callable(scoring) else scoring
    if not isinstance(name, str):
        return "Score"
    if name.startswith("neg_"):
        name = f"Negative {name[4:]}"
    return name.replace("_", " ").capitalize()


def negated_label(name: str | None) -> str | None:
    """The label of negated scores: "Negative log loss" -> "Log loss", "Score" ->
    "Negative score"."""
    if name is None:
        return None
    if name.startswith("Negative "):
        rest = name[len("Negative ") :]
        return rest[:1].upper() + rest[1:]
    return f"Negative {name[:1].lower()}{name[1:]}"
