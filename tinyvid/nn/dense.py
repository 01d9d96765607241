"""dense: y = x @ w + b, the op of the Dense layer, as one Function around kernels/dense.py.

    x  (..., in)      w  (in, out)      b  (out,)      y  (..., out)
"""

from typing import Any

import numpy as np

from tinyvid.autograd.function import Function
from tinyvid.autograd.tensor import Tensor
from tinyvid.kernels import dense_backward, dense_forward
from tinyvid.kernels.geometry import check_dense
from tinyvid.nn._shapes import shape_of


class Dense(Function):
    """y = x @ w + b, for x of shape (..., in)"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, w: np.ndarray,
                b: np.ndarray | None = None) -> np.ndarray:
        ctx.save_for_backward(x, w)
        return dense_forward(x, w, b)

    @staticmethod
    def backward(ctx: Any, grad_output: np.ndarray) -> tuple[Any, ...]:
        x, w = ctx.saved_tensors
        need_dx, need_dw, need_db = ctx.needs_input_grad
        # dy/dx = w^T, dy/dw = x^T (summed over the leading axes), dy/db = 1
        return dense_backward(grad_output, x, w, need_dx=need_dx, need_dw=need_dw,
                              need_db=need_db)


def dense(x: Any, w: Any, b: Any = None) -> Tensor:
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
    check_dense(shape_of(x, "dense", "x"), shape_of(w, "dense", "w"),
                None if b is None else shape_of(b, "dense", "b"), fn="dense")
    return Dense.apply(x, w, b)
