"""batch_normalization: BatchNormalization's op, as two fused Functions (training, inference).

For features along one axis (the channels, axis -1 by default) and every other axis reduced:

    training:   mu, sigma^2 = mean and (biased) variance of x over the reduced axes, per channel
                y = gamma * (x - mu) / sqrt(sigma^2 + epsilon) + beta
                moving_mean     <- momentum * moving_mean     + (1 - momentum) * mu
                moving_variance <- momentum * moving_variance + (1 - momentum) * sigma^2
    inference:  y = gamma * (x - moving_mean) / sqrt(moving_variance + epsilon) + beta

(Ioffe and Szegedy, 2015; the update and the biased variance are Keras 3's.) Fused: one
Function does the whole normalisation, so backward is one formula instead of a dozen small ops,
and in training the gradient flows through mu and sigma^2 too:

    x_hat = (x - mu) / sqrt(sigma^2 + epsilon),  g = dy * gamma,  m = voxels per channel
    dx = (m g - sum(g) - x_hat sum(g x_hat)) / (m sqrt(sigma^2 + epsilon))
    dgamma = sum(dy x_hat),  dbeta = sum(dy)                  (sums over the reduced axes)

gamma (scale) and beta (center) may be None: the layer's scale=False / center=False.
"""

from typing import Any

import numpy as np

from tinyvid.autograd.function import Function
from tinyvid.autograd.tensor import Tensor
from tinyvid.nn._shapes import shape_of


def _per_channel(v: np.ndarray | None, ndim: int, axis: int) -> np.ndarray | None:
    """A `(channels,)` vector shaped to broadcast against x along `axis` (None stays None)."""
    if v is None:
        return None
    shape = [1] * ndim
    shape[axis] = v.shape[0]
    return v.reshape(shape)


def _reduce(v: np.ndarray, axis: int) -> np.ndarray:
    """v summed over every axis but `axis`, as a `(channels,)` vector."""
    others = tuple(i for i in range(v.ndim) if i != axis)
    return v.sum(axis=others)


def moments(x: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and biased variance of x over every axis but `axis`, as Keras's
    `ops.moments`: mean = E[x], variance = E[x^2] - E[x]^2 (clipped at 0)."""
    others = tuple(i for i in range(x.ndim) if i != axis)
    mean = x.mean(axis=others)
    variance = np.maximum(np.square(x).mean(axis=others) - np.square(mean), 0)
    return mean, variance.astype(x.dtype)


class BatchNormTraining(Function):
    """y = gamma * (x - mu) / sqrt(sigma^2 + epsilon) + beta, with mu, sigma^2 x's own
    statistics (given by the caller, who computed them with `moments` to update the moving
    averages) and the gradient flowing through them."""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, gamma: np.ndarray | None, beta: np.ndarray | None, *,
                mean: np.ndarray, variance: np.ndarray, axis: int,
                epsilon: float) -> np.ndarray:
        inv_std = 1 / np.sqrt(variance + x.dtype.type(epsilon))
        x_hat = (x - _per_channel(mean, x.ndim, axis)) * _per_channel(inv_std, x.ndim, axis)
        y = x_hat if gamma is None else x_hat * _per_channel(gamma, x.ndim, axis)
        if beta is not None:
            y = y + _per_channel(beta, x.ndim, axis)
        ctx.axis = axis
        ctx.save_for_backward(x_hat, inv_std, gamma)
        return y

    @staticmethod
    def backward(ctx: Any, grad_output: np.ndarray) -> tuple[Any, ...]:
        x_hat, inv_std, gamma = ctx.saved_tensors
        axis, ndim = ctx.axis, x_hat.ndim
        need_dx, need_dgamma, need_dbeta = ctx.needs_input_grad
        g = grad_output if gamma is None else grad_output * _per_channel(gamma, ndim, axis)
        dx = None
        if need_dx:
            m = x_hat.size // x_hat.shape[axis]
            # dy/dx through x itself, through mu and through sigma^2 (module docstring)
            sum_g = _per_channel(_reduce(g, axis), ndim, axis)
            sum_gx = _per_channel(_reduce(g * x_hat, axis), ndim, axis)
            dx = (g * m - sum_g - x_hat * sum_gx) * _per_channel(inv_std / m, ndim, axis)
        dgamma = _reduce(grad_output * x_hat, axis) if need_dgamma else None
        dbeta = _reduce(grad_output, axis) if need_dbeta else None
        return dx, dgamma, dbeta


class BatchNormInference(Function):
    """y = gamma * (x - moving_mean) / sqrt(moving_variance + epsilon) + beta, the statistics
    constants"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, gamma: np.ndarray | None, beta: np.ndarray | None, *,
                mean: np.ndarray, variance: np.ndarray, axis: int,
                epsilon: float) -> np.ndarray:
        inv_std = 1 / np.sqrt(variance + x.dtype.type(epsilon))
        x_hat = (x - _per_channel(mean, x.ndim, axis)) * _per_channel(inv_std, x.ndim, axis)
        y = x_hat if gamma is None else x_hat * _per_channel(gamma, x.ndim, axis)
        if beta is not None:
            y = y + _per_channel(beta, x.ndim, axis)
        ctx.axis = axis
        ctx.save_for_backward(x_hat, inv_std, gamma)
        return y

    @staticmethod
    def backward(ctx: Any, grad_output: np.ndarray) -> tuple[Any, ...]:
        x_hat, inv_std, gamma = ctx.saved_tensors
        axis, ndim = ctx.axis, x_hat.ndim
        need_dx, need_dgamma, need_dbeta = ctx.needs_input_grad
        scale = inv_std if gamma is None else gamma * inv_std
        dx = grad_output * _per_channel(scale, ndim, axis) if need_dx else None  # dy/dx = gamma/std
        dgamma = _reduce(grad_output * x_hat, axis) if need_dgamma else None
        dbeta = _reduce(grad_output, axis) if need_dbeta else None
        return dx, dgamma, dbeta


