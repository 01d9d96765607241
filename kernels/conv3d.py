"""3-D convolution of clips, channels-last, as vol2col + one matrix product per chunk of frames.

The 2-D convolution of conv.py with time as a third axis. Every loop kernel is one source with
two names: the plain Python function (`_vol2col`, `_col2vol`) and its jitted alias
(`vol2col = njit(nogil=True, cache=True)(_vol2col)`). Call the plain one, or run anything with
NUMBA_DISABLE_JIT=1, and the same lines run in the interpreter with the same numbers; the
drivers `conv3d_forward` / `conv3d_backward` take `jit=False` to use the plain loops.

Shapes (Keras layout):
    x   (batch, time, height, width, c_in)      w   (kt, kh, kw, c_in, c_out)     b  (c_out,)
    y   (batch, out_t, out_h, out_w, c_out)     out_t, out_h, out_w, padding: geometry.py

The algorithm. Output voxel (n, ot, oh, ow) is the dot product of the window of x under it with
the kernel. vol2col copies each window into one row of a matrix `cols`:

    cols[(n, ot, oh, ow), (a, i, j, c)] = x[n, ot*st - pad_front + a*dil_t,
                                              oh*sh - pad_top + i*dil_h,
                                              ow*sw - pad_left + j*dil_w, c]   (0 in the padding)
    y     = cols @ w.reshape(kt*kh*kw*c_in, c_out) + b                 forward
    dw    = cols.T @ dy,   db = dy summed over (n, ot, oh, ow)         backward
    dcols = dy @ w.reshape(kt*kh*kw*c_in, c_out).T
    dx    = col2vol(dcols): each dcols entry added back onto the x voxel it was copied from

BLAS (numpy's `@`) does every multiply-add; the Numba loops only move memory. Work is cut in
two ways:
  * the batch into one share of clips per core (kernels/cores.py): each core runs vol2col,
    the products and col2vol of its own clips in its own thread, BLAS single-threaded. A share
    owns whole clips, so col2vol's additions into dx never race with another thread's;
  * a share's output frames (the pairs (n, ot)) into chunks whose columns fit CHUNK_BYTES, so
    that the column matrix stays in cache between vol2col writing it and BLAS reading it.
"""

import numpy as np
from numba import njit

from .cores import bounds, num_parts, run_parts
from .geometry import conv3d_geometry, float_arrays

CHUNK_BYTES = 4 * 1024 * 1024
"""Target size of the column buffer; a chunk is as many output frames as fit, at least one."""


def _vol2col(x, u0, out_t, out_h, out_w, kt, kh, kw, st, sh, sw, dil_t, dil_h, dil_w,
             pad_front, pad_top, pad_left, cols):
    """Copy the windows of output frames u0, u0+1, ... (u = n * out_t + ot) into rows of cols.

    Loop nest (one row of cols per output voxel, one column per (tap, channel)):

        for r in range(n_frames * out_h):            # (output frame, output row) pairs
            u, oh = u0 + r // out_h, r % out_h;  n, ot = u // out_t, u % out_t
            for ow in range(out_w):
                for a in range(kt):  for i in range(kh):  for j in range(kw):
                    for c in range(c_in):
                        cols[r*out_w + ow, ((a*kh + i)*kw + j)*c_in + c] = x[n, it, ih, iw, c]
                                                                           or 0 in the padding

    Args:
        x: input `(batch, time, height, width, c_in)`.
        u0: the first output frame of the chunk, counted over the whole batch.
        out_t, out_h, out_w: output size.
        kt, kh, kw, st, sh, sw, dil_t, dil_h, dil_w: kernel size, strides, dilation.
        pad_front, pad_top, pad_left: padding before the first frame / row / column.
        cols: output buffer `(n_frames * out_h * out_w, kt * kh * kw * c_in)`, overwritten.

    Returns:
        cols.
    """
    _, t, h, w, c_in = x.shape
    n_frames = cols.shape[0] // (out_h * out_w)
    for r in range(n_frames * out_h):
        u = u0 + r // out_h
        n = u // out_t
        ot = u % out_t
        oh = r % out_h
        for ow in range(out_w):
            row = r * out_w + ow
            for a in range(kt):
                it = ot * st - pad_front + a * dil_t
                for i in range(kh):
                    ih = oh * sh - pad_top + i * dil_h
                    for j in range(kw):
                        iw = ow * sw - pad_left + j * dil_w
                        base = ((a * kh + i) * kw + j) * c_in
                        if 0 <= it < t and 0 <= ih < h and 0 <= iw < w:
                            for c in range(c_in):
                                cols[row, base + c] = x[n, it, ih, iw, c]
                        else:
                            for c in range(c_in):
                                cols[row, base + c] = 0
    return cols


