"""2-D convolution, channels-last, as im2col + one matrix product per chunk of images.

Every loop kernel here is written twice over with one source: the plain Python function
(`_im2col`, `_col2im`) and its jitted alias (`im2col = njit(nogil=True, cache=True)(_im2col)`).
Call the plain one, or run anything with NUMBA_DISABLE_JIT=1, and the very same lines run in the
Python interpreter, where a debugger can step through them; the numbers are the same. The
drivers `conv2d_forward` / `conv2d_backward` take `jit=False` to use the plain kernels for one
call.

Shapes (Keras layout):
    x   (batch, height, width, c_in)         w   (kh, kw, c_in, c_out)        b  (c_out,)
    y   (batch, out_h, out_w, c_out)         out_h, out_w and the padding: see geometry.py

The algorithm. Output pixel (n, oh, ow) is a dot product of the window of x under it with the
kernel. im2col copies each window into one row of a matrix `cols`, so that the convolution is one
matrix product, done by BLAS (numpy's `@`, i.e. OpenBLAS sgemm / dgemm):

    cols[(n, oh, ow), (i, j, c)] = x[n, oh*sh - pad_top + i*dil_h, ow*sw - pad_left + j*dil_w, c]
                                   (0 where that falls in the padding)
    y    = cols @ w.reshape(kh*kw*c_in, c_out) + b        (n*out_h*out_w, c_out)   forward
    dw   = cols.T @ dy                                     (kh*kw*c_in, c_out)      backward
    db   = dy summed over (n, oh, ow)                      (c_out,)
    dcols = dy @ w.reshape(kh*kw*c_in, c_out).T            (n*out_h*out_w, kh*kw*c_in)
    dx   = col2im(dcols): each dcols entry added back to the x pixel it was copied from

BLAS does all the multiply-adds; the Numba loops only move memory (im2col, col2im). The batch
is split into one share of images per core (kernels/cores.py): each core runs im2col, the
products and col2im of its own images, in its own thread, with BLAS single-threaded.

Why this way (docs/performance.md has the measurements and what was tried and dropped):
  * Chunks of images: a chunk's columns (CHUNK_BYTES) stay in cache while BLAS reads them; the
    whole batch's columns would stream through memory twice.
  * The columns are recomputed in backward for big layers and kept from forward for small ones
    (`keep_cols=True`; tinyvid.nn.conv.Conv2D decides by size, KEEP_COLS_BYTES).
  * One buffer for cols and dcols in backward: dw reads cols, then dcols overwrites it.
  * col2im is a gather over rows of dx (each row (n, ih) of dx is written by one loop turn),
    so it could run in parallel without a race or an atomic add.
  * numba's `np.dot` inside njit needs SciPy; BLAS is called from Python through numpy instead,
    between the jitted loops.
  * One core's share of the images per thread (kernels/cores.py), rather than numba's prange
    for the loops and OpenBLAS's threads for the products, which would take turns on the cores
    at every chunk and stall while waiting for each other when another program takes a core.
  * fastmath stays off, so float64 gradient checks see exact IEEE arithmetic.
"""

from typing import Any

import numpy as np
from numba import njit

from .cores import bounds, num_parts, run_parts
from .geometry import conv_geometry, float_arrays

IntOrPair = int | tuple[int, int]  # strides, dilation: one int for both axes, or (height, width)
ThreeGrads = tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]  # dx, dw, db

CHUNK_BYTES = 4 * 1024 * 1024
"""Target size of the column buffer; a chunk is as many images as fit, at least one."""


