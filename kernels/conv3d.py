"""3-D convolution of clips, channels-last: a sum over the kernel's temporal taps of 2-D
convolutions of frames, each an im2col + matrix product (BLAS).

Shapes (Keras layout):
    x   (batch, time, height, width, c_in)      w   (kt, kh, kw, c_in, c_out)     b  (c_out,)
    y   (batch, out_t, out_h, out_w, c_out)     out_t, out_h, out_w, padding: geometry.py

The algorithm. Tap `a` of the kernel along time links input frame `it` to output frame `ot` when

    it = ot * st - pad_front + a * dil_t                      (frames outside 0..time-1: padding)

and, between those two frames, the 3-D convolution is a 2-D convolution by the kernel's slice
w[a] `(kh, kw, c_in, c_out)`. So the clip's frames go through conv.py's im2col once each, and
every frame's columns serve all the taps that read it (a vol2col would copy each frame kt times):

    cols[it] = im2col(x[n, it])                               (out_h*out_w, kh*kw*c_in)
    y[n, ot]     += cols[it] @ w[a]                           for each linked (it, a, ot)
    dw[a]        += cols[it].T @ dy[n, ot]
    dcols[it]    += dy[n, ot] @ w[a].T ;   dx[n, it] = col2im(dcols[it])
    db            = dy summed over (n, ot, oh, ow)

BLAS does every multiply-add; the Numba loops (conv.py's `_im2col` / `_col2im`, each a plain
function with a jitted alias) only move memory. `jit=False` runs the plain ones, so a debugger
steps through every loop, with the same numbers as NUMBA_DISABLE_JIT=1. Work is cut in two ways:
  * the batch into one share of clips per core (kernels/cores.py): each core runs the loops and
    the products of its own clips in its own thread, BLAS single-threaded;
  * a clip's input frames into chunks whose columns fit CHUNK_BYTES, so that the columns stay in
    cache between im2col writing them and BLAS reading them. Walking input frames, each frame's
    dx is complete when its chunk is done (col2im writes it once), and no frame is copied twice.
"""

import numpy as np

from .conv import _col2im, _im2col, col2im, im2col
from .cores import bounds, num_parts, run_parts
from .geometry import conv3d_geometry, float_arrays

CHUNK_BYTES = 4 * 1024 * 1024
"""Target size of a chunk's columns; a chunk is as many input frames as fit, at least one."""


