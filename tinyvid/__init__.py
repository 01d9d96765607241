"""tinyvid: deep learning from scratch on NumPy and Numba, for classifying video.

Read the package in the order data flows through it:

    video.py                   video file -> frames            read_video
    datasets.py                frames -> batches               VideoFolder, FrameBatches
    tensor.py, ops.py          tensors and autograd            Tensor, Function, backward()
    kernels/, nn_ops.py        Numba conv, pooling, dense      conv2d, max_pool2d, dense
    functional.py              the ops as plain functions      softmax, log_softmax, conv2d
    layers/, models.py         model forward                   Conv2D, Dense, Sequential
    losses.py                  the loss                        mean_squared_error, ...crossentropy
    optimizers.py              the step                        GD, SGD, Adam
    callbacks.py, saving.py    around training                 EarlyStopping, save_weights
"""

# Video in: files -> frames -> batches
from tinyvid import datasets, video
from tinyvid.video import VideoReadError, read_video

# The engine: tensors, ops and the backward pass
from tinyvid.tensor import Function, Tensor, is_grad_enabled, no_grad
from tinyvid import functional, ops

# Checking and debugging gradients
from tinyvid.gradcheck import GradcheckError, gradcheck
from tinyvid import debug

# The Keras-style model: layers -> forward -> loss -> backward -> optimizer step
from tinyvid import activations, callbacks, initializers, layers, losses, metrics, models, optimizers, utils

__version__ = "0.1.0"

__all__ = [
    "video", "datasets", "read_video", "VideoReadError",
    "Tensor", "Function", "no_grad", "is_grad_enabled", "ops", "functional",
    "gradcheck", "GradcheckError", "debug",
    "activations", "initializers", "layers", "models", "losses", "optimizers", "metrics",
    "callbacks", "utils",
]