def _im2col(x, n0, out_h, out_w, kh, kw, sh, sw, dil_h, dil_w, pad_top, pad_left, cols):
    """Copy the windows of images n0, n0+1, ... of x into the rows of cols.

    Loop nest (one row of cols per output pixel, one column per (tap, channel)):

        for r in range(n_chunk * out_h):             # (image, output row) pairs
            n, oh = n0 + r // out_h, r % out_h
            for ow in range(out_w):
                for i in range(kh):
                    for j in range(kw):
                        for c in range(c_in):
                            cols[r*out_w + ow, (i*kw + j)*c_in + c] = x[n, ih, iw, c] or 0

    Args:
        x: input `(batch, height, width, c_in)`.
        n0: first image of the chunk.
        out_h, out_w: output size.
        kh, kw, sh, sw, dil_h, dil_w: kernel size, strides, dilation.
        pad_top, pad_left: padding before the first row / column.
        cols: output buffer `(n_chunk * out_h * out_w, kh * kw * c_in)`, overwritten.

    Returns:
        cols.
    """
    _, h, w, c_in = x.shape
    n_chunk = cols.shape[0] // (out_h * out_w)
    for r in range(n_chunk * out_h):
        n = n0 + r // out_h
        oh = r % out_h
        for ow in range(out_w):
            row = r * out_w + ow
            for i in range(kh):
                ih = oh * sh - pad_top + i * dil_h
                for j in range(kw):
                    iw = ow * sw - pad_left + j * dil_w
                    base = (i * kw + j) * c_in
                    if 0 <= ih < h and 0 <= iw < w:
                        for c in range(c_in):
                            cols[row, base + c] = x[n, ih, iw, c]
                    else:
                        for c in range(c_in):
                            cols[row, base + c] = 0
    return cols


# nogil: the threads of kernels/cores.py run it side by side on different images
im2col = njit(nogil=True, cache=True)(_im2col)


def _col2im(dcols, n0, out_h, out_w, kh, kw, sh, sw, dil_h, dil_w, pad_top, pad_left, dx):
    """Add the rows of dcols back onto the pixels of dx they came from (the adjoint of im2col).

    Loop nest (a gather: each turn of the outer loop writes one row of dx, and only it):

        for r in range(n_chunk * height):            # (image, input row) pairs
            n, ih = n0 + r // height, r % height
            dx[n, ih] = 0
            for i in range(kh):                      # which output row oh reads row ih as tap i
                oh = (ih + pad_top - i*dil_h) / sh      # skip unless a whole number in range
                for ow in range(out_w):
                    for j in range(kw):
                        iw = ow*sw - pad_left + j*dil_w # skip if in the padding
                        for c in range(c_in):
                            dx[n, ih, iw, c] += dcols[(n - n0, oh, ow), (i*kw + j)*c_in + c]

    Args:
        dcols: `(n_chunk * out_h * out_w, kh * kw * c_in)`, the gradient of the columns.
        n0: first image of the chunk.
        out_h, out_w, kh, kw, sh, sw, dil_h, dil_w, pad_top, pad_left: as in `_im2col`.
        dx: `(batch, height, width, c_in)`; images n0 .. n0+n_chunk-1 are overwritten.

    Returns:
        dx.
    """
    _, h, w, c_in = dx.shape
    n_chunk = dcols.shape[0] // (out_h * out_w)
    for r in range(n_chunk * h):
        n_local = r // h
        n = n0 + n_local
        ih = r % h
        for iw in range(w):
            for c in range(c_in):
                dx[n, ih, iw, c] = 0
        for i in range(kh):
            t = ih + pad_top - i * dil_h
            if t < 0 or t % sh != 0 or t // sh >= out_h:
                continue
            oh = t // sh
            for ow in range(out_w):
                row = (n_local * out_h + oh) * out_w + ow
                for j in range(kw):
                    iw = ow * sw - pad_left + j * dil_w
                    if 0 <= iw < w:
                        base = (i * kw + j) * c_in
                        for c in range(c_in):
                            dx[n, ih, iw, c] += dcols[row, base + c]
    return dx


col2im = njit(nogil=True, cache=True)(_col2im)


