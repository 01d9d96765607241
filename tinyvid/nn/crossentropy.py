"""The fused sigmoid cross-entropy, the op binary cross-entropy uses when it has the logits.

    l = -[y log(sigmoid(z)) + (1 - y) log(1 - sigmoid(z))] = max(z, 0) - z y + log(1 + e^-|z|)

The right-hand side is exact where the left one would take log(0) for a saturated sigmoid.
"""

from typing import Any

import numpy as np

from tinyvid.autograd.function import Function
from tinyvid.autograd.tensor import Tensor


class SigmoidCrossEntropyWithLogits(Function):
    """l = -[y log(sigmoid(z)) + (1 - y) log(1 - sigmoid(z))] = max(z, 0) - z y + log(1 + e^-|z|)"""

    @staticmethod
    def forward(ctx: Any, z: np.ndarray, *, labels: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(z, labels)
        return np.maximum(z, 0) - z * labels + np.log1p(np.exp(-np.abs(z)))

    @staticmethod
    def backward(ctx: Any, grad_output: np.ndarray) -> np.ndarray:
        z, labels = ctx.saved_tensors
        return grad_output * (np.exp(-np.logaddexp(0, -z)) - labels)  # dl/dz = sigmoid(z) - y


def sigmoid_cross_entropy_with_logits(z: Any, labels: np.ndarray) -> Tensor:
    """Elementwise binary cross-entropy of labels y against sigmoid(z), from the logits z."""
    return SigmoidCrossEntropyWithLogits.apply(z, labels=np.asarray(labels))
