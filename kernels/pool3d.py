"""3-D max and average pooling of clips, channels-last, as plain loops (pool.py with time).

Each loop kernel is one source with two names, the plain function (`_max_pool3d_loops`) and its
jitted alias (`max_pool3d_loops = njit(parallel=True, cache=True)(...)`); NUMBA_DISABLE_JIT=1
or `jit=False` runs the plain one with the same numbers (`prange` is then a `range`). No BLAS:
pooling is pure memory traffic.

Shapes: x `(batch, time, height, width, channels)`, y `(batch, out_t, out_h, out_w, channels)`.
Window (ot, oh, ow) covers frames `ot*st - pad_front + a` for `a < pt`, rows
`oh*sh - pad_top + i` for `i < ph`, columns `ow*sw - pad_left + j` for `j < pw`; sizes and
padding follow Keras (geometry.py). As in 2-D: max pooling never picks the padding, its gradient
goes to the first maximum in (a, i, j) order, NaN wins; average pooling divides by the number
of real voxels of the window.

Parallelism: forward kernels split the (clip, output frame) pairs over threads; backward
kernels add into dx, where windows may overlap, so each parallel iteration owns one clip.
Every launch holds kernels.cores.PARALLEL_LAUNCH.
"""

import numpy as np
from numba import njit, prange

from .cores import PARALLEL_LAUNCH
from .geometry import float_arrays, pool3d_geometry


def _max_pool3d_loops(x, out_t, out_h, out_w, pt, ph, pw, st, sh, sw, pad_front, pad_top,
                      pad_left, y, argmax):
    """y = the maximum of each window; argmax = where it was, as a flat index into x[n].

    Loop nest:

        for r in prange(batch * out_t):              # (clip, output frame) pairs, in parallel
            n, ot = r // out_t, r % out_t
            for oh, ow:
                for a, i, j over the real voxels of the window:
                    for c:  keep the first largest x[n, it, ih, iw, c] in y, its place in argmax
                            ((it*height + ih)*width + iw)*channels + c

    Returns:
        y (argmax is filled too).
    """
    n_clip, t, h, w, ch = x.shape
    for r in prange(n_clip * out_t):
        n = r // out_t
        ot = r % out_t
        for oh in range(out_h):
            for ow in range(out_w):
                for c in range(ch):
                    y[n, ot, oh, ow, c] = -np.inf
                    argmax[n, ot, oh, ow, c] = -1
                for a in range(pt):
                    it = ot * st - pad_front + a
                    if it < 0 or it >= t:
                        continue
                    for i in range(ph):
                        ih = oh * sh - pad_top + i
                        if ih < 0 or ih >= h:
                            continue
                        for j in range(pw):
                            iw = ow * sw - pad_left + j
                            if iw < 0 or iw >= w:
                                continue
                            for c in range(ch):
                                v = x[n, it, ih, iw, c]
                                best = y[n, ot, oh, ow, c]
                                # `v != v` is NaN: the first NaN wins and stays
                                if (v > best or (v != v and best == best)
                                        or argmax[n, ot, oh, ow, c] < 0):
                                    y[n, ot, oh, ow, c] = v
                                    argmax[n, ot, oh, ow, c] = ((it * h + ih) * w + iw) * ch + c
    return y


max_pool3d_loops = njit(parallel=True, cache=True)(_max_pool3d_loops)


def _max_pool3d_backward_loops(dy, argmax, dx):
    """dx = dy sent to the recorded maximum of each window.

    Loop nest:

        for n in prange(batch):                      # one clip per iteration: windows overlap
            dx[n] = 0
            for ot, oh, ow, c:
                dx[n, argmax[n, ot, oh, ow, c]] += dy[n, ot, oh, ow, c]

    Args:
        dy: `(batch, out_t, out_h, out_w, channels)`.
        argmax: int32, dy's shape, from `_max_pool3d_loops`.
        dx: `(batch, time * height * width * channels)`, each clip flattened; overwritten.
    """
    n_clip, out_t, out_h, out_w, ch = dy.shape
    for n in prange(n_clip):
        dx[n] = 0
        for ot in range(out_t):
            for oh in range(out_h):
                for ow in range(out_w):
                    for c in range(ch):
                        dx[n, argmax[n, ot, oh, ow, c]] += dy[n, ot, oh, ow, c]
    return dx


max_pool3d_backward_loops = njit(parallel=True, cache=True)(_max_pool3d_backward_loops)


def _avg_pool3d_loops(x, out_t, out_h, out_w, pt, ph, pw, st, sh, sw, pad_front, pad_top,
                      pad_left, y):
    """y = the mean of each window over its real voxels.

    Loop nest:

        for r in prange(batch * out_t):              # (clip, output frame) pairs, in parallel
            n, ot = r // out_t, r % out_t
            for oh, ow:
                frames it0:it1, rows ih0:ih1, columns iw0:iw1 = the window clipped to the clip
                y[n, ot, oh, ow, :] = sum of x over them / (number of voxels)
    """
    n_clip, t, h, w, ch = x.shape
    for r in prange(n_clip * out_t):
        n = r // out_t
        ot = r % out_t
        it0 = max(ot * st - pad_front, 0)
        it1 = min(ot * st - pad_front + pt, t)
        for oh in range(out_h):
            ih0 = max(oh * sh - pad_top, 0)
            ih1 = min(oh * sh - pad_top + ph, h)
            for ow in range(out_w):
                iw0 = max(ow * sw - pad_left, 0)
                iw1 = min(ow * sw - pad_left + pw, w)
                # in y's dtype, so that float32 stays float32 in numba and in Python alike
                count = y.dtype.type((it1 - it0) * (ih1 - ih0) * (iw1 - iw0))
                for c in range(ch):
                    y[n, ot, oh, ow, c] = 0
                for it in range(it0, it1):
                    for ih in range(ih0, ih1):
                        for iw in range(iw0, iw1):
                            for c in range(ch):
                                y[n, ot, oh, ow, c] += x[n, it, ih, iw, c]
                for c in range(ch):
                    y[n, ot, oh, ow, c] /= count
    return y


