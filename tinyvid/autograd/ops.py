"""The differentiable ops: one small Function class each, forward and backward side by side.

Every `forward` takes and returns NumPy arrays; every `backward` turns the gradient of the
output (`grad_output`) into one gradient per input, with a one-line derivative comment.
Broadcasting is undone by the engine (tensor.py, `_checked_gradient`), so an elementwise op
returns gradients of the broadcast shape and does not need to care.

Sorted from simple to complex: elementwise arithmetic, elementwise functions, reductions,
shape ops. The convolution, pooling and dense ops live in tinyvid/nn/ beside their checks and
kernels, softmax and log-softmax in tinyvid/nn/softmax.py.
"""

from typing import Any

import numpy as np

from tinyvid.autograd.function import Function

Axis = int | tuple[int, ...] | None  # the axes a reduction runs over; None: all
TwoGrads = tuple[np.ndarray | None, np.ndarray | None]  # dz/dx, dz/dy (None: not wanted)

# --- elementwise arithmetic ------------------------------------------------------------------


class Add(Function):
    """z = x + y"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return x + y

    @staticmethod
    def backward(ctx: Any, grad_output: np.ndarray) -> TwoGrads:
        return grad_output, grad_output  # dz/dx = 1, dz/dy = 1


class Sub(Function):
    """z = x - y"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return x - y

    @staticmethod
    def backward(ctx: Any, grad_output: np.ndarray) -> TwoGrads:
        return grad_output, -grad_output  # dz/dx = 1, dz/dy = -1


class Neg(Function):
    """z = -x"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        return -x

    @staticmethod
    def backward(ctx: Any, grad_output: np.ndarray) -> np.ndarray:
        return -grad_output  # dz/dx = -1


class Mul(Function):
    """z = x * y"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(x, y)
        return x * y

    @staticmethod
    def backward(ctx: Any, grad_output: np.ndarray) -> TwoGrads:
        x, y = ctx.saved_tensors
        return grad_output * y, grad_output * x  # dz/dx = y, dz/dy = x


class Div(Function):
    """z = x / y"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(x, y)
        return x / y

    @staticmethod
    def backward(ctx: Any, grad_output: np.ndarray) -> TwoGrads:
        x, y = ctx.saved_tensors
        dx = grad_output / y  # dz/dx = 1 / y
        dy = -grad_output * x / (y * y) if ctx.needs_input_grad[1] else None  # dz/dy = -x / y^2
        return dx, dy


class Pow(Function):
    """z = x ** y"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        z = x**y
        ctx.save_for_backward(x, y, z)
        return z

    @staticmethod
    def backward(ctx: Any, grad_output: np.ndarray) -> TwoGrads:
        x, y, z = ctx.saved_tensors
        dx = grad_output * y * x ** (y - 1)  # dz/dx = y x^(y-1)
        # dz/dy = x^y log(x), defined for x > 0 only, so computed only when someone asks for it
        dy = grad_output * z * np.log(x) if ctx.needs_input_grad[1] else None
        return dx, dy


class MatMul(Function):
    """z = x @ y, with NumPy's rules: stacks of matrices broadcast, 1-D operands are vectors."""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(x, y)
        return x @ y

    @staticmethod
    def backward(ctx: Any, grad_output: np.ndarray) -> TwoGrads:
        x, y = ctx.saved_tensors
        # Treat vectors as 1-row / 1-column matrices so one formula covers every case.
        x2 = x[None, :] if x.ndim == 1 else x
        y2 = y[:, None] if y.ndim == 1 else y
        g = grad_output
        if y.ndim == 1:  # the output lost y's column axis: put it back
            g = g[..., None]
        if x.ndim == 1:  # ... and x's row axis
            g = g[..., None, :]
        dx = dy = None
        if ctx.needs_input_grad[0]:
            dx = g @ np.swapaxes(y2, -1, -2)  # dz/dx = grad_output @ y^T
            dx = dx[..., 0, :] if x.ndim == 1 else dx
        if ctx.needs_input_grad[1]:
            dy = np.swapaxes(x2, -1, -2) @ g  # dz/dy = x^T @ grad_output
            dy = dy[..., 0] if y.ndim == 1 else dy
        return dx, dy


# --- elementwise functions -------------------------------------------------------------------


class Exp(Function):
    """z = e^x"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        z = np.exp(x)
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx: Any, grad_output: np.ndarray) -> np.ndarray:
        (z,) = ctx.saved_tensors
        return grad_output * z  # dz/dx = e^x


class Log(Function):
    """z = ln(x)"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    def backward(ctx: Any, grad_output: np.ndarray) -> np.ndarray:
        (x,) = ctx.saved_tensors
        return grad_output / x  # dz/dx = 1 / x


class ReLU(Function):
    """z = max(x, 0)

    `inplace=True` writes z over x. Layers use it on the output they have just computed
    (Conv2D(activation='relu')): backward needs only z, so the pre-activation array x need not
    outlive the forward pass, as it would if x and z were two arrays (the graph keeps x alive).
    """

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, *, inplace: bool = False) -> np.ndarray:
        z = np.maximum(x, 0, out=x if inplace else None)
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx: Any, grad_output: np.ndarray) -> np.ndarray:
        (z,) = ctx.saved_tensors
        # dz/dx = 1 where x > 0, else 0 (also at 0, as Keras and PyTorch); into grad_output
        # itself when the engine says no one else holds it: one big array fewer at a time
        out = grad_output if ctx.grad_output_writable else None
        return np.multiply(grad_output, z > 0, out=out)


