"""2-D max and average pooling, channels-last, as plain loops.

Every loop kernel is one source with two names: the plain Python function, e.g.
`_max_pool2d_loops`, and its jitted alias,
`max_pool2d_loops = njit(parallel=True, cache=True)(_max_pool2d_loops)`. Call the plain one, or
run anything with NUMBA_DISABLE_JIT=1, and the same lines run in the Python interpreter with the
same numbers (`prange` is an ordinary `range` there). The drivers take `jit=False` to use
the plain kernels for one call. There is no BLAS here: pooling is pure memory traffic.

Shapes: x `(batch, height, width, channels)`, y `(batch, out_h, out_w, channels)`. Window
(oh, ow) covers input rows `oh*sh - pad_top + i` for `i < ph` and columns `ow*sw - pad_left + j`
for `j < pw`; out_h, out_w and the padding follow Keras (geometry.py). Every window holds at
least one real pixel (Keras puts at most (pool - 1) / 2 padding before the first one).

  * Max pooling ignores the padding (as if it were -inf). Its gradient goes to the window's
    maximum; on ties, to the first maximum in row-major order (i, then j), as TensorFlow and
    PyTorch do. A NaN counts as the maximum, so NaNs propagate. The forward pass records where
    each maximum was (`argmax`: the flat index into the image x[n], (ih * width + iw) *
    channels + c), and the backward pass adds dy there without any division.
  * Average pooling with 'same' divides by the number of real pixels in the window, not by
    ph * pw: at the border Keras averages only over what is there.

Parallelism: forward kernels split the (image, output row) pairs over threads (each output is
written once). Backward kernels add into dx, and windows overlap when strides < pool_size, so
each parallel iteration owns one whole image.
"""

from collections.abc import Sequence

import numpy as np
from numba import njit, prange

from .cores import PARALLEL_LAUNCH
from .geometry import float_arrays, pool_geometry

IntOrPair = int | tuple[int, int]  # a window size or strides: one int for both axes, or a pair


def _max_pool2d_loops(x, out_h, out_w, ph, pw, sh, sw, pad_top, pad_left, y, argmax):
    """y = the maximum of each window; argmax = where it was, as a flat index into x[n].

    Loop nest:

        for r in prange(batch * out_h):              # (image, output row) pairs, in parallel
            n, oh = r // out_h, r % out_h
            for ow in range(out_w):
                y[n, oh, ow, :] = -inf
                for i in range(ph):                  # real pixels of the window only
                    for j in range(pw):
                        for c in range(channels):
                            if x[n, ih, iw, c] > y[n, oh, ow, c]:    # strict: first max wins
                                y[n, oh, ow, c] = x[n, ih, iw, c]
                                argmax[n, oh, ow, c] = (ih*width + iw)*channels + c

    Args:
        x: `(batch, height, width, channels)`.
        out_h, out_w, ph, pw, sh, sw, pad_top, pad_left: the Geometry.
        y: `(batch, out_h, out_w, channels)`, overwritten.
        argmax: int32 `(batch, out_h, out_w, channels)`, overwritten.

    Returns:
        y.
    """
    n_img, h, w, ch = x.shape
    for r in prange(n_img * out_h):
        n = r // out_h
        oh = r % out_h
        for ow in range(out_w):
            for c in range(ch):
                y[n, oh, ow, c] = -np.inf
                argmax[n, oh, ow, c] = -1
            for i in range(ph):
                ih = oh * sh - pad_top + i
                if ih < 0 or ih >= h:
                    continue
                for j in range(pw):
                    iw = ow * sw - pad_left + j
                    if iw < 0 or iw >= w:
                        continue
                    for c in range(ch):
                        v = x[n, ih, iw, c]
                        best = y[n, oh, ow, c]
                        # `v != v` is NaN: the first NaN wins and stays (NaN > nothing)
                        if v > best or (v != v and best == best) or argmax[n, oh, ow, c] < 0:
                            y[n, oh, ow, c] = v
                            argmax[n, oh, ow, c] = (ih * w + iw) * ch + c
    return y


max_pool2d_loops = njit(parallel=True, cache=True)(_max_pool2d_loops)


