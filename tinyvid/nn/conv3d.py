"""conv3d: a 3-D convolution of clips as one Function around kernels/conv3d.py (im2col + BLAS).

    x  (batch, time, height, width, c_in)    w  (kt, kh, kw, c_in, c_out)    b  (c_out,)
    y  (batch, out_t, out_h, out_w, c_out)

The Function trusts its arguments (strides and dilation are triples, padding 'valid' or 'same');
`conv3d` at the bottom checks them once, in the caller's terms. The Conv3D layer checks its own
in `__init__` and `build` and applies the Function directly. Backward skips the gradients nobody
asked for (`ctx.needs_input_grad`): the first convolution of a model gets no dx.
"""

from typing import Any

import numpy as np

from tinyvid.autograd.function import Function
from tinyvid.autograd.tensor import Tensor
from tinyvid.kernels.conv3d import conv3d_backward, conv3d_forward
from tinyvid.kernels.geometry import check_conv3d
from tinyvid.nn._shapes import shape_of


class Conv3D(Function):
    """y[n, ot, oh, ow, o] = b[o] + sum_{a,i,j,c} xp[n, ot*st + a*dil_t, oh*sh + i*dil_h,
    ow*sw + j*dil_w, c] w[a, i, j, c, o]

    where xp is x zero-padded along time, height and width as the padding says.
    """

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *,
                strides: tuple[int, ...], padding: str,
                dilation_rate: tuple[int, ...]) -> np.ndarray:
        ctx.params = (strides, padding, dilation_rate)
        ctx.save_for_backward(x, w)
        return conv3d_forward(x, w, b, *ctx.params)

    @staticmethod
    def backward(ctx: Any, grad_output: np.ndarray) -> tuple[Any, ...]:
        x, w = ctx.saved_tensors
        need_dx, need_dw, need_db = ctx.needs_input_grad
        # dy/dx = w "turned back" onto the input (col2im of dy w[a]^T per tap), dy/dw[a] =
        # cols^T dy, dy/db = 1
        return conv3d_backward(grad_output, x, w, *ctx.params, need_dx=need_dx,
                               need_dw=need_dw, need_db=need_db)


def conv3d(x: Any, w: Any, b: Any = None, strides: Any = 1, padding: str = "valid",
           dilation_rate: Any = 1) -> Tensor:
    """3-D convolution (cross-correlation, as Keras and PyTorch) of clips, channels-last.

    Args:
        x: `(batch, time, height, width, c_in)`, a Tensor or array.
        w: `(kt, kh, kw, c_in, c_out)`.
        b: `(c_out,)` or None.
        strides: an int or a triple `(st, sh, sw)`.
        padding: "valid" (no padding) or "same" (output `ceil(size / stride)` on each axis, zero
            padding split as Keras does, the odd voxel after: last frame, bottom, right).
        dilation_rate: an int or a triple; the kernel's taps are this far apart.

    Returns:
        A Tensor `(batch, out_t, out_h, out_w, c_out)`.

    Raises:
        ValueError: naming the argument, what was expected and what came.
    """
    b_shape = None if b is None else shape_of(b, "conv3d", "b")
    strides, padding, dilation = check_conv3d(shape_of(x, "conv3d", "x"),
                                              shape_of(w, "conv3d", "w"), b_shape, strides,
                                              padding, dilation_rate, fn="conv3d")
    return Conv3D.apply(x, w, b, strides=strides, padding=padding, dilation_rate=dilation)
