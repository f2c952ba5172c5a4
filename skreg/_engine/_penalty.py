"""The weight penalty: one Keras regularizer for training and for the exported model.

skreg follows Keras' semantics: the penalty is added to the loss of every mini-batch,
``l1 * sum(|W|) + l2 * sum(W**2)`` over the kernel of every dense layer (biases are not
penalized). :class:`Penalty` computes it, in the manner of Keras' ``L1L2``: the compiled
training programs call it with the run-time ``l1`` and ``l2`` on all kernels at once
(:meth:`Penalty.total`), and the exported ``model_`` carries it on each kernel, so
``model.losses`` shows the penalty and further Keras training keeps it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras


@keras.saving.register_keras_serializable(package="skreg")
class Penalty(keras.regularizers.Regularizer):
    """``l1 * sum(|W|) + l2 * sum(W**2)``; ``l1`` and ``l2`` are numbers or, inside a
    compiled program, scalar tensors."""

    def __init__(self, l1: Any = 0.0, l2: Any = 0.0) -> None:
        self.l1 = l1
        self.l2 = l2

    def __call__(self, x: Any) -> Any:
        return self.total([x])

    def total(self, kernels: Sequence[Any]) -> Any:
        """The penalty of all ``kernels`` together."""
        ops = keras.ops
        absolute = sum(ops.sum(ops.abs(kernel)) for kernel in kernels)
        squares = sum(ops.sum(ops.square(kernel)) for kernel in kernels)
        return self.l1 * absolute + self.l2 * squares

    def get_config(self) -> dict[str, float]:
        return {"l1": float(self.l1), "l2": float(self.l2)}


def kernel_penalty(l1: float, l2: float) -> Penalty | None:
    """The penalty to attach to a model's kernels, or None when both coefficients are 0."""
    return Penalty(l1, l2) if l1 or l2 else None
