"""Dense (fully connected) layer: y = x @ w + b for x of any leading shape.

There is no Numba loop here, on purpose: every multiply-add of a dense layer is a matrix product,
and BLAS (numpy's `@`, OpenBLAS sgemm / dgemm) does it faster than any loop we could write.
The loop nest BLAS runs, for x flattened to `(rows, in)`, rows = the product of leading axes:

    for r in range(rows):                 # forward:   y  = x @ w + b
        for o in range(out):
            y[r, o] = b[o] + sum(x[r, i] * w[i, o] for i in range(in))
    dx = dy @ w.T                         # (rows, in)
    dw = x.T @ dy                         # (in, out): summed over rows
    db = dy summed over rows              # (out,)

reference.py writes the same with np.einsum. Shapes: x `(..., in)`, w `(in, out)`, b `(out,)`,
y `(..., out)`.

Big products are split along the `in` axis into one share per core (kernels/cores.py), each a
single-threaded BLAS call in its own thread: forward adds the shares' partial products, and
backward gives each share its own rows of dw and columns of dx. For the document's model's
(32, 230400) @ (230400, 64) this is what keeps a loaded machine from stalling it: OpenBLAS's own
threads wait for each other by spinning, and stall when another program takes a core
(docs/performance.md has the figures).

    y  = x[:, :half] @ w[:half] + x[:, half:] @ w[half:] + b        (two cores: two shares)
    dw[:half] = x[:, :half].T @ dy           dx[:, :half] = dy @ w[:half].T     (and so on)
"""

import numpy as np

from .cores import bounds, num_parts, run_parts
from .geometry import float_arrays


def dense_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """y = x @ w + b.

    Args:
        x: `(..., in)`, float32 or float64.
        w: `(in, out)`.
        b: `(out,)` or None.

    Returns:
        y `(..., out)`.
    """
    x, w, b = float_arrays("dense", x, w, b)
    x2 = x.reshape(-1, w.shape[0])
    shares = _shares(x2.shape[0], *w.shape)
    partial = run_parts(lambda p: x2[:, slice(*shares[p])] @ w[slice(*shares[p])],  # BLAS
                        len(shares))
    y = partial[0]
    for more in partial[1:]:
        y += more
    if b is not None:
        y += b
    return y.reshape(x.shape[:-1] + (w.shape[1],))


def dense_backward(dy: np.ndarray, x: np.ndarray, w: np.ndarray, *, need_dx: bool = True,
                   need_dw: bool = True, need_db: bool = True
                   ) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Gradients of y = x @ w + b.

    Args:
        dy: `(..., out)`, the gradient of the loss with respect to y.
        x, w: as given to `dense_forward`.
        need_dx, need_dw, need_db: skip the gradients nobody needs (None is returned).

    Returns:
        `(dx, dw, db)` of shapes `(..., in)`, `(in, out)`, `(out,)`; None for those not needed.
    """
    x, w, dy = float_arrays("dense_backward", x, w, dy)
    x2 = x.reshape(-1, w.shape[0])
    dy2 = dy.reshape(-1, w.shape[1])
    dx = np.empty_like(x2) if need_dx else None
    dw = np.empty_like(w) if need_dw else None
    n_in, n_out = w.shape
    shares = _shares(x2.shape[0], n_in, n_out, passes=int(need_dx) + int(need_dw))

    def share(p):  # rows lo .. hi-1 of w and dw, columns lo .. hi-1 of x and dx
        part = slice(*shares[p])
        if need_dx:
            np.matmul(dy2, w[part].T, out=dx[:, part])  # BLAS
        if need_dw:
            np.matmul(x2[:, part].T, dy2, out=dw[part])  # BLAS

    run_parts(share, len(shares))
    db = dy2.sum(axis=0, dtype=np.float64).astype(dy.dtype) if need_db else None
    return (None if dx is None else dx.reshape(x.shape)), dw, db


def _shares(rows: int, n_in: int, n_out: int, passes: int = 1) -> list[tuple[int, int]]:
    """One (lo, hi) range of the `in` axis per core, or a single one for small products."""
    return bounds(n_in, num_parts(passes * 2 * rows * n_in * n_out, n_in))