def _chunk_images(chunk, rows_per_image, k, itemsize):
    """Images per chunk: the caller's choice, else as many as fit in CHUNK_BYTES (at least 1)."""
    if chunk is not None:
        return max(1, int(chunk))
    return max(1, CHUNK_BYTES // (rows_per_image * k * itemsize))


def conv2d_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None,
                   strides: IntOrPair = 1, padding: str = "valid", dilation_rate: IntOrPair = 1,
                   *, keep_cols: bool = False, chunk: int | None = None,
                   jit: bool = True) -> Any:
    """y = conv2d(x, w) + b, as im2col + BLAS, one chunk of images at a time, a share per core.

    Loop nest:

        for each core's share of the batch, side by side:      # kernels/cores.py, threads
            for n0 in range(lo, hi, chunk):                     # Python
                cols = im2col(x[n0 : n0 + chunk])               # Numba
                y[n0 : n0 + chunk] = cols @ w.reshape(-1, c_out) + b    # BLAS, one thread

    Args:
        x: `(batch, height, width, c_in)`, float32 or float64.
        w: `(kh, kw, c_in, c_out)`, same dtype.
        b: `(c_out,)` or None.
        strides, dilation_rate: an int or a pair `(along height, along width)`.
        padding: "valid" or "same" (Keras semantics, see geometry.py).
        keep_cols: also return the columns of the whole batch, to hand to `conv2d_backward`
            so that dw need not redo im2col (costs `batch*out_h*out_w*kh*kw*c_in` elements).
        chunk: images per chunk; None picks by CHUNK_BYTES.
        jit: False runs the plain-Python im2col, and the shares one after the other (slow; for
            stepping through it).

    Returns:
        y `(batch, out_h, out_w, c_out)`, or `(y, cols)` with keep_cols, where cols is
        `(batch * out_h * out_w, kh * kw * c_in)`.
    """
    x, w, b = float_arrays("conv2d", x, w, b)
    g = conv_geometry(x.shape, w.shape, strides, padding, dilation_rate)
    n = x.shape[0]
    kh, kw, c_in, c_out = w.shape
    rows = g.out_h * g.out_w
    k = kh * kw * c_in
    w2 = w.reshape(k, c_out)
    kernel = im2col if jit else _im2col
    y = np.empty((n, g.out_h, g.out_w, c_out), dtype=x.dtype)
    y2 = y.reshape(n * rows, c_out)
    chunk = _chunk_images(chunk, rows, k, x.itemsize)
    all_cols = np.empty((n * rows, k), dtype=x.dtype) if keep_cols else None

    def share(lo, hi):  # images lo .. hi-1, on one core
        buf = None if keep_cols else np.empty((min(chunk, hi - lo) * rows, k), dtype=x.dtype)
        for n0 in range(lo, hi, chunk):
            nc = min(chunk, hi - n0)
            cols = all_cols[n0 * rows:(n0 + nc) * rows] if keep_cols else buf[: nc * rows]
            kernel(x, n0, g.out_h, g.out_w, kh, kw, g.sh, g.sw, g.dil_h, g.dil_w, g.pad_top,
                   g.pad_left, cols)
            y_chunk = y2[n0 * rows:(n0 + nc) * rows]
            np.matmul(cols, w2, out=y_chunk)  # BLAS
            if b is not None:
                y_chunk += b

    _run_shares(share, n, 2 * n * rows * k * c_out, jit)
    return (y, all_cols) if keep_cols else y


