"""Differentiable conv2d, pooling and dense: Function classes around tinyvid.kernels.

Each op is one Function, forward and backward side by side, calling the NumPy/Numba kernels in
kernels/ (which never see a Tensor). Layout is channels-last, as in Keras:

    x  (batch, height, width, channels)     conv kernel w  (kh, kw, c_in, c_out)
    y  (batch, out_h, out_w, channels)      dense kernel w (in, out),  bias b (out,)

The public functions at the bottom (`conv2d`, `max_pool2d`, `avg_pool2d`, `dense`) check their
arguments, so that a mistake is reported in the caller's terms ("conv2d: input has 3 channels
(x.shape=...) but the kernel expects 4 (w.shape=...)"), then call `.apply`.

Backward passes skip the gradients nobody asked for (`ctx.needs_input_grad`): the first
convolution of a model gets no dx, a layer without bias no db.
"""

import numpy as np

from tinyvid.kernels import (
    avg_pool2d_backward,
    avg_pool2d_forward,
    conv2d_backward,
    conv2d_forward,
    conv_geometry,
    dense_backward,
    dense_forward,
    max_pool2d_backward,
    max_pool2d_forward,
    pool_geometry,
)
from tinyvid.kernels.dense import check_dense
from tinyvid.kernels.geometry import check_padding, normalize_pair
from tinyvid.tensor import Function, Tensor, is_grad_enabled

KEEP_COLS_BYTES = 32 * 1024 * 1024
"""Conv2D keeps forward's column matrix for backward (dw) when it is at most this many bytes.

Measured with benchmarks/bench_kernels.py (float32, batch 32, fwd + bwd without dx): for the
model's first conv (3->32 on 64x64x3, 13 MB of columns) keeping them was faster in 4 runs of 5
(e.g. 8.6 ms against 10.5 ms recomputing; the fifth, on a busy machine, 12.2 against 9.9); for
the second (32->64, 132 MB) keeping was slower in every run (81-312 ms against 63-68 ms),
because the columns no longer stay in cache (kernels/conv.py explains the chunking).
"""


class Dense(Function):
    """y = x @ w + b, for x of shape (..., in)"""

    @staticmethod
    def forward(ctx, x, w, b=None):
        ctx.save_for_backward(x, w)
        return dense_forward(x, w, b)

    @staticmethod
    def backward(ctx, grad_output):
        x, w = ctx.saved_tensors
        need_dx, need_dw, need_db = ctx.needs_input_grad
        # dy/dx = w^T, dy/dw = x^T (summed over the leading axes), dy/db = 1
        return dense_backward(grad_output, x, w, need_dx=need_dx, need_dw=need_dw,
                              need_db=need_db)


class MaxPool2D(Function):
    """y[n, oh, ow, c] = max of x over the window under (oh, ow)"""

    @staticmethod
    def forward(ctx, x, *, pool_size, strides, padding):
        y, ctx.argmax = max_pool2d_forward(x, pool_size, strides, padding)
        ctx.x_shape = x.shape
        return y

    @staticmethod
    def backward(ctx, grad_output):
        # dy/dx = 1 at each window's maximum (the first one on ties), 0 elsewhere
        return max_pool2d_backward(grad_output, ctx.argmax, ctx.x_shape)


class AvgPool2D(Function):
    """y[n, oh, ow, c] = mean of x over the real (not padded) pixels of the window"""

    @staticmethod
    def forward(ctx, x, *, pool_size, strides, padding):
        ctx.x_shape = x.shape
        ctx.params = (pool_size, strides, padding)
        return avg_pool2d_forward(x, pool_size, strides, padding)

    @staticmethod
    def backward(ctx, grad_output):
        # dy/dx = 1 / (real pixels in the window) for each pixel of the window
        return avg_pool2d_backward(grad_output, ctx.x_shape, *ctx.params)