def _max_pool2d_backward_loops(dy, argmax, dx):
    """dx = dy sent to the recorded maximum of each window.

    Loop nest:

        for n in prange(batch):                      # one image per iteration: windows overlap
            dx[n] = 0
            for oh, ow, c:
                dx[n, argmax[n, oh, ow, c]] += dy[n, oh, ow, c]

    Args:
        dy: `(batch, out_h, out_w, channels)`.
        argmax: int32 `(batch, out_h, out_w, channels)` from `_max_pool2d_loops`.
        dx: `(batch, height * width * channels)`, each image flattened; overwritten.

    Returns:
        dx.
    """
    n_img, out_h, out_w, ch = dy.shape
    for n in prange(n_img):
        dx[n] = 0
        for oh in range(out_h):
            for ow in range(out_w):
                for c in range(ch):
                    dx[n, argmax[n, oh, ow, c]] += dy[n, oh, ow, c]
    return dx


max_pool2d_backward_loops = njit(parallel=True, cache=True)(_max_pool2d_backward_loops)


def _avg_pool2d_loops(x, out_h, out_w, ph, pw, sh, sw, pad_top, pad_left, y):
    """y = the mean of each window over its real pixels.

    Loop nest:

        for r in prange(batch * out_h):              # (image, output row) pairs, in parallel
            n, oh = r // out_h, r % out_h
            for ow in range(out_w):
                rows ih0:ih1, columns iw0:iw1 = the window clipped to the image
                y[n, oh, ow, :] = sum of x[n, ih0:ih1, iw0:iw1, :] / ((ih1 - ih0) * (iw1 - iw0))

    Args:
        x: `(batch, height, width, channels)`.
        out_h, out_w, ph, pw, sh, sw, pad_top, pad_left: the Geometry.
        y: `(batch, out_h, out_w, channels)`, overwritten.

    Returns:
        y.
    """
    n_img, h, w, ch = x.shape
    for r in prange(n_img * out_h):
        n = r // out_h
        oh = r % out_h
        ih0 = max(oh * sh - pad_top, 0)
        ih1 = min(oh * sh - pad_top + ph, h)
        for ow in range(out_w):
            iw0 = max(ow * sw - pad_left, 0)
            iw1 = min(ow * sw - pad_left + pw, w)
            # in y's dtype, so that float32 stays float32 in numba and in Python alike
            count = y.dtype.type((ih1 - ih0) * (iw1 - iw0))
            for c in range(ch):
                y[n, oh, ow, c] = 0
            for ih in range(ih0, ih1):
                for iw in range(iw0, iw1):
                    for c in range(ch):
                        y[n, oh, ow, c] += x[n, ih, iw, c]
            for c in range(ch):
                y[n, oh, ow, c] /= count
    return y


avg_pool2d_loops = njit(parallel=True, cache=True)(_avg_pool2d_loops)


def _avg_pool2d_backward_loops(dy, out_h, out_w, ph, pw, sh, sw, pad_top, pad_left, dx):
    """dx = each window's dy divided by its count of real pixels, added to each of them.

    Loop nest:

        for n in prange(batch):                      # one image per iteration: windows overlap
            dx[n] = 0
            for oh, ow:
                rows ih0:ih1, columns iw0:iw1 = the window clipped to the image
                dx[n, ih0:ih1, iw0:iw1, :] += dy[n, oh, ow, :] / ((ih1 - ih0) * (iw1 - iw0))

    Args:
        dy: `(batch, out_h, out_w, channels)`.
        out_h, out_w, ph, pw, sh, sw, pad_top, pad_left: the Geometry.
        dx: `(batch, height, width, channels)`, overwritten.

    Returns:
        dx.
    """
    n_img, h, w, ch = dx.shape
    for n in prange(n_img):
        dx[n] = 0
        for oh in range(out_h):
            ih0 = max(oh * sh - pad_top, 0)
            ih1 = min(oh * sh - pad_top + ph, h)
            for ow in range(out_w):
                iw0 = max(ow * sw - pad_left, 0)
                iw1 = min(ow * sw - pad_left + pw, w)
                count = dx.dtype.type((ih1 - ih0) * (iw1 - iw0))
                for ih in range(ih0, ih1):
                    for iw in range(iw0, iw1):
                        for c in range(ch):
                            dx[n, ih, iw, c] += dy[n, oh, ow, c] / count
    return dx


avg_pool2d_backward_loops = njit(parallel=True, cache=True)(_avg_pool2d_backward_loops)


