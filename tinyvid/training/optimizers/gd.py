"""GD: gradient descent on the whole training set (the source document, section 3.3.1)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinyvid.training.optimizers.base import Optimizer


class GD(Optimizer):
    """Gradient descent (the document, section 3.3.1), on the whole training set at once:

        \\theta_{t+1} = \\theta_t - \\alpha \\nabla J(\\theta_t)

    where J is the loss over all the training samples. `fit` with GD therefore uses one batch
    holding the whole training set, and makes one step per epoch. (A data source that streams
    its own batches keeps them: GD then steps once per batch, like SGD without shuffling.)
    Not a Keras optimizer: Keras's SGD on one full batch does the same.

    Args:
        learning_rate (or lr): alpha. Default 0.01.
        **kwargs: weight_decay, clipnorm, clipvalue, global_clipnorm, name (see Optimizer).
    """

    full_batch = True

    def __init__(self, learning_rate: Any = None, lr: Any = None, **kwargs: Any) -> None:
        super().__init__(learning_rate, lr=lr, **kwargs)

    def update_step(self, g: np.ndarray, theta: np.ndarray, weight: Any, alpha: float) -> None:
        step = np.multiply(g, theta.dtype.type(alpha), out=self.scratch(theta))
        theta -= step  # theta <- theta - alpha * grad J(theta)
