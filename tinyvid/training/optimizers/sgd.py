"""SGD: a step on each random mini-batch (the source document, section 3.3.2), with momentum."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinyvid.training.optimizers.base import Optimizer, is_real


class SGD(Optimizer):
    """Stochastic gradient descent (the document, section 3.3.2): a step on each random batch,

        \\theta_{t+1} = \\theta_t - \\alpha \\nabla J(\\theta_t, i_t)

    where grad J(theta_t, i_t) is the gradient of the loss on the batch i_t.

    With momentum mu (Keras's formulation; velocity v starts at 0):

        v_{t+1} = \\mu v_t - \\alpha \\nabla J(\\theta_t, i_t)
        \\theta_{t+1} = \\theta_t + v_{t+1}                                   (momentum)
        \\theta_{t+1} = \\theta_t + \\mu v_{t+1} - \\alpha \\nabla J(\\theta_t, i_t)    (nesterov=True)

    Args:
        learning_rate (or lr): alpha. Default 0.01, as in Keras.
        momentum: mu in [0, 1]. Default 0 (plain SGD).
        nesterov: use Nesterov momentum.
        **kwargs: weight_decay, clipnorm, clipvalue, global_clipnorm, name (see Optimizer).
    """

    def __init__(self, learning_rate: Any = None, momentum: float = 0.0, nesterov: bool = False,
                 lr: Any = None, **kwargs: Any) -> None:
        super().__init__(learning_rate, lr=lr, **kwargs)
        if not is_real(momentum) or not 0 <= momentum <= 1:
            raise ValueError(f"Invalid momentum value: {momentum}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def build_state(self, weights: list[Any]) -> None:
        if self.momentum != 0:
            self.add_state(weights, ["momentum"])  # Keras keeps no state for plain SGD

    def update_step(self, g: np.ndarray, theta: np.ndarray, weight: Any, alpha: float) -> None:
        step = np.multiply(g, theta.dtype.type(alpha), out=self.scratch(theta))  # alpha grad J
        if self.momentum == 0:
            theta -= step
            return
        mu = theta.dtype.type(self.momentum)
        (velocity,) = self.state(weight, "momentum")
        velocity *= mu
        velocity -= step  # v <- mu v - alpha grad J
        if not self.nesterov:
            theta += velocity  # theta <- theta + v
            return
        theta -= step  # theta <- theta + mu v - alpha grad J, in two in-place passes
        theta += np.multiply(velocity, mu, out=step)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