# nogil: the threads of kernels/cores.py run it side by side on different clips
vol2col = njit(nogil=True, cache=True)(_vol2col)


def _col2vol(dcols, u0, out_t, out_h, out_w, kt, kh, kw, st, sh, sw, dil_t, dil_h, dil_w,
             pad_front, pad_top, pad_left, dx):
    """Add the rows of dcols back onto the voxels of dx they came from (the adjoint of vol2col).

    Loop nest (the same walk as `_vol2col`, reading where it wrote and adding where it read):

        for r in range(n_frames * out_h):
            u, oh = u0 + r // out_h, r % out_h;  n, ot = u // out_t, u % out_t
            for ow, a, i, j (skipping taps in the padding):
                for c in range(c_in):
                    dx[n, it, ih, iw, c] += dcols[r*out_w + ow, ((a*kh + i)*kw + j)*c_in + c]

    Windows overlap, so this adds: the caller zeroes dx first, and one thread owns each clip.

    Args:
        dcols: `(n_frames * out_h * out_w, kt * kh * kw * c_in)`, the gradient of the columns.
        u0 .. pad_left: as in `_vol2col`.
        dx: `(batch, time, height, width, c_in)`, added into.

    Returns:
        dx.
    """
    _, t, h, w, c_in = dx.shape
    n_frames = dcols.shape[0] // (out_h * out_w)
    for r in range(n_frames * out_h):
        u = u0 + r // out_h
        n = u // out_t
        ot = u % out_t
        oh = r % out_h
        for ow in range(out_w):
            row = r * out_w + ow
            for a in range(kt):
                it = ot * st - pad_front + a * dil_t
                if it < 0 or it >= t:
                    continue
                for i in range(kh):
                    ih = oh * sh - pad_top + i * dil_h
                    if ih < 0 or ih >= h:
                        continue
                    for j in range(kw):
                        iw = ow * sw - pad_left + j * dil_w
                        if iw < 0 or iw >= w:
                            continue
                        base = ((a * kh + i) * kw + j) * c_in
                        for c in range(c_in):
                            dx[n, it, ih, iw, c] += dcols[row, base + c]
    return dx


col2vol = njit(nogil=True, cache=True)(_col2vol)


def _geometry_args(g):
    """The Geometry3D fields the loops take, in their order."""
    return (g.out_t, g.out_h, g.out_w, g.kt, g.kh, g.kw, g.st, g.sh, g.sw, g.dil_t, g.dil_h,
            g.dil_w, g.pad_front, g.pad_top, g.pad_left)


