"""Slow, obviously correct NumPy references for every kernel, to test the fast ones against.

No Numba and no cleverness: pad explicitly with np.pad, then loop over output positions and
write each one as the formula says (np.einsum over the window). Shapes are channels-last:
x `(batch, height, width, channels)`, conv kernel `(kh, kw, c_in, c_out)`, dense `(in, out)`.
Padding follows Keras (geometry.py); these functions trust their arguments.
"""

from typing import Any

import numpy as np

from .geometry import normalize_pair, triple, volume_geometry, window_geometry

Array = np.ndarray


def _pad(x, g, value):
    """x padded the Keras way: (top, bottom) rows and (left, right) columns of `value`."""
    pads = ((0, 0), (g.pad_top, g.pad_bottom), (g.pad_left, g.pad_right), (0, 0))
    return np.pad(x, pads, constant_values=value)


def _window(g, oh, ow):
    """Index of the window under output pixel (oh, ow) in the padded input: two slices."""
    rows = slice(oh * g.sh, oh * g.sh + (g.kh - 1) * g.dil_h + 1, g.dil_h)
    cols = slice(ow * g.sw, ow * g.sw + (g.kw - 1) * g.dil_w + 1, g.dil_w)
    return rows, cols


def _conv_geometry(x, w, strides, padding, dilation_rate):
    return window_geometry(x.shape[1], x.shape[2], w.shape[:2],
                           normalize_pair(strides, "strides"), padding,
                           normalize_pair(dilation_rate, "dilation_rate"))


def conv2d_reference(x: Array, w: Array, b: Array | None = None, strides: Any = 1,
                     padding: str = "valid", dilation_rate: Any = 1) -> Array:
    """y[n, oh, ow, o] = sum over (i, j, c) of window[n, i, j, c] * w[i, j, c, o] + b[o]."""
    g = _conv_geometry(x, w, strides, padding, dilation_rate)
    xp = _pad(x, g, 0)
    y = np.zeros((x.shape[0], g.out_h, g.out_w, w.shape[3]), dtype=x.dtype)
    for oh in range(g.out_h):
        for ow in range(g.out_w):
            rows, cols = _window(g, oh, ow)
            y[:, oh, ow, :] = np.einsum("nijc,ijco->no", xp[:, rows, cols, :], w)
    if b is not None:
        y += b
    return y


def conv2d_backward_reference(dy: Array, x: Array, w: Array, strides: Any = 1,
                              padding: str = "valid", dilation_rate: Any = 1
                              ) -> tuple[Array, Array, Array]:
    """dx, dw, db of conv2d: each output pixel sends dy back through the window it read."""
    g = _conv_geometry(x, w, strides, padding, dilation_rate)
    xp = _pad(x, g, 0)
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for oh in range(g.out_h):
        for ow in range(g.out_w):
            rows, cols = _window(g, oh, ow)
            dxp[:, rows, cols, :] += np.einsum("no,ijco->nijc", dy[:, oh, ow, :], w)
            dw += np.einsum("nijc,no->ijco", xp[:, rows, cols, :], dy[:, oh, ow, :])
    dx = dxp[:, g.pad_top:g.pad_top + x.shape[1], g.pad_left:g.pad_left + x.shape[2], :]
    return dx, dw, dy.sum(axis=(0, 1, 2))


def _pool_geometry(x, pool_size, strides, padding):
    pool = normalize_pair(pool_size, "pool_size")
    strides = pool if strides is None else normalize_pair(strides, "strides")
    return window_geometry(x.shape[1], x.shape[2], pool, strides, padding)


def max_pool2d_reference(x: Array, pool_size: Any = 2, strides: Any = None,
                         padding: str = "valid") -> Array:
    """y[n, oh, ow, c] = max of the window, padding counting as -inf."""
    g = _pool_geometry(x, pool_size, strides, padding)
    xp = _pad(x, g, -np.inf)
    y = np.empty((x.shape[0], g.out_h, g.out_w, x.shape[3]), dtype=x.dtype)
    for oh in range(g.out_h):
        for ow in range(g.out_w):
            rows, cols = _window(g, oh, ow)
            y[:, oh, ow, :] = xp[:, rows, cols, :].max(axis=(1, 2))
    return y


