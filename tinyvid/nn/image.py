"""Image resampling ops for the preprocessing layers: resize and affine_transform, channels-last.

    resize            y[n, i, j, c] = sum_p sum_q Wh[i, p] Ww[j, q] x[n, p, q, c]
    Pad2D             x with a border of a constant value (Resizing's pad_to_aspect_ratio)
    smart_resize      the largest central window of the target's aspect ratio, resized
    affine_transform  y[n, i, j, c] = sum_k w[n, i, j, k] x[n, r[n, i, j, k], s[n, i, j, k], c]

Both are linear in x, so each backward is the transpose of its forward: dx = Wh^T dy Ww for
resize, and the weights scattered back onto the pixels they came from (np.add.at) for the affine
transform. Resizing follows PyTorch's `interpolate` as Keras 3's torch backend calls it
(half-pixel centres, no antialiasing; 'nearest' is 'nearest-exact'); the affine transform
follows Keras's `ops.image.affine_transform` (TF's 8-number transforms, its fill modes).
The work is two tensordots (BLAS) for resize, and NumPy gathers for the affine transform.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinyvid.autograd.function import Function
from tinyvid.autograd.tensor import Tensor

INTERPOLATIONS = ("bilinear", "nearest")
FILL_MODES = ("reflect", "wrap", "constant", "nearest")


def resize_weights(in_size: int, out_size: int, interpolation: str) -> np.ndarray:
    """The `(out_size, in_size)` matrix W of a 1-D resize: y = W x.

    Output pixel i samples the input at s = (i + 0.5) * in/out - 0.5 (half-pixel centres):
    bilinear mixes floor(s) and floor(s) + 1 (s clamped at 0, indices at the edge); nearest
    takes floor((i + 0.5) * in/out).
    """
    scale = in_size / out_size
    weights = np.zeros((out_size, in_size))
    for i in range(out_size):
        if interpolation == "nearest":
            weights[i, min(int(np.floor((i + 0.5) * scale)), in_size - 1)] = 1.0
            continue
        source = max((i + 0.5) * scale - 0.5, 0.0)
        low = min(int(np.floor(source)), in_size - 1)
        high, upper = min(low + 1, in_size - 1), source - low
        weights[i, low] += 1.0 - upper
        weights[i, high] += upper
    return weights


class Resize(Function):
    """y = Wh x Ww^T over the height and width axes of x (batch, height, width, channels)"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, *, wh: np.ndarray, ww: np.ndarray) -> np.ndarray:
        ctx.wh, ctx.ww = wh, ww
        y = np.tensordot(x, wh, axes=([1], [1]))  # (n, w, c, out_h)
        y = np.tensordot(y, ww, axes=([1], [1]))  # (n, c, out_h, out_w)
        return np.ascontiguousarray(y.transpose(0, 2, 3, 1))

    @staticmethod
    def backward(ctx: Any, grad_output: np.ndarray) -> np.ndarray:
        # y is linear in x: dx = Wh^T dy Ww
        dx = np.tensordot(grad_output, ctx.wh, axes=([1], [0]))  # (n, out_w, c, h)
        dx = np.tensordot(dx, ctx.ww, axes=([1], [0]))  # (n, c, h, w)
        return np.ascontiguousarray(dx.transpose(0, 2, 3, 1))


def resize(x: Tensor, size: tuple[int, int], interpolation: str = "bilinear") -> Tensor:
    """Resize images `(batch, height, width, channels)` to `(batch, *size, channels)`.

    Args:
        x: a Tensor of images.
        size: (height, width), positive integers.
        interpolation: 'bilinear' or 'nearest'.
    """
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"resize: invalid value for argument `interpolation`: expected one of "
                         f"{INTERPOLATIONS}. Received: interpolation={interpolation!r}")
    if len(size) != 2 or not all(isinstance(s, (int, np.integer)) and s > 0 for s in size):
        raise ValueError(f"resize: invalid value for argument `size`: expected (height, width), "
                         f"positive integers. Received: size={size!r}")
    _, h, w, _ = x.shape
    if (h, w) == tuple(size):
        return x
    wh = resize_weights(h, size[0], interpolation).astype(x.dtype)
    ww = resize_weights(w, size[1], interpolation).astype(x.dtype)
    return Resize.apply(x, wh=wh, ww=ww)


