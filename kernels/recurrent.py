"""BLAS settings for the step loops of GRU and LSTM (tinyvid/nn/recurrent.py).

A recurrent layer's steps are many small matrix products, one per step and direction: for a GRU
of 64 units on a batch of 32, `(32, 64) @ (64, 192)`, about 0.8 MFLOP. OpenBLAS splits a product
of that size between its threads, which then wait for each other by spinning; on a loaded
machine a wait can stall for milliseconds (kernels/cores.py tells the same story for the dense
layer). Such products are faster on one thread anyway, so the loops run with BLAS on one thread:

    with one_blas_thread():
        for t in range(steps):
            rec = h @ u          # BLAS, single-threaded
            ...

There is no Numba loop here: the work of a step is those products (BLAS) plus about fifteen
elementwise NumPy operations on `(batch, units)` arrays (docs/performance.md, "Recurrent
layers", has the figures).
"""

import contextlib
from collections.abc import Iterator

from .cores import _blas_controller


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the block with BLAS limited to one thread (when threadpoolctl can set it), then give
    BLAS back its previous thread count."""
    blas = _blas_controller()
    if blas is None:
        yield
        return
    with blas.limit(limits=1):
        yield
