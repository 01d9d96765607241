"""Numba kernels: plain-Python loops with jitted aliases (installed as tinyvid.kernels).

Kernels take and return NumPy arrays, never Tensors; tinyvid/nn_ops.py wraps them as
differentiable Functions. Layout is channels-last, as in Keras: activations
`(batch, height, width, channels)`, conv kernels `(kh, kw, c_in, c_out)`, dense kernels `(in, out)`.

Read them in this order:

    geometry.py    output sizes and Keras 'valid' / 'same' padding, argument checks
    reference.py   slow, obviously correct NumPy versions of everything below
    cores.py       big work split into one share per core, run side by side in threads
    memory.py      why freed arrays are kept for the next training step (page faults)
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

import os

import numba

# numba's parallel loops (prange: pooling, Adam) and BLAS take turns on the same cores. Which
# threads numba's loops run on matters:
#   * the 'omp' layer (numba's default when an OpenMP library is found) runs them on libgomp's
#     pool. libgomp reads OMP_WAIT_POLICY once, when it is first loaded, and by default its idle
#     threads spin. PyTorch links the same libgomp, so after `import torch` they spin however
#     tinyvid sets the variable later, fighting OpenBLAS's threads for the 2 cores: measured, a
#     training step of the document's model took 680-1970 ms instead of ~140 ms, and one conv
#     forward 264 ms instead of 21.5 ms.
#   * the 'workqueue' layer (built into numba, always there) parks idle threads on a condition
#     variable: no spinning, whatever was imported first. Measured on the same step: 132-145 ms
#     with or without torch imported first (omp with OMP_WAIT_POLICY=PASSIVE: 148-158 ms).
# So tinyvid asks for workqueue, unless you chose a layer yourself (NUMBA_THREADING_LAYER). It
# takes effect only if no parallel numba code has run in this process yet. workqueue does not
# support parallel kernels launched from several Python threads at once; tinyvid launches them
# from one. benchmarks/ prints the layer in force (numba.threading_layer()).
if "NUMBA_THREADING_LAYER" not in os.environ:
    os.environ["NUMBA_THREADING_LAYER"] = "workqueue"  # numba re-reads the environment on compile
    numba.config.THREADING_LAYER = "workqueue"  # and this is what a cached kernel's launch reads

# Big arrays freed by one training step are kept for the next, not handed back to the operating
# system and faulted in afresh (glibc only; TINYVID_KEEP_FREED_MEMORY=0 turns it off): memory.py.
from .memory import keep_freed_memory  # noqa: E402

keep_freed_memory()

from .geometry import Geometry, conv_geometry, pool_geometry, window_geometry  # noqa: E402, I001
from .dense import dense_backward, dense_forward  # noqa: E402
from .pool import (  # noqa: E402
    avg_pool2d_backward,
    avg_pool2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
)
from .conv import col2im, conv2d_backward, conv2d_forward, im2col  # noqa: E402

__all__ = [
    "Geometry", "window_geometry", "conv_geometry", "pool_geometry",
    "dense_forward", "dense_backward",
    "max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward",
    "im2col", "col2im", "conv2d_forward", "conv2d_backward",
]