class Pad2D(Function):
    """y = x with `top`, `bottom`, `left`, `right` rows and columns of `value` around it"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, *, pads: tuple[int, int, int, int],
                value: float) -> np.ndarray:
        top, bottom, left, right = ctx.pads = pads
        return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)

    @staticmethod
    def backward(ctx: Any, grad_output: np.ndarray) -> np.ndarray:
        # dy/dx = 1 inside, and the padding does not depend on x
        top, bottom, left, right = ctx.pads
        h, w = grad_output.shape[1:3]
        return np.ascontiguousarray(grad_output[:, top:h - bottom, left:w - right])


def aspect_crop_box(h: int, w: int, height: int, width: int) -> tuple[int, int, int, int]:
    """(top, left, crop_h, crop_w): the largest central window of an h x w image with the
    aspect ratio of height x width (Keras's crop_to_aspect_ratio and smart_resize)."""
    crop_h = max(min(h, int(float(w * height) / width)), 1)
    crop_w = max(min(w, int(float(h * width) / height)), 1)
    return int(float(h - crop_h) / 2), int(float(w - crop_w) / 2), crop_h, crop_w


def smart_resize(x: Tensor, height: int, width: int, interpolation: str = "bilinear") -> Tensor:
    """The largest central window with the target's aspect ratio, resized to (height, width)."""
    top, left, crop_h, crop_w = aspect_crop_box(x.shape[1], x.shape[2], height, width)
    return resize(x[:, top:top + crop_h, left:left + crop_w], (height, width), interpolation)


# --- the affine transform ---------------------------------------------------------------------


def _mirror(index: np.ndarray, size: int) -> np.ndarray:
    half_wave = size - 1  # a triangular wave of period 2 (size - 1)
    return np.abs((index + half_wave) % (2 * half_wave) - half_wave)


def fix_indices(index: np.ndarray, size: int, fill_mode: str) -> np.ndarray:
    """Integer pixel indices outside [0, size) mapped inside, as Keras's fill modes do:
    reflect (d c b a | a b c d | d c b a), wrap (a b c d | a b c d), nearest and constant
    (clamped; constant then replaces those samples by the fill value)."""
    if fill_mode == "wrap":
        return index % size
    if fill_mode == "reflect":
        return (_mirror(2 * index + 1, 2 * size + 1) - 1) // 2
    return np.clip(index, 0, size - 1)


class AffineSample(Function):
    """y[n, i, j, c] = sum_k w[n, i, j, k] x[n, rows[n, i, j, k], cols[n, i, j, k], c]
    + fill[n, i, j] (the fill value's share, which does not depend on x)"""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, *, rows: np.ndarray, cols: np.ndarray,
                weights: np.ndarray, fill: np.ndarray) -> np.ndarray:
        ctx.x_shape, ctx.rows, ctx.cols, ctx.weights = x.shape, rows, cols, weights
        batch = np.arange(x.shape[0])[:, None, None, None]
        picked = x[batch, rows, cols]  # (n, out_h, out_w, k, c)
        return np.einsum("nijk,nijkc->nijc", weights, picked) + fill[..., None]

    @staticmethod
    def backward(ctx: Any, grad_output: np.ndarray) -> np.ndarray:
        # linear in x: each output's gradient goes back to the pixels it mixed, times its weight
        dx = np.zeros(ctx.x_shape, dtype=grad_output.dtype)
        batch = np.broadcast_to(np.arange(ctx.x_shape[0])[:, None, None, None], ctx.rows.shape)
        np.add.at(dx, (batch, ctx.rows, ctx.cols),
                  ctx.weights[..., None] * grad_output[:, :, :, None, :])
        return dx


def affine_transform(x: Tensor, transforms: np.ndarray, interpolation: str = "bilinear",
                     fill_mode: str = "constant", fill_value: float = 0.0) -> Tensor:
    """Warp each image by its transform, as Keras's `ops.image.affine_transform`.

    A transform [a0, a1, a2, b0, b1, b2, c0, c1] maps the output pixel (x, y) to the input
    point ((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k) with k = c0 x + c1 y + 1.

    Args:
        x: images `(batch, height, width, channels)`.
        transforms: `(batch, 8)`.
        interpolation: 'bilinear' or 'nearest'.
        fill_mode: how points outside the image are filled: 'reflect', 'wrap', 'constant'
            (with fill_value) or 'nearest'.
    """
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"affine_transform: invalid value for argument `interpolation`: expected "
                         f"one of {INTERPOLATIONS}. Received: interpolation={interpolation!r}")
    if fill_mode not in FILL_MODES:
        raise ValueError(f"affine_transform: invalid value for argument `fill_mode`: expected one "
                         f"of {FILL_MODES}. Received: fill_mode={fill_mode!r}")
    n, h, w, _ = x.shape
    transforms = np.asarray(transforms, dtype=np.float64).reshape(n, 8)
    ys, xs = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64),
                         indexing="ij")
    a0, a1, a2, b0, b1, b2, c0, c1 = (transforms[:, i, None, None] for i in range(8))
    k = c0 * xs + c1 * ys + 1.0
    source_x, source_y = (a0 * xs + a1 * ys + a2) / k, (b0 * xs + b1 * ys + b2) / k
    if interpolation == "nearest":
        corners = [(np.round(source_y), np.round(source_x), np.ones_like(source_x))]
    else:
        top, left = np.floor(source_y), np.floor(source_x)
        dy, dx = source_y - top, source_x - left
        corners = [(top, left, (1 - dy) * (1 - dx)), (top, left + 1, (1 - dy) * dx),
                   (top + 1, left, dy * (1 - dx)), (top + 1, left + 1, dy * dx)]
    rows = np.stack([r for r, _, _ in corners], axis=-1).astype(np.int64)
    cols = np.stack([c for _, c, _ in corners], axis=-1).astype(np.int64)
    weights = np.stack([wt for _, _, wt in corners], axis=-1)
    fill = np.zeros((n, h, w))
    if fill_mode == "constant":  # a sample outside the image is the fill value
        outside = (rows < 0) | (rows >= h) | (cols < 0) | (cols >= w)
        fill = np.sum(np.where(outside, weights, 0.0), axis=-1) * fill_value
        weights = np.where(outside, 0.0, weights)
    rows, cols = fix_indices(rows, h, fill_mode), fix_indices(cols, w, fill_mode)
    return AffineSample.apply(x, rows=rows, cols=cols, weights=weights.astype(x.dtype),
                              fill=fill.astype(x.dtype))
