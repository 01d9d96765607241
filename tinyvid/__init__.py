"""tinyvid: deep learning from scratch on NumPy and Numba, for classifying video.

Read the package in the order data flows through it; each folder is one step:

    data/        video file -> frames -> batches       read_video, VideoFolder, FrameBatches
    autograd/    tensors and the backward walk         Tensor, Function, backward(), gradcheck
    nn/          the differentiable ops of networks    conv2d, max_pool2d, dense, softmax
    kernels/     their Numba loops (tinyvid.kernels)   im2col + BLAS, pooling, Adam's update
    layers/      Keras-style layers                    Conv2D, Dense, Flatten, ...
    models/      layers put together, and trained      Model, Sequential, Input, load_model
    training/    around each step                      losses, optimizers, metrics, callbacks
    distribution/  the step on several MPI ranks       DataParallel, set_distribution
    cli.py       the `tinyvid` command                 demo, train, predict

The modules beside this file (losses.py, optimizers.py, datasets.py, functional.py, ...) are the
public faces Keras and PyTorch users look for; each says where its code lives.

Importing tinyvid changes nothing process-wide. `fit` asks for two settings that speed up
training (tinyvid.kernels.tune_for_training) when it starts; see kernels/process.py.
"""

import importlib as _importlib
import sys as _sys

# Video in: files -> frames -> batches
from tinyvid import datasets
from tinyvid.data.video import VideoReadError, read_video

# The engine: tensors, ops and the backward pass
from tinyvid.autograd.function import Function
from tinyvid.autograd.grad_mode import is_grad_enabled, no_grad
from tinyvid.autograd.tensor import Tensor
from tinyvid import functional, nn

# Checking and debugging gradients
from tinyvid.autograd.gradcheck import GradcheckError, gradcheck
from tinyvid import debug

# The Keras-style model: layers -> forward -> loss -> backward -> optimizer step
from tinyvid import activations, initializers, layers, models, losses, optimizers, metrics
from tinyvid import callbacks, utils
from tinyvid.layers.core import Input
from tinyvid.models.model import Model
from tinyvid.models.sequential import Sequential

# Training on several processes or machines (MPI, imported only when a DataParallel is made)
from tinyvid import distribution

__version__ = "0.1.0"

__all__ = [
    "datasets", "read_video", "VideoReadError",
    "Tensor", "Function", "no_grad", "is_grad_enabled", "nn", "functional",
    "gradcheck", "GradcheckError", "debug",
    "activations", "initializers", "layers", "models", "losses", "optimizers", "metrics",
    "callbacks", "utils", "Input", "Model", "Sequential", "distribution",
]

# Modules that moved into the folders above keep their old import paths (`import tinyvid.tensor`,
# `from tinyvid.video import read_video`): each old name is the very module at its new home.
_MOVED = {
    "tinyvid.tensor": "tinyvid.autograd.tensor",
    "tinyvid.ops": "tinyvid.autograd.ops",
    "tinyvid.gradcheck": "tinyvid.autograd.gradcheck",
    "tinyvid.nn_ops": "tinyvid.nn",
    "tinyvid.video": "tinyvid.data.video",
    "tinyvid.moving_shapes": "tinyvid.data.moving_shapes",
    "tinyvid.data_adapters": "tinyvid.data.adapters",
    "tinyvid.saving": "tinyvid.training.saving",
    "tinyvid.rng": "tinyvid.training.rng",
}
for _old, _new in _MOVED.items():
    _sys.modules.setdefault(_old, _importlib.import_module(_new))
    if _old != "tinyvid.gradcheck":  # tinyvid.gradcheck is the function
        globals()[_old.rpartition(".")[2]] = _sys.modules[_old]
