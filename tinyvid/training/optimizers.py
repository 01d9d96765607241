"""Optimizers: the step that changes the weights theta to lower the loss J (the document, 3.3).

Sorted in order of increasing complexity, as the first tinygrad sorted its optim.py:

    GD     theta <- theta - alpha * grad J(theta)            on the whole training set (3.3.1)
    SGD    theta <- theta - alpha * grad J(theta; batch)     on random mini-batches (3.3.2),
           optionally with momentum
    Adam   SGD with per-weight step sizes from running means of g and g^2

The model calls `optimizer.apply_gradients(zip(grads, weights))` once per batch, after
`loss.backward()` has put grad J(theta) in each weight's `.grad`. Every update happens in place on
the weights' NumPy arrays (float32 stays float32), with no temporary array the size of the
weights beyond one scratch buffer per optimizer; Adam runs as one fused Numba loop
(kernels/optim.py), because the document's model has a 14.7M-weight kernel and a chain of NumPy
expressions would make ten passes over it per step.

Every optimizer takes `learning_rate=` (alpha), or `lr=`, the older name the source document
uses (Keras 3 itself no longer accepts `lr`).
"""

import numbers

import numpy as np

from tinyvid.kernels.cores import PARALLEL_LAUNCH
from tinyvid.kernels.optim import adam_update

__all__ = [
    "Optimizer", "GD", "SGD", "Adam", "ALL", "get",
]


class Optimizer:
    """Base class: the learning rate, the step counter, the per-weight state and the scratch buffer.

    Args:
        learning_rate: alpha, the step size (>= 0); None means the optimizer's default
            (`default_learning_rate`: 0.01 for GD and SGD, 0.001 for Adam, as in Keras).
        lr: the same, under its older name; give one of the two.

    Attributes:
        iterations: how many steps have been applied (t in the formulas is iterations + 1).
    """

    full_batch = False  # GD sets True: fit then uses the whole training set as one batch
    default_learning_rate = 0.01

    def __init__(self, learning_rate=None, lr=None, name=None):
        if learning_rate is not None and lr is not None:
            raise ValueError("Pass either learning_rate= or lr= (its older name), not both")
        if learning_rate is None:
            learning_rate = self.default_learning_rate if lr is None else lr
        if not _is_real(learning_rate) or not learning_rate >= 0:
            raise ValueError(f"Invalid learning rate: {learning_rate}")
        self.learning_rate = float(learning_rate)
        self.name = name or type(self).__name__.lower()
        self.iterations = 0
        self._state = {}  # id(weight) -> that weight's arrays (momentum, m, v, ...)
        self._scratch = {}  # dtype -> one flat buffer, as large as the largest weight

    @property
    def lr(self):
        return self.learning_rate

    def apply_gradients(self, grads_and_vars):
        """One step: update every weight with its gradient (weights whose gradient is None are
        left alone, as when they did not take part in the loss).

        Args:
            grads_and_vars: pairs (grad, weight): grad a NumPy array of the weight's shape,
                weight a Tensor whose `.data` is changed in place.
        """
        for grad, weight in grads_and_vars:
            if grad is None:
                continue
            theta = weight.data
            if grad.shape != theta.shape:
                raise ValueError(f"{type(self).__name__}: gradient of shape {grad.shape} for a weight "
                                 f"of shape {theta.shape}")
            if not theta.flags.c_contiguous:
                raise ValueError(f"{type(self).__name__}: weights must be C-contiguous arrays to be "
                                 f"updated in place")
            self.update_step(np.asarray(grad, dtype=theta.dtype), theta, weight)
        self.iterations += 1

    def update_step(self, g, theta, weight):
        """Update `theta` (the weight's array) in place from its gradient `g`."""
        raise NotImplementedError

    def state(self, weight, *names):
        """Arrays of zeros shaped like the weight, one per name, created on first use."""
        key = id(weight)
        if key not in self._state:
            self._state[key] = (weight,) + tuple(np.zeros_like(weight.data) for _ in names)
        return self._state[key][1:]

    def scratch(self, theta):
        """A scratch array shaped like theta: a view into the one buffer of theta's dtype."""
        buffer = self._scratch.get(theta.dtype)
        if buffer is None or buffer.size < theta.size:
            buffer = self._scratch[theta.dtype] = np.empty(theta.size, dtype=theta.dtype)
        return buffer[:theta.size].reshape(theta.shape)

    def __repr__(self):
        return f"<{type(self).__name__} learning_rate={self.learning_rate}>"