def max_pool2d_backward_reference(dy: Array, x: Array, pool_size: Any = 2, strides: Any = None,
                                  padding: str = "valid") -> Array:
    """dx: each window's dy goes to its first maximum in row-major order (as TF and PyTorch)."""
    g = _pool_geometry(x, pool_size, strides, padding)
    xp = _pad(x, g, -np.inf)
    dxp = np.zeros_like(xp)
    n, _, _, c = x.shape
    for oh in range(g.out_h):
        for ow in range(g.out_w):
            rows, cols = _window(g, oh, ow)
            window = xp[:, rows, cols, :].reshape(n, -1, c)
            first = window.argmax(axis=1)  # argmax returns the first of equal maxima
            i, j = np.unravel_index(first, (g.kh, g.kw))
            for b in range(n):
                for ch in range(c):
                    dxp[b, oh * g.sh + i[b, ch], ow * g.sw + j[b, ch], ch] += dy[b, oh, ow, ch]
    return dxp[:, g.pad_top:g.pad_top + x.shape[1], g.pad_left:g.pad_left + x.shape[2], :]


def avg_pool2d_reference(x: Array, pool_size: Any = 2, strides: Any = None,
                         padding: str = "valid") -> Array:
    """y[n, oh, ow, c] = mean of the window over the real (not padded) pixels, as Keras."""
    g = _pool_geometry(x, pool_size, strides, padding)
    xp = _pad(x, g, 0)
    real = _pad(np.ones((1,) + x.shape[1:3] + (1,), dtype=x.dtype), g, 0)
    y = np.empty((x.shape[0], g.out_h, g.out_w, x.shape[3]), dtype=x.dtype)
    for oh in range(g.out_h):
        for ow in range(g.out_w):
            rows, cols = _window(g, oh, ow)
            y[:, oh, ow, :] = xp[:, rows, cols, :].sum(axis=(1, 2)) / real[0, rows, cols, 0].sum()
    return y


def avg_pool2d_backward_reference(dy: Array, x: Array, pool_size: Any = 2, strides: Any = None,
                                  padding: str = "valid") -> Array:
    """dx: each window's dy, divided by its count of real pixels, goes to each of them."""
    g = _pool_geometry(x, pool_size, strides, padding)
    real = _pad(np.ones((1,) + x.shape[1:3] + (1,), dtype=x.dtype), g, 0)
    dxp = np.zeros_like(_pad(x, g, 0))
    for oh in range(g.out_h):
        for ow in range(g.out_w):
            rows, cols = _window(g, oh, ow)
            mask = real[:, rows, cols, :]
            dxp[:, rows, cols, :] += dy[:, oh:oh + 1, ow:ow + 1, :] * mask / mask.sum()
    return dxp[:, g.pad_top:g.pad_top + x.shape[1], g.pad_left:g.pad_left + x.shape[2], :]


def dense_reference(x: Array, w: Array, b: Array | None = None) -> Array:
    """y[..., o] = sum over i of x[..., i] * w[i, o] + b[o]."""
    y = np.einsum("...i,io->...o", x, w)
    return y if b is None else y + b


def dense_backward_reference(dy: Array, x: Array, w: Array) -> tuple[Array, Array, Array]:
    """dx = dy w^T, dw = sum over leading axes of x^T dy, db = sum over leading axes of dy."""
    dx = np.einsum("...o,io->...i", dy, w)
    x2, dy2 = x.reshape(-1, x.shape[-1]), dy.reshape(-1, dy.shape[-1])  # leading axes -> rows
    dw = np.einsum("ri,ro->io", x2, dy2)
    db = dy2.sum(axis=0)
    return dx, dw, db