class Conv2D(Function):
    """y[n, oh, ow, o] = sum_{i,j,c} xp[n, oh*sh + i*dil_h, ow*sw + j*dil_w, c] w[i, j, c, o] + b[o]

    where xp is x zero-padded as the padding says, (sh, sw) the strides and (dil_h, dil_w) the
    dilation rate.
    """

    @staticmethod
    def forward(ctx, x, w, b=None, *, strides, padding, dilation_rate):
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
    def backward(ctx, grad_output):
        x, w = ctx.saved_tensors
        need_dx, need_dw, need_db = ctx.needs_input_grad
        cols, ctx.cols = ctx.cols, None  # free them; a second backward recomputes them
        # dy/dx = w "turned back" onto the input (col2im of dy w^T), dy/dw = cols^T dy, dy/db = 1
        return conv2d_backward(grad_output, x, w, *ctx.params, need_dx=need_dx,
                               need_dw=need_dw, need_db=need_db, cols=cols)


# ---- the public functions: check the arguments, then apply the Function --------------------------

def _shape(a, fn, name):
    """The shape of a Tensor, array, number or nested list, or a ValueError naming `fn`."""
    if isinstance(a, Tensor):
        return a.shape
    try:
        return np.shape(a)
    except ValueError:  # ragged lists
        raise ValueError(f"{fn}: {name} is not a rectangular array") from None


def dense(x, w, b=None):
    """Fully connected layer: y = x @ w + b.

    Args:
        x: `(..., in)`, a Tensor or array.
        w: `(in, out)`.
        b: `(out,)` or None.

    Returns:
        A Tensor `(..., out)`.

    Raises:
        ValueError: when the shapes do not fit, naming both.
    """
    check_dense(_shape(x, "dense", "x"), _shape(w, "dense", "w"),
                None if b is None else _shape(b, "dense", "b"), fn="dense")
    return Dense.apply(x, w, b)


def conv2d(x, w, b=None, strides=1, padding="valid", dilation_rate=1):
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
    x_shape, w_shape = _shape(x, "conv2d", "x"), _shape(w, "conv2d", "w")
    b_shape = None if b is None else _shape(b, "conv2d", "b")
    conv_geometry(x_shape, w_shape, strides, padding, dilation_rate, b_shape, fn="conv2d")
    return Conv2D.apply(x, w, b, strides=normalize_pair(strides, "strides"),
                        padding=check_padding(padding, "conv2d"),
                        dilation_rate=normalize_pair(dilation_rate, "dilation_rate"))


def _pool(fn, function_class, x, pool_size, strides, padding):
    pool_geometry(_shape(x, fn, "x"), pool_size, strides, padding, fn=fn)
    pool_size = normalize_pair(pool_size, "pool_size", fn)
    strides = pool_size if strides is None else normalize_pair(strides, "strides", fn)
    return function_class.apply(x, pool_size=pool_size, strides=strides,
                                padding=check_padding(padding, fn))


def max_pool2d(x, pool_size=2, strides=None, padding="valid"):
    """Max pooling, channels-last; padding never wins (it counts as -inf).

    Args:
        x: `(batch, height, width, channels)`, a Tensor or array.
        pool_size: an int or a pair.
        strides: an int or a pair; None means pool_size.
        padding: "valid" or "same".

    Returns:
        A Tensor `(batch, out_h, out_w, channels)`. Its gradient goes to each window's first
        maximum in row-major order, as in TensorFlow and PyTorch.
    """
    return _pool("max_pool2d", MaxPool2D, x, pool_size, strides, padding)


def avg_pool2d(x, pool_size=2, strides=None, padding="valid"):
    """Average pooling, channels-last; with 'same', border windows average their real pixels.

    Args:
        x: `(batch, height, width, channels)`, a Tensor or array.
        pool_size: an int or a pair.
        strides: an int or a pair; None means pool_size.
        padding: "valid" or "same".

    Returns:
        A Tensor `(batch, out_h, out_w, channels)`.
    """
    return _pool("avg_pool2d", AvgPool2D, x, pool_size, strides, padding)
