"""Functions of tensors that are more than one elementary op: softmax and log-softmax here,
convolution, pooling and dense from nn_ops.py (re-exported, so `tinyvid.functional` is the one
place to look for them).

Softmax and log-softmax are single Functions rather than compositions of exp, sum and divide:
fused, they subtract the maximum first (so exp never overflows) and have short backward formulas.
"""

import numpy as np

from tinyvid.nn_ops import avg_pool2d, conv2d, dense, max_pool2d  # noqa: F401  (re-exported)
from tinyvid.tensor import Function


class Softmax(Function):
    """s_i = e^(x_i - max x) / sum_j e^(x_j - max x), along `axis`"""

    @staticmethod
    def forward(ctx, x, *, axis=-1):
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        s = e / np.sum(e, axis=axis, keepdims=True)
        ctx.save_for_backward(s)
        ctx.axis = axis
        return s

    @staticmethod
    def backward(ctx, grad_output):
        (s,) = ctx.saved_tensors
        # ds_i/dx_j = s_i (delta_ij - s_j)  =>  dx = s * (g - sum(g * s))
        return s * (grad_output - np.sum(grad_output * s, axis=ctx.axis, keepdims=True))


class LogSoftmax(Function):
    """l_i = x_i - max x - log sum_j e^(x_j - max x), along `axis`"""

    @staticmethod
    def forward(ctx, x, *, axis=-1):
        shifted = x - np.max(x, axis=axis, keepdims=True)
        out = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        # dl_i/dx_j = delta_ij - softmax_j  =>  dx = g - softmax * sum(g)
        return grad_output - np.exp(out) * np.sum(grad_output, axis=ctx.axis, keepdims=True)


def softmax(x, axis=-1):
    """Probabilities along `axis` that sum to 1; stable for large inputs."""
    return Softmax.apply(x, axis=axis)


def log_softmax(x, axis=-1):
    """log(softmax(x)) computed without forming softmax, so it never takes log(0)."""
    return LogSoftmax.apply(x, axis=axis)