# ---- 3-D: clips (batch, time, height, width, channels), kernels (kt, kh, kw, c_in, c_out) -------


def _pad3d(x, g, value):
    """x padded the Keras way along time, height and width."""
    pads = ((0, 0), (g.pad_front, g.pad_back), (g.pad_top, g.pad_bottom),
            (g.pad_left, g.pad_right), (0, 0))
    return np.pad(x, pads, constant_values=value)


def _unpad3d(xp, g, x_shape):
    _, t, h, w, _ = x_shape
    return xp[:, g.pad_front:g.pad_front + t, g.pad_top:g.pad_top + h,
              g.pad_left:g.pad_left + w, :]


def _window3d(g, ot, oh, ow):
    """Index of the window under output voxel (ot, oh, ow) in the padded input: three slices."""
    return (slice(ot * g.st, ot * g.st + (g.kt - 1) * g.dil_t + 1, g.dil_t),
            slice(oh * g.sh, oh * g.sh + (g.kh - 1) * g.dil_h + 1, g.dil_h),
            slice(ow * g.sw, ow * g.sw + (g.kw - 1) * g.dil_w + 1, g.dil_w))


def _outputs3d(g):
    return np.ndindex(g.out_t, g.out_h, g.out_w)


def conv3d_reference(x, w, b=None, strides=1, padding="valid", dilation_rate=1):
    """y[n, ot, oh, ow, o] = sum over (a, i, j, c) of window[n, a, i, j, c] * w[a, i, j, c, o]
    + b[o]."""
    g = volume_geometry(*x.shape[1:4], w.shape[:3], strides, padding, dilation_rate)
    xp = _pad3d(x, g, 0)
    y = np.zeros((x.shape[0], g.out_t, g.out_h, g.out_w, w.shape[4]), dtype=x.dtype)
    for ot, oh, ow in _outputs3d(g):
        t, r, c = _window3d(g, ot, oh, ow)
        y[:, ot, oh, ow, :] = np.einsum("naijc,aijco->no", xp[:, t, r, c, :], w)
    return y if b is None else y + b


def conv3d_backward_reference(dy, x, w, strides=1, padding="valid", dilation_rate=1):
    """dx, dw, db of conv3d: each output voxel sends dy back through the window it read."""
    g = volume_geometry(*x.shape[1:4], w.shape[:3], strides, padding, dilation_rate)
    xp = _pad3d(x, g, 0)
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for ot, oh, ow in _outputs3d(g):
        t, r, c = _window3d(g, ot, oh, ow)
        dxp[:, t, r, c, :] += np.einsum("no,aijco->naijc", dy[:, ot, oh, ow, :], w)
        dw += np.einsum("naijc,no->aijco", xp[:, t, r, c, :], dy[:, ot, oh, ow, :])
    return _unpad3d(dxp, g, x.shape), dw, dy.sum(axis=(0, 1, 2, 3))


def _pool3d_geometry(x, pool_size, strides, padding):
    pool = triple(pool_size)
    return volume_geometry(*x.shape[1:4], pool, pool if strides is None else strides, padding)


def max_pool3d_reference(x, pool_size=2, strides=None, padding="valid"):
    """y[n, ot, oh, ow, c] = max of the window, padding counting as -inf."""
    g = _pool3d_geometry(x, pool_size, strides, padding)
    xp = _pad3d(x, g, -np.inf)
    y = np.empty((x.shape[0], g.out_t, g.out_h, g.out_w, x.shape[4]), dtype=x.dtype)
    for ot, oh, ow in _outputs3d(g):
        y[:, ot, oh, ow, :] = xp[(slice(None),) + _window3d(g, ot, oh, ow)].max(axis=(1, 2, 3))
    return y


