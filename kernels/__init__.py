"""Numba kernels: plain-Python loops with jitted aliases (installed as tinyvid.kernels).

Kernels take and return NumPy arrays, never Tensors; tinyvid/nn_ops.py wraps them as
differentiable Functions. Layout is channels-last, as in Keras: activations
`(batch, height, width, channels)`, conv kernels `(kh, kw, c_in, c_out)`, dense kernels `(in, out)`.

Read them in this order:

    geometry.py    output sizes and Keras 'valid' / 'same' padding, argument checks
    reference.py   slow, obviously correct NumPy versions of everything below
    dense.py       y = x @ w + b: all BLAS, no loop of our own
    pool.py        max and average pooling: plain loops
    conv.py        conv2d as im2col (a loop) + a matrix product (BLAS)

How to step into a kernel. Each loop is written once, as a plain function, and jitted on the next
line under a second name:

    def _im2col(x, ...):            # plain Python: call it, test it, put a breakpoint in it
        ...
    im2col = njit(parallel=True, cache=True)(_im2col)     # the fast one the drivers call

Three ways in, from cheapest to most complete:

    1. Call the plain function yourself: `_im2col(x, ...)` (prange is a plain range there).
    2. Pass `jit=False` to a driver: `conv2d_forward(x, w, jit=False)` runs the plain loops.
    3. Run the whole program with NUMBA_DISABLE_JIT=1 in the environment (set before Python
       starts): every njit is then a no-op, so `python -m pdb` or your IDE steps into every
       kernel, and the numbers are the same as with the JIT.

Compiled code is cached next to the source (`kernels/__pycache__`, `cache=True`), so only the
first process after an edit pays the compile time; benchmarks/bench_kernels.py measures it.
"""

import os

# numba's parallel loops run on OpenMP threads, and BLAS (called between them) on OpenBLAS's.
# On a 2-core machine OpenMP's default spin-wait after each loop keeps both cores busy doing
# nothing while BLAS wants them: measured, an im2col + matmul hand-over took ~8 ms instead of
# ~0.6 ms. PASSIVE makes idle OpenMP threads sleep. setdefault keeps a value you set yourself;
# it takes effect only if numba's threads have not started yet in this process.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .geometry import Geometry, conv_geometry, pool_geometry, window_geometry  # noqa: E402
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