avg_pool3d_loops = njit(parallel=True, cache=True)(_avg_pool3d_loops)


def _avg_pool3d_backward_loops(dy, out_t, out_h, out_w, pt, ph, pw, st, sh, sw, pad_front,
                               pad_top, pad_left, dx):
    """dx = each window's dy divided by its count of real voxels, added to each of them.

    Loop nest:

        for n in prange(batch):                      # one clip per iteration: windows overlap
            dx[n] = 0
            for ot, oh, ow:
                dx[n, it0:it1, ih0:ih1, iw0:iw1, :] += dy[n, ot, oh, ow, :] / (voxels)
    """
    n_clip, t, h, w, ch = dx.shape
    for n in prange(n_clip):
        dx[n] = 0
        for ot in range(out_t):
            it0 = max(ot * st - pad_front, 0)
            it1 = min(ot * st - pad_front + pt, t)
            for oh in range(out_h):
                ih0 = max(oh * sh - pad_top, 0)
                ih1 = min(oh * sh - pad_top + ph, h)
                for ow in range(out_w):
                    iw0 = max(ow * sw - pad_left, 0)
                    iw1 = min(ow * sw - pad_left + pw, w)
                    count = dx.dtype.type((it1 - it0) * (ih1 - ih0) * (iw1 - iw0))
                    for it in range(it0, it1):
                        for ih in range(ih0, ih1):
                            for iw in range(iw0, iw1):
                                for c in range(ch):
                                    dx[n, it, ih, iw, c] += dy[n, ot, oh, ow, c] / count
    return dx


avg_pool3d_backward_loops = njit(parallel=True, cache=True)(_avg_pool3d_backward_loops)


def _geometry_args(g):
    """The Geometry3D fields the loops take, in their order."""
    return (g.out_t, g.out_h, g.out_w, g.kt, g.kh, g.kw, g.st, g.sh, g.sw, g.pad_front,
            g.pad_top, g.pad_left)


def max_pool3d_forward(x, pool_size=2, strides=None, padding="valid", *, jit=True):
    """Max pooling of clips: y and the argmax that `max_pool3d_backward` needs.

    Args:
        x: `(batch, time, height, width, channels)`, float32 or float64.
        pool_size, strides: an int or a triple; strides None means pool_size.
        padding: "valid" or "same" (the padding never wins a max).
        jit: False runs the plain-Python loop.

    Returns:
        `(y, argmax)`: y `(batch, out_t, out_h, out_w, channels)` and an int32 argmax of the same
        shape, the flat index into x[n] of each window's first maximum.
    """
    (x,) = float_arrays("max_pool3d", x)
    g = pool3d_geometry(x.shape, pool_size, strides, padding)
    shape = (x.shape[0], g.out_t, g.out_h, g.out_w, x.shape[4])
    y = np.empty(shape, dtype=x.dtype)
    argmax = np.empty(shape, dtype=np.int32)
    kernel = max_pool3d_loops if jit else _max_pool3d_loops
    with PARALLEL_LAUNCH:
        kernel(x, *_geometry_args(g), y, argmax)
    return y, argmax


def max_pool3d_backward(dy, argmax, x_shape, *, jit=True):
    """dx of 3-D max pooling from dy `(batch, out_t, out_h, out_w, channels)` and the forward
    pass's argmax; dx has shape x_shape and dy's dtype."""
    (dy,) = float_arrays("max_pool3d_backward", dy)
    dx = np.empty(tuple(x_shape), dtype=dy.dtype)
    kernel = max_pool3d_backward_loops if jit else _max_pool3d_backward_loops
    with PARALLEL_LAUNCH:
        kernel(dy, np.ascontiguousarray(argmax, dtype=np.int32), dx.reshape(dx.shape[0], -1))
    return dx


def avg_pool3d_forward(x, pool_size=2, strides=None, padding="valid", *, jit=True):
    """Average pooling of clips over the real voxels of each window.

    Args:
        x: `(batch, time, height, width, channels)`, float32 or float64.
        pool_size, strides: an int or a triple; strides None means pool_size.
        padding: "valid" or "same".
        jit: False runs the plain-Python loop.

    Returns:
        y `(batch, out_t, out_h, out_w, channels)`.
    """
    (x,) = float_arrays("avg_pool3d", x)
    g = pool3d_geometry(x.shape, pool_size, strides, padding)
    y = np.empty((x.shape[0], g.out_t, g.out_h, g.out_w, x.shape[4]), dtype=x.dtype)
    kernel = avg_pool3d_loops if jit else _avg_pool3d_loops
    with PARALLEL_LAUNCH:
        return kernel(x, *_geometry_args(g), y)


def avg_pool3d_backward(dy, x_shape, pool_size=2, strides=None, padding="valid", *, jit=True):
    """dx of 3-D average pooling; pool_size, strides, padding as given to the forward pass."""
    (dy,) = float_arrays("avg_pool3d_backward", dy)
    g = pool3d_geometry(tuple(x_shape), pool_size, strides, padding)
    dx = np.empty(tuple(x_shape), dtype=dy.dtype)
    kernel = avg_pool3d_backward_loops if jit else _avg_pool3d_backward_loops
    with PARALLEL_LAUNCH:
        return kernel(dy, *_geometry_args(g), dx)