def max_pool3d_backward_reference(dy, x, pool_size=2, strides=None, padding="valid"):
    """dx: each window's dy goes to its first maximum in (a, i, j) order (as TF and PyTorch)."""
    g = _pool3d_geometry(x, pool_size, strides, padding)
    xp = _pad3d(x, g, -np.inf)
    dxp = np.zeros_like(xp)
    n, c = x.shape[0], x.shape[4]
    for ot, oh, ow in _outputs3d(g):
        window = xp[(slice(None),) + _window3d(g, ot, oh, ow)].reshape(n, -1, c)
        a, i, j = np.unravel_index(window.argmax(axis=1), (g.kt, g.kh, g.kw))
        for b in range(n):
            for ch in range(c):
                dxp[b, ot * g.st + a[b, ch], oh * g.sh + i[b, ch], ow * g.sw + j[b, ch],
                    ch] += dy[b, ot, oh, ow, ch]
    return _unpad3d(dxp, g, x.shape)


def avg_pool3d_reference(x, pool_size=2, strides=None, padding="valid"):
    """y[n, ot, oh, ow, c] = mean of the window over its real (not padded) voxels, as Keras/TF."""
    g = _pool3d_geometry(x, pool_size, strides, padding)
    xp = _pad3d(x, g, 0)
    real = _pad3d(np.ones((1,) + x.shape[1:4] + (1,), dtype=x.dtype), g, 0)
    y = np.empty((x.shape[0], g.out_t, g.out_h, g.out_w, x.shape[4]), dtype=x.dtype)
    for ot, oh, ow in _outputs3d(g):
        index = (slice(None),) + _window3d(g, ot, oh, ow)
        y[:, ot, oh, ow, :] = xp[index].sum(axis=(1, 2, 3)) / real[index].sum()
    return y


def avg_pool3d_backward_reference(dy, x, pool_size=2, strides=None, padding="valid"):
    """dx: each window's dy, divided by its count of real voxels, goes to each of them."""
    g = _pool3d_geometry(x, pool_size, strides, padding)
    real = _pad3d(np.ones((1,) + x.shape[1:4] + (1,), dtype=x.dtype), g, 0)
    dxp = np.zeros_like(_pad3d(x, g, 0))
    for ot, oh, ow in _outputs3d(g):
        index = (slice(None),) + _window3d(g, ot, oh, ow)
        mask = real[index]
        dxp[index] += dy[:, ot:ot + 1, oh:oh + 1, ow:ow + 1, :] * mask / mask.sum()
    return _unpad3d(dxp, g, x.shape)


def adam_update_reference(theta: Array, g: Array, m: Array, v: Array, one_minus_beta_1: float,
                          one_minus_beta_2: float, alpha_t: float,
                          epsilon: float) -> tuple[Array, Array, Array]:
    """One Adam step as whole-array NumPy expressions; returns the new (theta, m, v).

    m <- m + (1 - beta_1) (g - m),   v <- v + (1 - beta_2) (g^2 - v),
    theta <- theta - alpha_t m / (sqrt(v) + epsilon)
    """
    m = m + one_minus_beta_1 * (g - m)
    v = v + one_minus_beta_2 * (g * g - v)
    return theta - alpha_t * m / (np.sqrt(v) + epsilon), m, v


def rmsprop_update_reference(theta: Array, g: Array, v: Array, m: Array, a: Array, rho: float,
                             momentum: float, epsilon: float, alpha: float, use_momentum: bool,
                             centered: bool) -> tuple[Array, Array, Array, Array]:
    """One RMSprop step as whole-array NumPy expressions; returns the new (theta, v, m, a).

    v <- rho v + (1 - rho) g^2,   a <- rho a + (1 - rho) g (centered; then v - a^2 below)
    step = alpha g / sqrt(v (- a^2) + epsilon);   m <- momentum m + step, theta <- theta - m
    (without momentum theta <- theta - step)
    """
    v = rho * v + (1 - rho) * g * g
    denominator = v + epsilon
    if centered:
        a = rho * a + (1 - rho) * g
        denominator = v - a * a + epsilon
    step = alpha * g / np.sqrt(denominator)
    if use_momentum:
        m = momentum * m + step
        return theta - m, v, m, a
    return theta - step, v, m, a