def batch_normalization(x: Any, gamma: Any, beta: Any, moving_mean: Any, moving_variance: Any,
                        *, training: bool = False, momentum: float = 0.99,
                        epsilon: float = 1e-3, axis: int = -1) -> Tensor:
    """Batch normalisation of x along `axis` (the formulas in the module docstring).

    Args:
        x: a Tensor or array; `x.shape[axis]` channels.
        gamma, beta: `(channels,)` Tensors or arrays, or None (no scale / no offset).
        moving_mean, moving_variance: `(channels,)` arrays or Tensors. In training they are
            updated in place with the batch's statistics; at inference they normalise x.
        training: True uses (and differentiates through) the batch's own statistics.
        momentum: the moving averages' decay, in [0, 1].
        epsilon: added to the variance, > 0.
        axis: the channel axis (negative counts from the end).

    Returns:
        A Tensor of x's shape.

    Raises:
        ValueError: naming the argument, what was expected and what came.
    """
    x_shape = shape_of(x, "batch_normalization", "x")
    if not isinstance(axis, (int, np.integer)) or not -len(x_shape) <= axis < len(x_shape):
        raise ValueError(f"batch_normalization: invalid value for argument `axis`: expected an "
                         f"axis of x (x.shape={x_shape}). Received: axis={axis!r}")
    axis = int(axis) % len(x_shape)
    channels = x_shape[axis]
    named = {"gamma": gamma, "beta": beta, "moving_mean": moving_mean,
             "moving_variance": moving_variance}
    for name, value in named.items():
        if value is not None and shape_of(value, "batch_normalization", name) != (channels,):
            raise ValueError(f"batch_normalization: expected `{name}` of shape ({channels},) for "
                             f"x.shape={x_shape} and axis={axis}, got "
                             f"{shape_of(value, 'batch_normalization', name)}")
    if not 0 <= momentum <= 1:
        raise ValueError(f"batch_normalization: invalid value for argument `momentum`: expected "
                         f"a number in [0, 1]. Received: momentum={momentum!r}")
    if not epsilon > 0:
        raise ValueError(f"batch_normalization: invalid value for argument `epsilon`: expected "
                         f"a positive number. Received: epsilon={epsilon!r}")
    mm = moving_mean.data if isinstance(moving_mean, Tensor) else moving_mean
    mv = moving_variance.data if isinstance(moving_variance, Tensor) else moving_variance
    if not training:
        return BatchNormInference.apply(x, gamma, beta, mean=np.asarray(mm),
                                        variance=np.asarray(mv), axis=axis,
                                        epsilon=float(epsilon))
    data = x.data if isinstance(x, Tensor) else np.asarray(x)
    mean, variance = moments(data, axis)
    update_moving_statistics(mm, mv, mean, variance, momentum)
    return BatchNormTraining.apply(x, gamma, beta, mean=mean, variance=variance, axis=axis,
                                   epsilon=float(epsilon))


def update_moving_statistics(moving_mean: np.ndarray, moving_variance: np.ndarray,
                             mean: np.ndarray, variance: np.ndarray, momentum: float) -> None:
    """moving <- momentum * moving + (1 - momentum) * batch, in place (Keras 3's update)."""
    moving_mean[...] = moving_mean * momentum + mean * (1 - momentum)
    moving_variance[...] = moving_variance * momentum + variance * (1 - momentum)
