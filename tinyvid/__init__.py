"""tinyvid: deep learning from scratch on NumPy and Numba, for classifying video.

Read the package in the order data flows through it:

    video.py, datasets.py     video file -> frames -> batches
    tensor.py, ops.py         tensors and the autograd engine (one Function class per op)
    kernels/, nn_ops.py       Numba conv2d, pooling and dense kernels, and their Functions
    functional.py             softmax, log-softmax, and the kernel ops as plain functions
    layers.py, models.py      Keras-style layers and the Sequential model (forward)
    losses.py                 MSE and cross-entropy (the loss)
    optimizers.py             gradient descent, SGD, Adam (the step)
"""

# The engine: tensors, ops and the backward pass
from tinyvid.tensor import Function, Tensor, is_grad_enabled, no_grad
from tinyvid import ops, functional

# Checking and debugging gradients
from tinyvid.gradcheck import GradcheckError, gradcheck
from tinyvid import debug

__version__ = "0.1.0"

__all__ = [
    "Tensor", "Function", "no_grad", "is_grad_enabled", "ops", "functional",
    "gradcheck", "GradcheckError", "debug",
]