def max_pool2d_forward(x: np.ndarray, pool_size: IntOrPair = 2, strides: IntOrPair | None = None,
                       padding: str = "valid", *, jit: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Max pooling: y and the argmax that `max_pool2d_backward` needs.

    Args:
        x: `(batch, height, width, channels)`, float32 or float64.
        pool_size, strides: an int or a pair; strides None means pool_size.
        padding: "valid" or "same" (the padding never wins a max).
        jit: False runs the plain-Python loop.

    Returns:
        `(y, argmax)`: y `(batch, out_h, out_w, channels)` and int32 argmax of the same shape,
        the flat index `(ih * width + iw) * channels + c` into x[n] of each window's first
        maximum.
    """
    (x,) = float_arrays("max_pool2d", x)
    g = pool_geometry(x.shape, pool_size, strides, padding)
    shape = (x.shape[0], g.out_h, g.out_w, x.shape[3])
    y = np.empty(shape, dtype=x.dtype)
    argmax = np.empty(shape, dtype=np.int32)
    kernel = max_pool2d_loops if jit else _max_pool2d_loops
    with PARALLEL_LAUNCH:
        kernel(x, g.out_h, g.out_w, g.kh, g.kw, g.sh, g.sw, g.pad_top, g.pad_left, y, argmax)
    return y, argmax


def max_pool2d_backward(dy: np.ndarray, argmax: np.ndarray, x_shape: Sequence[int], *,
                        jit: bool = True) -> np.ndarray:
    """dx of max pooling from dy and the forward pass's argmax.

    Args:
        dy: `(batch, out_h, out_w, channels)`.
        argmax: int32, dy's shape, from `max_pool2d_forward`.
        x_shape: `(batch, height, width, channels)` of the forward input.
        jit: False runs the plain-Python loop.

    Returns:
        dx of shape x_shape and dy's dtype.
    """
    (dy,) = float_arrays("max_pool2d_backward", dy)
    dx = np.empty(tuple(x_shape), dtype=dy.dtype)
    kernel = max_pool2d_backward_loops if jit else _max_pool2d_backward_loops
    with PARALLEL_LAUNCH:
        kernel(dy, np.ascontiguousarray(argmax, dtype=np.int32), dx.reshape(dx.shape[0], -1))
    return dx


def avg_pool2d_forward(x: np.ndarray, pool_size: IntOrPair = 2, strides: IntOrPair | None = None,
                       padding: str = "valid", *, jit: bool = True) -> np.ndarray:
    """Average pooling (over the real pixels of each window).

    Args:
        x: `(batch, height, width, channels)`, float32 or float64.
        pool_size, strides: an int or a pair; strides None means pool_size.
        padding: "valid" or "same".
        jit: False runs the plain-Python loop.

    Returns:
        y `(batch, out_h, out_w, channels)`.
    """
    (x,) = float_arrays("avg_pool2d", x)
    g = pool_geometry(x.shape, pool_size, strides, padding)
    y = np.empty((x.shape[0], g.out_h, g.out_w, x.shape[3]), dtype=x.dtype)
    kernel = avg_pool2d_loops if jit else _avg_pool2d_loops
    with PARALLEL_LAUNCH:
        return kernel(x, g.out_h, g.out_w, g.kh, g.kw, g.sh, g.sw, g.pad_top, g.pad_left, y)


def avg_pool2d_backward(dy: np.ndarray, x_shape: Sequence[int], pool_size: IntOrPair = 2,
                        strides: IntOrPair | None = None, padding: str = "valid", *,
                        jit: bool = True) -> np.ndarray:
    """dx of average pooling.

    Args:
        dy: `(batch, out_h, out_w, channels)`.
        x_shape: `(batch, height, width, channels)` of the forward input.
        pool_size, strides, padding: as given to `avg_pool2d_forward`.
        jit: False runs the plain-Python loop.

    Returns:
        dx of shape x_shape and dy's dtype.
    """
    (dy,) = float_arrays("avg_pool2d_backward", dy)
    g = pool_geometry(tuple(x_shape), pool_size, strides, padding)
    dx = np.empty(tuple(x_shape), dtype=dy.dtype)
    kernel = avg_pool2d_backward_loops if jit else _avg_pool2d_backward_loops
    with PARALLEL_LAUNCH:
        return kernel(dy, g.out_h, g.out_w, g.kh, g.kw, g.sh, g.sw, g.pad_top, g.pad_left, dx)