class GD(Optimizer):
    """Gradient descent (the document, section 3.3.1), on the whole training set at once:

        \\theta_{t+1} = \\theta_t - \\alpha \\nabla J(\\theta_t)

    where J is the loss over all the training samples. `fit` with GD therefore uses one batch
    holding the whole training set, and makes one step per epoch. (A data source that streams
    its own batches keeps them: GD then steps once per batch, like SGD without shuffling.)

    Args:
        learning_rate (or lr): alpha. Default 0.01.
    """

    full_batch = True

    def update_step(self, g, theta, weight):
        step = np.multiply(g, theta.dtype.type(self.learning_rate), out=self.scratch(theta))
        theta -= step  # theta <- theta - alpha * grad J(theta)


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
    """

    def __init__(self, learning_rate=None, momentum=0.0, nesterov=False, lr=None, name=None):
        super().__init__(learning_rate, lr=lr, name=name)
        if not _is_real(momentum) or not 0 <= momentum <= 1:
            raise ValueError(f"Invalid momentum value: {momentum}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def update_step(self, g, theta, weight):
        alpha = theta.dtype.type(self.learning_rate)
        step = np.multiply(g, alpha, out=self.scratch(theta))  # alpha * grad J
        if self.momentum == 0:
            theta -= step
            return
        mu = theta.dtype.type(self.momentum)
        (velocity,) = self.state(weight, "velocity")
        velocity *= mu
        velocity -= step  # v <- mu v - alpha grad J
        if not self.nesterov:
            theta += velocity  # theta <- theta + v
            return
        theta -= step  # theta <- theta + mu v - alpha grad J, in two in-place passes
        theta += np.multiply(velocity, mu, out=step)


class Adam(Optimizer):
    """Adam (Kingma and Ba), exactly as Keras updates it. With g = grad J(theta_t) on the batch
    and m, v starting at 0:

        m_t = m_{t-1} + (1 - \\beta_1) (g - m_{t-1})             running mean of g
        v_t = v_{t-1} + (1 - \\beta_2) (g^2 - v_{t-1})           running mean of g^2
        \\alpha_t = \\alpha \\sqrt{1 - \\beta_2^t} / (1 - \\beta_1^t)      bias correction
        \\theta_{t+1} = \\theta_t - \\alpha_t m_t / (\\sqrt{v_t} + \\epsilon)

    Note epsilon's place: added to sqrt(v_t) after the bias correction moved into alpha_t
    (Keras's form), which differs slightly from the paper's sqrt(v_hat) + epsilon.

    Args:
        learning_rate (or lr): alpha. Default 0.001.
        beta_1, beta_2: decay rates of the two running means, in [0, 1). Defaults 0.9, 0.999.
        epsilon: keeps the division finite. Default 1e-7 (Keras's; PyTorch uses 1e-8).
    """

    default_learning_rate = 0.001

    def __init__(self, learning_rate=None, beta_1=0.9, beta_2=0.999, epsilon=1e-7, lr=None, name=None):
        super().__init__(learning_rate, lr=lr, name=name)
        for label, value in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not _is_real(value) or not 0 <= value < 1:
                raise ValueError(f"Invalid {label} value: {value}")
        if not _is_real(epsilon) or not epsilon >= 0:
            raise ValueError(f"Invalid epsilon value: {epsilon}")
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def update_step(self, g, theta, weight):
        m, v = self.state(weight, "m", "v")
        f = theta.dtype.type  # the scalars in the weights' dtype, as Keras computes them
        t = f(self.iterations + 1)
        beta_1_t, beta_2_t = f(self.beta_1) ** t, f(self.beta_2) ** t
        alpha_t = f(self.learning_rate) * np.sqrt(f(1) - beta_2_t) / (f(1) - beta_1_t)
        # One fused loop: m, v and theta each read and written once (see kernels/optim.py).
        g = np.ascontiguousarray(g)
        with PARALLEL_LAUNCH:  # a parallel kernel: one launch at a time (see kernels/cores.py)
            adam_update(theta.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1),
                        f(1 - self.beta_1), f(1 - self.beta_2), f(alpha_t), f(self.epsilon))


def _is_real(value):
    """A real number (int, float, NumPy scalar), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


ALL = {"gd": GD, "sgd": SGD, "adam": Adam}


def get(identifier):
    """An optimizer from a name ('adam', 'sgd', 'gd'; any case) or an Optimizer (returned as is).

    Raises:
        ValueError: for anything else, listing the names tinyvid knows.
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    if isinstance(identifier, str) and identifier.lower() in ALL:
        return ALL[identifier.lower()]()
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}. "
                     f"Known optimizers: {', '.join(sorted(ALL))}")
