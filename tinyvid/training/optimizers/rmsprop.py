"""RMSprop (Hinton): divide each step by a running root mean square of the gradient."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinyvid.kernels.cores import PARALLEL_LAUNCH
from tinyvid.kernels.optim import rmsprop_update
from tinyvid.training.optimizers.base import Optimizer, is_real


class RMSprop(Optimizer):
    """RMSprop, as Keras 3 updates it. With g = grad J(theta_t) and v (and m, a) starting at 0:

        v_t = \\rho v_{t-1} + (1 - \\rho) g^2                   running mean of g^2
        a_t = \\rho a_{t-1} + (1 - \\rho) g                     (centered=True only)
        d_t = \\sqrt{v_t + \\epsilon}        or  \\sqrt{v_t - a_t^2 + \\epsilon}  (centered)
        \\Delta_t = \\alpha g / d_t
        \\theta_{t+1} = \\theta_t - \\Delta_t                     (momentum = 0)
        m_t = \\mu m_{t-1} + \\Delta_t,  \\theta_{t+1} = \\theta_t - m_t   (momentum mu > 0)

    Note epsilon's place: inside the square root (Keras's form; PyTorch adds it outside).
    The update runs as one fused Numba loop (kernels/optim.py).

    Args:
        learning_rate (or lr): alpha. Default 0.001.
        rho: the running mean's decay rate, in [0, 1). Default 0.9.
        momentum: mu in [0, 1]. Default 0.
        epsilon: Default 1e-7.
        centered: divide by an estimate of the gradient's variance instead of its second moment.
        **kwargs: weight_decay, clipnorm, clipvalue, global_clipnorm, name (see Optimizer).
    """

    default_learning_rate = 0.001

    def __init__(self, learning_rate: Any = None, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False, lr: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(learning_rate, lr=lr, **kwargs)
        if not is_real(rho) or not 0 <= rho < 1:
            raise ValueError(f"Invalid rho value: {rho}")
        if not is_real(momentum) or not 0 <= momentum <= 1:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not is_real(epsilon) or not epsilon >= 0:
            raise ValueError(f"Invalid epsilon value: {epsilon}")
        self.rho, self.momentum, self.epsilon = float(rho), float(momentum), float(epsilon)
        self.centered = bool(centered)

    def build_state(self, weights: list[Any]) -> None:
        # Keras's names and order: all velocities, then all momentums, then all averages
        self.add_state(weights, ["velocity"])
        if self.momentum > 0:
            self.add_state(weights, ["momentum"])
        if self.centered:
            self.add_state(weights, ["average_gradient"])

    def update_step(self, g: np.ndarray, theta: np.ndarray, weight: Any, alpha: float) -> None:
        (v,) = self.state(weight, "velocity")
        # without momentum or centering the kernel is given v itself for m and a: never touched
        m = self.state(weight, "momentum")[0] if self.momentum > 0 else v
        a = self.state(weight, "average_gradient")[0] if self.centered else v
        f = theta.dtype.type
        g = np.ascontiguousarray(g)
        with PARALLEL_LAUNCH:  # a parallel kernel: one launch at a time (see kernels/cores.py)
            rmsprop_update(theta.reshape(-1), g.reshape(-1), v.reshape(-1), m.reshape(-1),
                           a.reshape(-1), f(self.rho), f(1 - self.rho), f(self.momentum), f(self.epsilon),
                           f(alpha), self.momentum > 0, self.centered)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}
