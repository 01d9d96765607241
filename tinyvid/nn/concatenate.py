"""concatenate: join tensors along one axis (the Concatenate merge layer's op).

    z = [x_1 | x_2 | ... | x_k] along `axis`;  dz/dx_i = the slice of grad_output x_i came from
"""

import numpy as np

from tinyvid.autograd.function import Function
from tinyvid.autograd.tensor import Tensor


class Concatenate(Function):
    """z = np.concatenate([x_1, ..., x_k], axis)"""

    @staticmethod
    def forward(ctx, *xs, axis):
        ctx.axis = axis
        ctx.bounds = np.cumsum([x.shape[axis] for x in xs])[:-1]  # where each input ends
        return np.concatenate(xs, axis=axis)

    @staticmethod
    def backward(ctx, grad_output):
        return tuple(np.split(grad_output, ctx.bounds, axis=ctx.axis))  # cut the gradient apart


def concatenate(tensors: list[Tensor], axis: int = -1) -> Tensor:
    """Join `tensors` (same shape except on `axis`) along `axis`.

    Args:
        tensors: a list of at least one Tensor.
        axis: the axis to join on (negative counts from the end).

    Returns:
        A Tensor whose `axis` is the sum of the inputs' sizes on it.
    """
    if not tensors:
        raise ValueError("concatenate: expected a list of at least one tensor, received none")
    ndim = tensors[0].ndim
    if not -ndim <= axis < ndim:
        raise ValueError(f"concatenate: invalid value for argument `axis`: expected an axis of a "
                         f"rank-{ndim} tensor. Received: axis={axis}")
    return Concatenate.apply(*tensors, axis=axis % ndim)