def conv2d_backward(dy: np.ndarray, x: np.ndarray, w: np.ndarray, strides: IntOrPair = 1,
                    padding: str = "valid", dilation_rate: IntOrPair = 1, *,
                    need_dx: bool = True, need_dw: bool = True, need_db: bool = True,
                    cols: np.ndarray | None = None, chunk: int | None = None,
                    jit: bool = True) -> ThreeGrads:
    """Gradients of conv2d: dx, dw, db from dy, one chunk of images at a time, a share per core.

    Loop nest:

        for each core's share of the batch, side by side:      # kernels/cores.py, threads
            for n0 in range(lo, hi, chunk):                     # Python
                cols = im2col(x[n0 : n0 + chunk])   (or a slice of the kept cols)   # Numba
                dw_share += cols.T @ dy[n0 : n0 + chunk]                            # BLAS
                db_share += ones @ dy[n0 : n0 + chunk]      (dy summed over pixels) # BLAS
                dcols = dy[n0 : n0 + chunk] @ w.reshape(-1, c_out).T  (same buffer) # BLAS
                dx[n0 : n0 + chunk] = col2im(dcols)                                 # Numba
        dw, db = the sums of the shares' dw, db

    dw and db are summed over chunks in float64, then cast to x's dtype. db is a product with a
    vector of ones (BLAS, in cache, on the share's core) rather than one
    `dy.sum(axis=0, dtype=np.float64)` over the whole batch, which is slower.

    Args:
        dy: `(batch, out_h, out_w, c_out)`, the gradient of the loss with respect to y.
        x, w, strides, padding, dilation_rate: as given to `conv2d_forward`.
        need_dx, need_dw, need_db: skip the gradients nobody needs (None is returned for
            them); the first layer of a model needs no dx.
        cols: the columns `conv2d_forward(..., keep_cols=True)` returned, or None to recompute.
        chunk: images per chunk; None picks by CHUNK_BYTES.
        jit: False runs the plain-Python im2col / col2im, and the shares one after the other.

    Returns:
        `(dx, dw, db)` with the shapes of x, w and `(c_out,)`; None for those not needed.
    """
    x, w, dy = float_arrays("conv2d_backward", x, w, dy)
    g = conv_geometry(x.shape, w.shape, strides, padding, dilation_rate)
    n = x.shape[0]
    kh, kw, c_in, c_out = w.shape
    rows = g.out_h * g.out_w
    k = kh * kw * c_in
    w2 = w.reshape(k, c_out)
    dy2 = dy.reshape(n * rows, c_out)
    to_cols, from_cols = (im2col, col2im) if jit else (_im2col, _col2im)
    dx = np.empty_like(x) if need_dx else None
    chunk = _chunk_images(chunk, rows, k, x.itemsize)
    need_buf = need_dx or (need_dw and cols is None)

    def share(lo, hi):  # images lo .. hi-1, on one core; returns their parts of dw and db
        dw_sum = np.zeros((k, c_out), dtype=np.float64)
        dw_chunk = np.empty((k, c_out), dtype=x.dtype)
        db_sum = np.zeros(c_out, dtype=np.float64)
        ones = np.ones(min(chunk, hi - lo) * rows, dtype=x.dtype)
        buf = np.empty((min(chunk, hi - lo) * rows, k), dtype=x.dtype) if need_buf else None
        for n0 in range(lo, hi, chunk):
            nc = min(chunk, hi - n0)
            dy_chunk = dy2[n0 * rows:(n0 + nc) * rows]
            if need_dw:
                if cols is not None:
                    cols_chunk = cols[n0 * rows:(n0 + nc) * rows]
                else:
                    cols_chunk = to_cols(x, n0, g.out_h, g.out_w, kh, kw, g.sh, g.sw, g.dil_h,
                                         g.dil_w, g.pad_top, g.pad_left, buf[: nc * rows])
                np.matmul(cols_chunk.T, dy_chunk, out=dw_chunk)  # BLAS
                dw_sum += dw_chunk
            if need_db:
                db_sum += ones[: nc * rows] @ dy_chunk  # BLAS
            if need_dx:
                dcols = np.matmul(dy_chunk, w2.T, out=buf[: nc * rows])  # BLAS
                from_cols(dcols, n0, g.out_h, g.out_w, kh, kw, g.sh, g.sw, g.dil_h, g.dil_w,
                          g.pad_top, g.pad_left, dx)
        return dw_sum, db_sum

    passes = int(need_dx) + int(need_dw)
    shares = _run_shares(share, n, passes * 2 * n * rows * k * c_out, jit)
    dw = sum(dw for dw, _ in shares).astype(x.dtype).reshape(w.shape) if need_dw else None
    db = sum(db for _, db in shares).astype(x.dtype) if need_db else None
    return dx, dw, db


def _run_shares(share, n, flops, jit):
    """share(lo, hi) for each core's contiguous share of the n images (kernels/cores.py)."""
    parts = num_parts(flops, n)
    return run_parts(lambda p: share(*bounds(n, parts)[p]), parts, jit)
