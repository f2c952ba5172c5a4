"""When a fit has diverged (or would), and what the message says about it."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _engine
from ._specs import PROBE_ROWS, TrainingOutcome, TrainingRequest
from ._training import check_loss

# Features or targets beyond this magnitude are named as the likely cause of a divergence:
# the network's initial weights are scaled for inputs of order 1, and standardized data stay
# within a few units.
_LARGE_VALUE = 10.0
# Penalty coefficients from this one up are named first: the penalty then outweighs any data
# loss (useful values lie between 1e-6 and 1e-1), and at l2=1e30 its gradient overflows
# float32 (Adam's squared gradients reach 1e60) and the weights become NaN.
_LARGE_PENALTY = 1.0
# Below this beta_2, Adam's denominator follows the last gradients only (useful: 0.9-0.9999).
_SMALL_BETA_2 = 0.5


def check_trained(request: TrainingRequest, outcome: TrainingOutcome) -> None:
    """Raise ``FloatingPointError`` if the trained weights show divergence.

    The training loop checks each epoch's loss against the run's first
    (:func:`skreg._training.check_loss`); that loss is measured before each step. A call of
    one epoch (``partial_fit``, ``max_iter=1``) would then never see where its steps led,
    so the loss after them is checked too, on the first training rows.
    """
    state = outcome.network
    if not all(np.isfinite(w).all() for w in (*state.trainable, *state.non_trainable)):
        raise FloatingPointError("Training diverged: the trained weights are not finite.")
    result = outcome.result
    if result.n_epochs != 1:
        return
    loss = outcome.probe_loss  # computed by the compiled program, when it could
    if loss is None:  # a one-epoch call with a validation split
        rows = request.train_rows[:PROBE_ROWS]
        loss = _engine.loss(
            request.key, state, request.X[rows], request.Y[rows],
            request.train_weights[:PROBE_ROWS], request.penalty, request.label_smoothing,
        )  # fmt: skip
    first, start = request.reference_loss, request.start_loss
    if first is None:
        first, start = result.history["loss"][0], None
    check_loss(loss, "after the epoch's last step", first, start)


def divergence_advice(estimator: Any, X: np.ndarray, Y: np.ndarray) -> str:
    """The likely cause of a divergence, and its fix: an extreme penalty, a large target,
    large features; in every case the learning rate."""
    rate = f"lower learning_rate (now {estimator.learning_rate:g})"
    target, features = float(np.abs(Y).max()), float(np.abs(X).max())
    l1, l2 = estimator.l1, estimator.l2
    beta_2 = estimator.beta_2
    if estimator.optimizer in ("adam", "adamw", "nadam") and beta_2 < _SMALL_BETA_2:
        # A step is learning_rate * m / sqrt(v): with v averaged over a step or two, a
        # gradient that falls to 0 leaves m large and v small, whatever the rate.
        return (
            f"beta_2={beta_2:g} averages the squared gradients over about "
            f"{1 / (1 - beta_2):.2g} step(s), so a step far exceeds learning_rate wherever a "
            "gradient falls towards 0; use beta_2 of 0.9 or more (the default is 0.95)."
        )
    if max(l1, l2) >= _LARGE_PENALTY:
        return (
            f"The penalty is extreme (l1={l1:g}, l2={l2:g}): it outweighs the data loss and its "
            "gradient overflows float32; lower l1 and l2 (useful values lie between 1e-6 and "
            f"1e-1), or {rate}."
        )
    if target > _LARGE_VALUE:  # only a regression target gets this large
        return f"The target reaches {target:.3g}: {estimator._target_scaling()}, or {rate}."
    if features > _LARGE_VALUE:
        return (
            f"The features reach {features:.3g}: scale them, for example with StandardScaler, "
            f"or {rate}."
        )
    return f"{rate[0].upper()}{rate[1:]}, or look for extreme sample or class weights."


def check_float32_settings(settings: Any) -> None:
    """Refuse optimizer settings in range that the float32 training steps cannot hold: a
    beta that rounds to 1 (Adam's bias correction divides by zero with beta_1, its second
    moment never moves with beta_2) and an epsilon below float32's smallest normal number,
    which XLA flushes to zero (a zero gradient then updates by 0 / 0)."""
    below_one = float(np.nextafter(np.float32(1), np.float32(0)))
    tiny = float(np.finfo(np.float32).tiny)
    for name, value in settings:
        if name != "epsilon" and np.float32(value) >= 1:
            raise ValueError(
                f"{name}={value!r} rounds to 1.0 in float32, the precision the network trains "
                f"in, where the optimizer's moving average stops moving; use at most "
                f"{below_one!r}."
            )
        if name == "epsilon" and value < tiny:
            raise ValueError(
                f"epsilon={value!r} is below float32's smallest normal number, the precision "
                f"the network trains in, and counts as 0 there, so that a weight whose "
                f"gradient is 0 is updated by 0 / 0; use at least {tiny!r}."
            )
