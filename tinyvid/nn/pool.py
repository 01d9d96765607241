"""max_pool2d, avg_pool2d (kernels/pool.py) and max_pool3d, avg_pool3d (kernels/pool3d.py):
pooling as Functions, channels-last.

    x  (batch, height, width, channels)  ->  y  (batch, out_h, out_w, channels)
    x  (batch, time, height, width, channels)  ->  y  (batch, out_t, out_h, out_w, channels)

The Functions trust their (already checked) arguments: pool_size and strides are pairs, padding
is 'valid' or 'same'. The public functions at the bottom check them once.
"""

from typing import Any

import numpy as np

from tinyvid.autograd.function import Function
from tinyvid.autograd.tensor import Tensor
from tinyvid.kernels import (
    avg_pool2d_backward,
    avg_pool2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
)
from tinyvid.kernels.geometry import check_pool, check_pool3d
from tinyvid.kernels.pool3d import (
    avg_pool3d_backward,
    avg_pool3d_forward,
    max_pool3d_backward,
    max_pool3d_forward,
)
from tinyvid.nn._shapes import shape_of


class MaxPool2D(Function):
    """y[n, oh, ow, c] = max of x over the window under (oh, ow)"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, *, pool_size: tuple[int, int],
                strides: tuple[int, int], padding: str) -> np.ndarray:
        y, ctx.argmax = max_pool2d_forward(x, pool_size, strides, padding)
        ctx.x_shape = x.shape
        return y

    @staticmethod
    def backward(ctx: Any, grad_output: np.ndarray) -> np.ndarray:
        # dy/dx = 1 at each window's maximum (the first one on ties), 0 elsewhere
        return max_pool2d_backward(grad_output, ctx.argmax, ctx.x_shape)


class AvgPool2D(Function):
    """y[n, oh, ow, c] = mean of x over the real (not padded) pixels of the window"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, *, pool_size: tuple[int, int],
                strides: tuple[int, int], padding: str) -> np.ndarray:
        ctx.x_shape = x.shape
        ctx.params = (pool_size, strides, padding)
        return avg_pool2d_forward(x, pool_size, strides, padding)

    @staticmethod
    def backward(ctx: Any, grad_output: np.ndarray) -> np.ndarray:
        # dy/dx = 1 / (real pixels in the window) for each pixel of the window
        return avg_pool2d_backward(grad_output, ctx.x_shape, *ctx.params)


def max_pool2d(x: Any, pool_size: Any = 2, strides: Any = None, padding: str = "valid") -> Tensor:
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
    pool, steps, padding = check_pool(shape_of(x, "max_pool2d", "x"), pool_size, strides, padding,
                                      fn="max_pool2d")
    return MaxPool2D.apply(x, pool_size=pool, strides=steps, padding=padding)


def avg_pool2d(x: Any, pool_size: Any = 2, strides: Any = None, padding: str = "valid") -> Tensor:
    """Average pooling, channels-last; with 'same', border windows average their real pixels.

    Args:
        x: `(batch, height, width, channels)`, a Tensor or array.
        pool_size: an int or a pair.
        strides: an int or a pair; None means pool_size.
        padding: "valid" or "same".

    Returns:
        A Tensor `(batch, out_h, out_w, channels)`.
    """
    pool, steps, padding = check_pool(shape_of(x, "avg_pool2d", "x"), pool_size, strides, padding,
                                      fn="avg_pool2d")
    return AvgPool2D.apply(x, pool_size=pool, strides=steps, padding=padding)


# ---- 3-D: clips (batch, time, height, width, channels), kernels/pool3d.py ----------------------


class MaxPool3D(Function):
    """y[n, ot, oh, ow, c] = max of x over the window under (ot, oh, ow)"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, *, pool_size: tuple[int, ...],
                strides: tuple[int, ...], padding: str) -> np.ndarray:
        y, ctx.argmax = max_pool3d_forward(x, pool_size, strides, padding)
        ctx.x_shape = x.shape
        return y

    @staticmethod
    def backward(ctx: Any, grad_output: np.ndarray) -> np.ndarray:
        # dy/dx = 1 at each window's maximum (the first one on ties), 0 elsewhere
        return max_pool3d_backward(grad_output, ctx.argmax, ctx.x_shape)


class AvgPool3D(Function):
    """y[n, ot, oh, ow, c] = mean of x over the real (not padded) voxels of the window"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, *, pool_size: tuple[int, ...],
                strides: tuple[int, ...], padding: str) -> np.ndarray:
        ctx.x_shape = x.shape
        ctx.params = (pool_size, strides, padding)
        return avg_pool3d_forward(x, pool_size, strides, padding)

    @staticmethod
    def backward(ctx: Any, grad_output: np.ndarray) -> np.ndarray:
        # dy/dx = 1 / (real voxels in the window) for each voxel of the window
        return avg_pool3d_backward(grad_output, ctx.x_shape, *ctx.params)


def max_pool3d(x: Any, pool_size: Any = 2, strides: Any = None, padding: str = "valid") -> Tensor:
    """Max pooling of clips `(batch, time, height, width, channels)`; padding never wins.

    Args:
        x: a Tensor or array `(batch, time, height, width, channels)`.
        pool_size: an int or a triple `(pt, ph, pw)`.
        strides: an int or a triple; None means pool_size.
        padding: "valid" or "same".

    Returns:
        A Tensor `(batch, out_t, out_h, out_w, channels)`.
    """
    pool, steps, padding = check_pool3d(shape_of(x, "max_pool3d", "x"), pool_size, strides,
                                        padding, fn="max_pool3d")
    return MaxPool3D.apply(x, pool_size=pool, strides=steps, padding=padding)


def avg_pool3d(x: Any, pool_size: Any = 2, strides: Any = None, padding: str = "valid") -> Tensor:
    """Average pooling of clips; with 'same', border windows average their real voxels.

    Args:
        x: a Tensor or array `(batch, time, height, width, channels)`.
        pool_size: an int or a triple `(pt, ph, pw)`.
        strides: an int or a triple; None means pool_size.
        padding: "valid" or "same".

    Returns:
        A Tensor `(batch, out_t, out_h, out_w, channels)`.
    """
    pool, steps, padding = check_pool3d(shape_of(x, "avg_pool3d", "x"), pool_size, strides,
                                        padding, fn="avg_pool3d")
    return AvgPool3D.apply(x, pool_size=pool, strides=steps, padding=padding)
