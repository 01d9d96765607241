"""Adam, and AdamW (Adam with decoupled weight decay), as Keras 3 updates them."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinyvid.kernels.cores import PARALLEL_LAUNCH
from tinyvid.kernels.optim import adam_update
from tinyvid.training.optimizers.base import Optimizer, is_real


class Adam(Optimizer):
    """Adam (Kingma and Ba), exactly as Keras updates it. With g = grad J(theta_t) on the batch
    and m, v starting at 0:

        m_t = m_{t-1} + (1 - \\beta_1) (g - m_{t-1})             running mean of g
        v_t = v_{t-1} + (1 - \\beta_2) (g^2 - v_{t-1})           running mean of g^2
        \\alpha_t = \\alpha \\sqrt{1 - \\beta_2^t} / (1 - \\beta_1^t)      bias correction
        \\theta_{t+1} = \\theta_t - \\alpha_t m_t / (\\sqrt{v_t} + \\epsilon)

    Note epsilon's place: added to sqrt(v_t) after the bias correction moved into alpha_t
    (Keras's form), which differs slightly from the paper's sqrt(v_hat) + epsilon. The update
    runs as one fused Numba loop (kernels/optim.py): m, v and theta read and written once.

    Args:
        learning_rate (or lr): alpha. Default 0.001.
        beta_1, beta_2: decay rates of the two running means, in [0, 1). Defaults 0.9, 0.999.
        epsilon: keeps the division finite. Default 1e-7 (Keras's; PyTorch uses 1e-8).
        amsgrad: Keras's key; only False (tinyvid has no AMSGrad).
        **kwargs: weight_decay, clipnorm, clipvalue, global_clipnorm, name (see Optimizer).
    """

    default_learning_rate = 0.001

    def __init__(self, learning_rate: Any = None, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False, lr: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(learning_rate, lr=lr, **kwargs)
        for label, value in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not is_real(value) or not 0 <= value < 1:
                raise ValueError(f"Invalid {label} value: {value}")
        if not is_real(epsilon) or not epsilon >= 0:
            raise ValueError(f"Invalid epsilon value: {epsilon}")
        if amsgrad:
            raise ValueError(f"{type(self).__name__}: tinyvid does not support `amsgrad`; it must "
                             f"stay False. Received: amsgrad={amsgrad!r}")
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def build_state(self, weights: list[Any]) -> None:
        self.add_state(weights, ["momentum", "velocity"])  # m and v, Keras's names and order

    def update_step(self, g: np.ndarray, theta: np.ndarray, weight: Any, alpha: float) -> None:
        m, v = self.state(weight, "momentum", "velocity")
        f = theta.dtype.type  # the scalars in the weights' dtype, as Keras computes them
        t = f(self.iterations + 1)
        beta_1_t, beta_2_t = f(self.beta_1) ** t, f(self.beta_2) ** t
        alpha_t = f(alpha) * np.sqrt(f(1) - beta_2_t) / (f(1) - beta_1_t)
        g = np.ascontiguousarray(g)
        with PARALLEL_LAUNCH:  # a parallel kernel: one launch at a time (see kernels/cores.py)
            adam_update(theta.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1),
                        f(1 - self.beta_1), f(1 - self.beta_2), f(alpha_t), f(self.epsilon))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": False}


class AdamW(Adam):
    """AdamW (Loshchilov and Hutter): Adam with decoupled weight decay. Before Adam's update,

        \\theta_t <- \\theta_t - \\alpha \\cdot wd \\cdot \\theta_t

    and then Adam's step on theta_t (see Adam), with the gradient of J alone: the decay does
    not pass through m and v, unlike an L2 term added to the loss.

    Args:
        learning_rate (or lr): alpha. Default 0.001.
        weight_decay: wd. Default 0.004 (Keras's); must be a number.
        beta_1, beta_2, epsilon: as in Adam.
        **kwargs: clipnorm, clipvalue, global_clipnorm, name (see Optimizer).
    """

    def __init__(self, learning_rate: Any = None, weight_decay: float | None = 0.004,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7,
                 amsgrad: bool = False, lr: Any = None, **kwargs: Any) -> None:
        if weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: weight_decay=None")
        super().__init__(learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         amsgrad=amsgrad, lr=lr, weight_decay=weight_decay, **kwargs)