def _chunk_frames(chunk, rows_per_frame, k, itemsize):
    """Output frames per chunk: the caller's choice, else as many as fit in CHUNK_BYTES."""
    if chunk is not None:
        return max(1, int(chunk))
    return max(1, CHUNK_BYTES // (rows_per_frame * k * itemsize))


def conv3d_forward(x, w, b=None, strides=1, padding="valid", dilation_rate=1, *, chunk=None,
                   jit=True):
    """y = conv3d(x, w) + b, as vol2col + BLAS, a chunk of output frames at a time.

    Loop nest:

        for each core's share of the clips, side by side:      # kernels/cores.py, threads
            for u0 in its output frames, chunk by chunk:        # Python
                cols = vol2col(x, frames u0 .. u0 + chunk)      # Numba
                y[frames u0 ..] = cols @ w.reshape(-1, c_out) + b       # BLAS, one thread

    Args:
        x: `(batch, time, height, width, c_in)`, float32 or float64.
        w: `(kt, kh, kw, c_in, c_out)`, same dtype.
        b: `(c_out,)` or None.
        strides, dilation_rate: an int or a triple `(along time, height, width)`.
        padding: "valid" or "same" (Keras semantics on all three axes, see geometry.py).
        chunk: output frames per chunk; None picks by CHUNK_BYTES.
        jit: False runs the plain-Python vol2col, and the shares one after the other.

    Returns:
        y `(batch, out_t, out_h, out_w, c_out)`.
    """
    x, w, b = float_arrays("conv3d", x, w, b)
    g = conv3d_geometry(x.shape, w.shape, strides, padding, dilation_rate)
    n = x.shape[0]
    c_out = w.shape[4]
    rows = g.out_h * g.out_w  # rows of cols per output frame
    k = w.size // c_out
    w2 = w.reshape(k, c_out)
    kernel = vol2col if jit else _vol2col
    y = np.empty((n, g.out_t, g.out_h, g.out_w, c_out), dtype=x.dtype)
    y2 = y.reshape(-1, c_out)
    chunk = _chunk_frames(chunk, rows, k, x.itemsize)
    args = _geometry_args(g)

    def share(lo, hi):  # clips lo .. hi-1, on one core
        first, last = lo * g.out_t, hi * g.out_t
        buf = np.empty((min(chunk, last - first) * rows, k), dtype=x.dtype)
        for u0 in range(first, last, chunk):
            nu = min(chunk, last - u0)
            cols = kernel(x, u0, *args, buf[: nu * rows])
            y_chunk = y2[u0 * rows:(u0 + nu) * rows]
            np.matmul(cols, w2, out=y_chunk)  # BLAS
            if b is not None:
                y_chunk += b

    _run_shares(share, n, 2 * y2.shape[0] * k * c_out, jit)
    return y


def conv3d_backward(dy, x, w, strides=1, padding="valid", dilation_rate=1, *, need_dx=True,
                    need_dw=True, need_db=True, chunk=None, jit=True):
    """Gradients of conv3d: dx, dw, db from dy, a chunk of output frames at a time.

    Loop nest:

        for each core's share of the clips, side by side:      # kernels/cores.py, threads
            dx[its clips] = 0
            for u0 in its output frames, chunk by chunk:
                cols = vol2col(x, frames u0 .. u0 + chunk)                  # Numba
                dw_share += cols.T @ dy[frames]                             # BLAS
                db_share += ones @ dy[frames]                               # BLAS
                dcols = dy[frames] @ w.reshape(-1, c_out).T  (same buffer)  # BLAS
                dx += col2vol(dcols)                                        # Numba
        dw, db = the sums of the shares' dw, db (in float64, then cast to x's dtype)

    Args:
        dy: `(batch, out_t, out_h, out_w, c_out)`, the gradient of the loss with respect to y.
        x, w, strides, padding, dilation_rate: as given to `conv3d_forward`.
        need_dx, need_dw, need_db: skip the gradients nobody needs (None is returned for them).
        chunk: output frames per chunk; None picks by CHUNK_BYTES.
        jit: False runs the plain-Python loops, and the shares one after the other.

    Returns:
        `(dx, dw, db)` with the shapes of x, w and `(c_out,)`; None for those not needed.
    """
    x, w, dy = float_arrays("conv3d_backward", x, w, dy)
    g = conv3d_geometry(x.shape, w.shape, strides, padding, dilation_rate)
    n = x.shape[0]
    c_out = w.shape[4]
    rows = g.out_h * g.out_w
    k = w.size // c_out
    w2 = w.reshape(k, c_out)
    dy2 = dy.reshape(-1, c_out)
    to_cols, from_cols = (vol2col, col2vol) if jit else (_vol2col, _col2vol)
    dx = np.empty_like(x) if need_dx else None
    chunk = _chunk_frames(chunk, rows, k, x.itemsize)
    args = _geometry_args(g)

    def share(lo, hi):  # clips lo .. hi-1, on one core; returns their parts of dw and db
        first, last = lo * g.out_t, hi * g.out_t
        dw_sum = np.zeros((k, c_out), dtype=np.float64)
        dw_chunk = np.empty((k, c_out), dtype=x.dtype)
        db_sum = np.zeros(c_out, dtype=np.float64)
        ones = np.ones(min(chunk, last - first) * rows, dtype=x.dtype)
        buf = np.empty((min(chunk, last - first) * rows, k), dtype=x.dtype)
        if need_dx:
            dx[lo:hi] = 0  # col2vol adds into it
        for u0 in range(first, last, chunk):
            nu = min(chunk, last - u0)
            dy_chunk = dy2[u0 * rows:(u0 + nu) * rows]
            if need_dw:
                cols = to_cols(x, u0, *args, buf[: nu * rows])
                np.matmul(cols.T, dy_chunk, out=dw_chunk)  # BLAS
                dw_sum += dw_chunk
            if need_db:
                db_sum += ones[: nu * rows] @ dy_chunk  # BLAS
            if need_dx:
                dcols = np.matmul(dy_chunk, w2.T, out=buf[: nu * rows])  # BLAS
                from_cols(dcols, u0, *args, dx)
        return dw_sum, db_sum

    passes = int(need_dx) + int(need_dw)
    shares = _run_shares(share, n, passes * 2 * dy2.shape[0] * k * c_out, jit)
    dw = sum(dw for dw, _ in shares).astype(x.dtype).reshape(w.shape) if need_dw else None
    db = sum(db for _, db in shares).astype(x.dtype) if need_db else None
    return dx, dw, db


def _run_shares(share, n, flops, jit):
    """share(lo, hi) for each core's contiguous share of the n clips (kernels/cores.py)."""
    parts = num_parts(flops, n)
    return run_parts(lambda p: share(*bounds(n, parts)[p]), parts, jit)
