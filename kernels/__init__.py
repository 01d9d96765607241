"""Numba kernels: plain-Python loops with jitted aliases (installed as tinyvid.kernels).

Kernels take and return NumPy arrays, never Tensors; tinyvid/nn/ wraps them as
differentiable Functions. Layout is channels-last, as in Keras: activations
`(batch, height, width, channels)`, conv kernels `(kh, kw, c_in, c_out)`, dense kernels `(in, out)`.

Read them in this order:

    geometry.py    output sizes and Keras 'valid' / 'same' padding, argument checks
    reference.py   slow, obviously correct NumPy versions of everything below
    cores.py       big work split into one share per core, run side by side in threads
    memory.py      why freed arrays are kept for the next training step (page faults)
    process.py     the two process-wide settings training asks for, applied only when asked
    dense.py       y = x @ w + b: all BLAS, no loop of our own
    pool.py        max and average pooling: plain loops (numba's prange spreads them)
    conv.py        conv2d as im2col (a loop) + a matrix product (BLAS), a share per core
    optim.py       Adam's update as one loop over the weights

How to step into a kernel. Each loop is written once, as a plain function, and jitted on the next
line under a second name:

    def _im2col(x, ...):            # plain Python: call it, test it, put a breakpoint in it
        ...
    im2col = njit(nogil=True, cache=True)(_im2col)        # the fast one the drivers call

Three ways in, from cheapest to most complete:

    1. Call the plain function yourself: `_im2col(x, ...)` (a `prange` in a loop kernel is a
       plain range there).
    2. Pass `jit=False` to a driver: `conv2d_forward(x, w, jit=False)` runs the plain loops,
       in this thread.
    3. Run the whole program with NUMBA_DISABLE_JIT=1 in the environment (set before Python
       starts): every njit is then a no-op, so `python -m pdb` or your IDE steps into every
       kernel, and the numbers are the same as with the JIT.

Compiled code is cached next to the source (`kernels/__pycache__`, `cache=True`), so only the
first process after an edit pays the compile time; benchmarks/bench_jit.py measures it.
"""

# Importing the kernels changes nothing process-wide: the two settings that speed up training
# (numba's threading layer, malloc keeping freed memory) are applied by process.py's
# tune_for_training(), which fit, the CLI and the benchmarks call when training starts.
from .geometry import Geometry, conv_geometry, pool_geometry, window_geometry  # noqa: I001
from .dense import dense_backward, dense_forward
from .pool import (
    avg_pool2d_backward,
    avg_pool2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
)
from .conv import col2im, conv2d_backward, conv2d_forward, im2col
from .process import set_training_tuning, training_tuning_enabled, tune_for_training

__all__ = [
    "Geometry", "window_geometry", "conv_geometry", "pool_geometry",
    "dense_forward", "dense_backward",
    "max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward",
    "im2col", "col2im", "conv2d_forward", "conv2d_backward",
    "tune_for_training", "set_training_tuning", "training_tuning_enabled",
]