class Sigmoid(Function):
    """z = 1 / (1 + e^-x)"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        z = np.exp(-np.logaddexp(0, -x))  # = 1 / (1 + e^-x) without overflow for large -x
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx: Any, grad_output: np.ndarray) -> np.ndarray:
        (z,) = ctx.saved_tensors
        return grad_output * z * (1 - z)  # dz/dx = z (1 - z)


class Tanh(Function):
    """z = tanh(x)"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        z = np.tanh(x)
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx: Any, grad_output: np.ndarray) -> np.ndarray:
        (z,) = ctx.saved_tensors
        return grad_output * (1 - z * z)  # dz/dx = 1 - tanh(x)^2


class Clip(Function):
    """z = min(max(x, low), high)"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, *, low: float, high: float) -> np.ndarray:
        ctx.save_for_backward(x)
        ctx.low, ctx.high = low, high
        return np.clip(x, low, high)

    @staticmethod
    def backward(ctx: Any, grad_output: np.ndarray) -> np.ndarray:
        (x,) = ctx.saved_tensors
        return grad_output * ((x >= ctx.low) & (x <= ctx.high))  # dz/dx = 1 inside [low, high], else 0


# --- reductions ------------------------------------------------------------------------------


def _expand_reduced(grad_output: np.ndarray, input_shape: tuple[int, ...], axis: Axis,
                    keepdims: bool) -> np.ndarray:
    """Put back the axes a reduction removed, so the gradient broadcasts over the input."""
    if axis is None or keepdims:
        return grad_output.reshape([1] * len(input_shape)) if axis is None and not keepdims else grad_output
    axes = (axis,) if isinstance(axis, int) else axis
    return np.expand_dims(grad_output, tuple(a % len(input_shape) for a in axes))


class Sum(Function):
    """z = sum of x over `axis` (all axes when None)"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, *, axis: Axis = None,
                keepdims: bool = False) -> np.ndarray:
        ctx.input_shape, ctx.axis, ctx.keepdims = x.shape, axis, keepdims
        return np.sum(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx: Any, grad_output: np.ndarray) -> np.ndarray:
        grad = _expand_reduced(grad_output, ctx.input_shape, ctx.axis, ctx.keepdims)
        return np.broadcast_to(grad, ctx.input_shape)  # dz/dx_i = 1 for every summed x_i


class Mean(Function):
    """z = mean of x over `axis` (all axes when None)"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, *, axis: Axis = None,
                keepdims: bool = False) -> np.ndarray:
        ctx.input_shape, ctx.axis, ctx.keepdims = x.shape, axis, keepdims
        z = np.mean(x, axis=axis, keepdims=keepdims)
        ctx.count = x.size // max(np.size(z), 1)
        return z

    @staticmethod
    def backward(ctx: Any, grad_output: np.ndarray) -> np.ndarray:
        grad = _expand_reduced(grad_output, ctx.input_shape, ctx.axis, ctx.keepdims)
        return np.broadcast_to(grad / ctx.count, ctx.input_shape)  # dz/dx_i = 1 / n


class Max(Function):
    """z = max of x over `axis` (all axes when None)"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, *, axis: Axis = None,
                keepdims: bool = False) -> np.ndarray:
        z = np.max(x, axis=axis, keepdims=True)
        ctx.save_for_backward(x, z)
        ctx.input_shape, ctx.axis, ctx.keepdims = x.shape, axis, keepdims
        return z if keepdims else np.squeeze(z, axis=axis) if axis is not None else z.reshape(())

    @staticmethod
    def backward(ctx: Any, grad_output: np.ndarray) -> np.ndarray:
        x, z = ctx.saved_tensors
        grad = _expand_reduced(grad_output, ctx.input_shape, ctx.axis, ctx.keepdims)
        # dz/dx_i = 1 for the maximum, 0 elsewhere; tied maxima share the gradient equally
        is_max = x == z
        return grad * is_max / np.sum(is_max, axis=ctx.axis, keepdims=True)


# --- shape ops -------------------------------------------------------------------------------


class Reshape(Function):
    """z = x with a new shape (same values in the same order)"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, *, shape: tuple[int, ...]) -> np.ndarray:
        ctx.input_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx: Any, grad_output: np.ndarray) -> np.ndarray:
        return grad_output.reshape(ctx.input_shape)  # undo the reshape


class Transpose(Function):
    """z = x with its axes permuted (reversed when `axes` is None)"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, *, axes: tuple[int, ...] | None = None) -> np.ndarray:
        ctx.axes = axes
        return np.transpose(x, axes)

    @staticmethod
    def backward(ctx: Any, grad_output: np.ndarray) -> np.ndarray:
        if ctx.axes is None:
            return np.transpose(grad_output)  # reversing twice is the identity
        return np.transpose(grad_output, np.argsort(ctx.axes))  # apply the inverse permutation


class GetItem(Function):
    """z = x[index], for ints, slices (with steps), None, Ellipsis and integer/bool arrays"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, *, index: Any) -> np.ndarray:
        ctx.input_shape, ctx.dtype, ctx.index = x.shape, x.dtype, index
        return x[index]

    @staticmethod
    def backward(ctx: Any, grad_output: np.ndarray) -> np.ndarray:
        # dz/dx = 1 at the picked positions, 0 elsewhere. np.add.at adds once per repeat, so an
        # integer array that picks the same element twice sends it both gradients.
        dx = np.zeros(ctx.input_shape, dtype=ctx.dtype)
        np.add.at(dx, ctx.index, grad_output)
        return dx