def temporal_links(it, g):
    """[(a, ot)]: the kernel's taps `a` that read input frame `it`, and the output frames `ot`
    they write, from it = ot * st - pad_front + a * dil_t."""
    links = []
    for a in range(g.kt):
        t = it + g.pad_front - a * g.dil_t
        if t >= 0 and t % g.st == 0 and t // g.st < g.out_t:
            links.append((a, t // g.st))
    return links


def _chunk_frames(chunk, rows, k, itemsize):
    """Input frames per chunk: the caller's choice, else as many as fit in CHUNK_BYTES."""
    if chunk is not None:
        return max(1, int(chunk))
    return max(1, CHUNK_BYTES // (rows * k * itemsize))


def _frame_args(g):
    """conv.py's im2col / col2im arguments after n0: the 2-D geometry of one frame."""
    return (g.out_h, g.out_w, g.kh, g.kw, g.sh, g.sw, g.dil_h, g.dil_w, g.pad_top, g.pad_left)


def conv3d_forward(x, w, b=None, strides=1, padding="valid", dilation_rate=1, *, chunk=None,
                   jit=True):
    """y = conv3d(x, w) + b, as a sum over temporal taps of frame convolutions (im2col + BLAS).

    Loop nest:

        for each core's share of the clips, side by side:      # kernels/cores.py, threads
            for n in its clips:
                y[n] = b
                for f0 in range(0, time, chunk):                # Python
                    cols = im2col(x[n, f0 : f0 + chunk])        # Numba, each frame once
                    for it in the chunk, for (a, ot) in temporal_links(it):
                        y[n, ot] += cols[it] @ w[a]             # BLAS, one thread

    Args:
        x: `(batch, time, height, width, c_in)`, float32 or float64.
        w: `(kt, kh, kw, c_in, c_out)`, same dtype.
        b: `(c_out,)` or None.
        strides, dilation_rate: an int or a triple `(along time, height, width)`.
        padding: "valid" or "same" (Keras semantics on all three axes, see geometry.py).
        chunk: input frames per chunk; None picks by CHUNK_BYTES.
        jit: False runs the plain-Python im2col, and the shares one after the other.

    Returns:
        y `(batch, out_t, out_h, out_w, c_out)`.
    """
    x, w, b = float_arrays("conv3d", x, w, b)
    g = conv3d_geometry(x.shape, w.shape, strides, padding, dilation_rate)
    n, t = x.shape[:2]
    kt, c_out = w.shape[0], w.shape[4]
    rows = g.out_h * g.out_w  # rows of columns per frame
    k = w[0].size // c_out  # kh * kw * c_in
    taps = w.reshape(kt, k, c_out)
    frames = x.reshape((n * t,) + x.shape[2:])  # the clips' frames, as conv.py's images
    to_cols = im2col if jit else _im2col
    y = np.empty((n, g.out_t, rows, c_out), dtype=x.dtype)
    chunk = _chunk_frames(chunk, rows, k, x.itemsize)
    links = [temporal_links(it, g) for it in range(t)]

    def share(lo, hi):  # clips lo .. hi-1, on one core
        cols = np.empty((min(chunk, t) * rows, k), dtype=x.dtype)
        product = np.empty((rows, c_out), dtype=x.dtype)
        for i in range(lo, hi):
            y[i] = 0 if b is None else b
            for f0 in range(0, t, chunk):
                nf = min(chunk, t - f0)
                to_cols(frames, i * t + f0, *_frame_args(g), cols[: nf * rows])
                for it in range(f0, f0 + nf):
                    frame_cols = cols[(it - f0) * rows:(it - f0 + 1) * rows]
                    for a, ot in links[it]:
                        y[i, ot] += np.matmul(frame_cols, taps[a], out=product)  # BLAS

    _run_shares(share, n, 2 * y.size * kt * k, jit)
    return y.reshape(n, g.out_t, g.out_h, g.out_w, c_out)


def conv3d_backward(dy, x, w, strides=1, padding="valid", dilation_rate=1, *, need_dx=True,
                    need_dw=True, need_db=True, chunk=None, jit=True):
    """Gradients of conv3d: dx, dw, db from dy, walking each clip's input frames in chunks.

    Loop nest:

        for each core's share of the clips, side by side:      # kernels/cores.py, threads
            for n in its clips, for each chunk of input frames:
                cols = im2col(x[n, chunk])                                  # Numba
                for it in the chunk:
                    dcols[it] = 0
                    for (a, ot) in temporal_links(it):
                        dw_share[a] += cols[it].T @ dy[n, ot]               # BLAS
                        dcols[it]   += dy[n, ot] @ w[a].T                   # BLAS
                dx[n, chunk] = col2im(dcols)                                # Numba
                db_share += ones @ dy[n]                                    # BLAS
        dw, db = the sums of the shares' dw, db (in float64, then cast to x's dtype)

    Args:
        dy: `(batch, out_t, out_h, out_w, c_out)`, the gradient of the loss with respect to y.
        x, w, strides, padding, dilation_rate: as given to `conv3d_forward`.
        need_dx, need_dw, need_db: skip the gradients nobody needs (None is returned for them).
        chunk: input frames per chunk; None picks by CHUNK_BYTES.
        jit: False runs the plain-Python loops, and the shares one after the other.

    Returns:
        `(dx, dw, db)` with the shapes of x, w and `(c_out,)`; None for those not needed.
    """
    x, w, dy = float_arrays("conv3d_backward", x, w, dy)
    g = conv3d_geometry(x.shape, w.shape, strides, padding, dilation_rate)
    n, t = x.shape[:2]
    kt, c_out = w.shape[0], w.shape[4]
    rows = g.out_h * g.out_w
    k = w[0].size // c_out
    taps = w.reshape(kt, k, c_out)
    frames = x.reshape((n * t,) + x.shape[2:])
    dy3 = dy.reshape(n, g.out_t, rows, c_out)
    to_cols, from_cols = (im2col, col2im) if jit else (_im2col, _col2im)
    dx = np.empty_like(x) if need_dx else None
    dx_frames = None if dx is None else dx.reshape(frames.shape)
    chunk = _chunk_frames(chunk, rows, k, x.itemsize)
    links = [temporal_links(it, g) for it in range(t)]

    def share(lo, hi):  # clips lo .. hi-1, on one core; returns their parts of dw and db
        dw_sum = np.zeros((kt, k, c_out), dtype=np.float64)
        dw_product = np.empty((k, c_out), dtype=x.dtype)
        db_sum = np.zeros(c_out, dtype=np.float64)
        ones = np.ones(g.out_t * rows, dtype=x.dtype)
        cols = np.empty((min(chunk, t) * rows, k), dtype=x.dtype) if need_dw else None
        dcols = np.empty((min(chunk, t) * rows, k), dtype=x.dtype) if need_dx else None
        dcols_product = np.empty((rows, k), dtype=x.dtype) if need_dx else None
        for i in range(lo, hi):
            if need_db:
                db_sum += ones @ dy3[i].reshape(-1, c_out)  # BLAS
            if not (need_dw or need_dx):
                continue
            for f0 in range(0, t, chunk):
                nf = min(chunk, t - f0)
                if need_dw:
                    to_cols(frames, i * t + f0, *_frame_args(g), cols[: nf * rows])
                for it in range(f0, f0 + nf):
                    r0, r1 = (it - f0) * rows, (it - f0 + 1) * rows
                    if need_dx:
                        dcols[r0:r1] = 0
                    for a, ot in links[it]:
                        if need_dw:
                            dw_sum[a] += np.matmul(cols[r0:r1].T, dy3[i, ot],
                                                   out=dw_product)  # BLAS
                        if need_dx:
                            dcols[r0:r1] += np.matmul(dy3[i, ot], taps[a].T,
                                                      out=dcols_product)  # BLAS
                if need_dx:
                    from_cols(dcols[: nf * rows], i * t + f0, *_frame_args(g), dx_frames)
        return dw_sum, db_sum

    passes = int(need_dx) + int(need_dw)
    shares = _run_shares(share, n, passes * 2 * dy.size * kt * k, jit)
    dw = sum(dw for dw, _ in shares).astype(x.dtype).reshape(w.shape) if need_dw else None
    db = sum(db for _, db in shares).astype(x.dtype) if need_db else None
    return dx, dw, db


def _run_shares(share, n, flops, jit):
    """share(lo, hi) for each core's contiguous share of the n clips (kernels/cores.py)."""
    parts = num_parts(flops, n)
    return run_parts(lambda p: share(*bounds(n, parts)[p]), parts, jit)
