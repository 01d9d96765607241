"""The ops as plain functions of tensors (PyTorch's `torch.nn.functional`): softmax,
log_softmax, conv2d, max_pool2d, avg_pool2d, dense.

The public face of tinyvid.nn: each op's Function, function and argument checks live in one file
of tinyvid/nn/.
"""

from tinyvid.nn import *  # noqa: F403
from tinyvid.nn import __all__  # noqa: F401
