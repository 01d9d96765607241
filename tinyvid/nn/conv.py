"""conv2d: a 2-D convolution as one Function around kernels/conv.py (im2col + BLAS).

    x  (batch, height, width, c_in)   w  (kh, kw, c_in, c_out)   b  (c_out,)
    y  (batch, out_h, out_w, c_out)

The Function trusts its arguments (strides and dilation are pairs, padding 'valid' or 'same');
`conv2d` at the bottom checks them once, in the caller's terms ("conv2d: input has 3 channels
(x.shape=...) but the kernel expects 4 (w.shape=...)"). The Conv2D layer checks its own in
`__init__` and `build` and applies the Function directly.

Backward skips the gradients nobody asked for (`ctx.needs_input_grad`): the first convolution of
a model gets no dx, a layer without bias no db.
"""

from typing import Any

import numpy as np

from tinyvid.autograd.function import Function
from tinyvid.autograd.grad_mode import is_grad_enabled
from tinyvid.autograd.tensor import Tensor
from tinyvid.kernels import conv2d_backward, conv2d_forward, conv_geometry
from tinyvid.kernels.geometry import check_conv
from tinyvid.nn._shapes import shape_of

KEEP_COLS_BYTES = 32 * 1024 * 1024
"""Conv2D keeps forward's column matrix for backward (dw) when it is at most this many bytes:
small column matrices stay in cache and recomputing them costs more than keeping them; large
ones do not (docs/performance.md has the measurements)."""


class Conv2D(Function):
    """y[n, oh, ow, o] = sum_{i,j,c} xp[n, oh*sh + i*dil_h, ow*sw + j*dil_w, c] w[i, j, c, o] + b[o]

    where xp is x zero-padded as the padding says, (sh, sw) the strides and (dil_h, dil_w) the
    dilation rate.
    """

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *,
                strides: tuple[int, int], padding: str,
                dilation_rate: tuple[int, int]) -> np.ndarray:
        ctx.params = (strides, padding, dilation_rate)
        g = conv_geometry(x.shape, w.shape, *ctx.params)
        cols_bytes = x.shape[0] * g.out_h * g.out_w * g.kh * g.kw * w.shape[2] * x.itemsize
        ctx.cols = None
        if is_grad_enabled() and ctx.needs_input_grad[1] and cols_bytes <= KEEP_COLS_BYTES:
            y, ctx.cols = conv2d_forward(x, w, b, *ctx.params, keep_cols=True)
        else:
            y = conv2d_forward(x, w, b, *ctx.params)
        ctx.save_for_backward(x, w)
        return y

    @staticmethod
    def backward(ctx: Any, grad_output: np.ndarray) -> tuple[Any, ...]:
        x, w = ctx.saved_tensors
        need_dx, need_dw, need_db = ctx.needs_input_grad
        cols, ctx.cols = ctx.cols, None  # free them; a second backward recomputes them
        # dy/dx = w "turned back" onto the input (col2im of dy w^T), dy/dw = cols^T dy, dy/db = 1
        return conv2d_backward(grad_output, x, w, *ctx.params, need_dx=need_dx,
                               need_dw=need_dw, need_db=need_db, cols=cols)


def conv2d(x: Any, w: Any, b: Any = None, strides: Any = 1, padding: str = "valid",
           dilation_rate: Any = 1) -> Tensor:
    """2-D convolution (cross-correlation, as Keras and PyTorch), channels-last.

    Args:
        x: `(batch, height, width, c_in)`, a Tensor or array.
        w: `(kh, kw, c_in, c_out)`.
        b: `(c_out,)` or None.
        strides: an int or a pair `(sh, sw)`.
        padding: "valid" (no padding) or "same" (output `ceil(size / stride)`, zero padding
            split as Keras does, the odd pixel at the bottom / right).
        dilation_rate: an int or a pair; the kernel's taps are this far apart.

    Returns:
        A Tensor `(batch, out_h, out_w, c_out)`.

    Raises:
        ValueError: naming the argument, what was expected and what came.
    """
    b_shape = None if b is None else shape_of(b, "conv2d", "b")
    strides, padding, dilation = check_conv(shape_of(x, "conv2d", "x"), shape_of(w, "conv2d", "w"),
                                            b_shape, strides, padding, dilation_rate, fn="conv2d")
    return Conv2D.apply(x, w, b, strides=strides, padding=padding, dilation_rate=dilation)
