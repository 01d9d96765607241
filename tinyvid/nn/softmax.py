"""softmax and log_softmax, each one Function rather than a composition of exp, sum and divide.

Fused, they subtract the maximum first (so exp never overflows) and have short backward formulas.

`softmax(z)` marks its output, as Keras marks its logits: `y.logits` is z and `y.activation` is
'softmax'. A cross-entropy loss given y reads the mark and computes log(softmax(z)) as one stable
log-softmax of z, instead of taking the log of probabilities that may have underflowed to 0.
`sigmoid` (Tensor.sigmoid) marks its output the same way, for binary cross-entropy.
"""

from typing import Any

import numpy as np

from tinyvid.autograd.function import Function
from tinyvid.autograd.tensor import Tensor


class Softmax(Function):
    """s_i = e^(x_i - max x) / sum_j e^(x_j - max x), along `axis`"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, *, axis: int = -1) -> np.ndarray:
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        s = e / np.sum(e, axis=axis, keepdims=True)
        ctx.save_for_backward(s)
        ctx.axis = axis
        return s

    @staticmethod
    def backward(ctx: Any, grad_output: np.ndarray) -> np.ndarray:
        (s,) = ctx.saved_tensors
        # ds_i/dx_j = s_i (delta_ij - s_j)  =>  dx = s * (g - sum(g * s))
        return s * (grad_output - np.sum(grad_output * s, axis=ctx.axis, keepdims=True))


class LogSoftmax(Function):
    """l_i = x_i - max x - log sum_j e^(x_j - max x), along `axis`"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, *, axis: int = -1) -> np.ndarray:
        shifted = x - np.max(x, axis=axis, keepdims=True)
        out = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx: Any, grad_output: np.ndarray) -> np.ndarray:
        (out,) = ctx.saved_tensors
        # dl_i/dx_j = delta_ij - softmax_j  =>  dx = g - softmax * sum(g)
        return grad_output - np.exp(out) * np.sum(grad_output, axis=ctx.axis, keepdims=True)


def softmax(x: Any, axis: int = -1) -> Tensor:
    """Probabilities along `axis` that sum to 1; stable for large inputs.

    Along the last axis, the output is marked with its logits (`y.logits`, `y.activation`).
    """
    y = Softmax.apply(x, axis=axis)
    if axis in (-1, y.ndim - 1):
        y.logits, y.activation = (x if isinstance(x, Tensor) else Tensor(x)), "softmax"
    return y


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """log(softmax(x)) computed without forming softmax, so it never takes log(0)."""
    return LogSoftmax.apply(x, axis=axis)
