"""Window geometry shared by convolution and pooling: output sizes, Keras-style padding, checks.

Pure Python, no Numba: these run once per call, on a handful of integers.

Keras / TensorFlow padding, for one spatial axis of length `size`, a window of `k` taps spaced
`dilation` apart (so it spans `effective_k = (k - 1) * dilation + 1` pixels) and a stride `s`:

    'valid':  out = floor((size - effective_k) / s) + 1,          no padding
    'same':   out = ceil(size / s)
              total = max((out - 1) * s + effective_k - size, 0)
              before = total // 2,  after = total - before      (the odd extra pixel goes after:
                                                                 at the bottom / on the right)

Output pixel `o` reads input pixels `o * s - before + t * dilation` for taps `t = 0 .. k - 1`;
the ones that fall outside `0 .. size - 1` are padding.
"""

import numbers
from typing import NamedTuple

import numpy as np


def normalize_pair(value, name, fn="conv2d"):
    """Turn an int or a pair of ints into a pair of positive ints.

    Args:
        value: an int `v` (meaning `(v, v)`) or a pair `(v_height, v_width)`.
        name: the argument's name, for the error message.
        fn: the public function's name, for the error message.

    Returns:
        A tuple `(v_height, v_width)` of Python ints, each >= 1.

    Raises:
        ValueError: when the value is not one or two positive integers.
    """
    if _is_int(value):
        pair = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(map(_is_int, value)):
        pair = (int(value[0]), int(value[1]))
    else:
        raise ValueError(
            f"{fn}: {name} must be a positive int or a pair of positive ints, got {value!r}"
        )
    if pair[0] < 1 or pair[1] < 1:
        raise ValueError(f"{fn}: {name} must be positive, got {value!r}")
    return pair


def _is_int(v):
    """True for Python and NumPy integers (not bools, not floats such as 2.0)."""
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def axis_geometry(size, k, stride, dilation, padding):
    """Output length and padding of one spatial axis, with Keras semantics.

    Args:
        size: input length along the axis.
        k: number of taps of the window (kernel or pool size) along the axis.
        stride: step between consecutive windows.
        dilation: spacing between taps (1 for pooling and for an ordinary convolution).
        padding: "valid" or "same".

    Returns:
        `(out, pad_before, pad_after)`. For 'valid', `out` may be <= 0 when the window is larger
        than the input; callers turn that into an error naming their own arguments.
    """
    effective_k = (k - 1) * dilation + 1
    if padding == "valid":
        return (size - effective_k) // stride + 1, 0, 0
    out = -(-size // stride)  # ceil(size / stride)
    total = max((out - 1) * stride + effective_k - size, 0)
    before = total // 2
    return out, before, total - before


class Geometry(NamedTuple):
    """Everything a 2-D window kernel needs besides the arrays (all Python ints)."""

    out_h: int
    out_w: int
    pad_top: int
    pad_bottom: int
    pad_left: int
    pad_right: int
    kh: int
    kw: int
    sh: int
    sw: int
    dil_h: int
    dil_w: int


def window_geometry(h, w, kernel_size, strides, padding, dilation=(1, 1)):
    """Output size and padding of a 2-D window op (conv or pool) on an `h x w` input.

    Args:
        h, w: input height and width.
        kernel_size: `(kh, kw)`, taps of the window.
        strides: `(sh, sw)`.
        padding: "valid" or "same".
        dilation: `(dil_h, dil_w)`.

    Returns:
        A `Geometry(out_h, out_w, pad_top, pad_bottom, pad_left, pad_right, kh, kw, sh, sw,
        dil_h, dil_w)`.
    """
    kh, kw = kernel_size
    sh, sw = strides
    dil_h, dil_w = dilation
    out_h, top, bottom = axis_geometry(h, kh, sh, dil_h, padding)
    out_w, left, right = axis_geometry(w, kw, sw, dil_w, padding)
    return Geometry(out_h, out_w, top, bottom, left, right, kh, kw, sh, sw, dil_h, dil_w)


# ---- argument checks shared by the kernels and tinyvid.nn_ops ------------------------------------

def check_padding(padding, fn):
    """Return "valid" or "same" (any case), else raise a ValueError naming `fn`."""
    if isinstance(padding, str) and padding.lower() in ("valid", "same"):
        return padding.lower()
    raise ValueError(f"{fn}: padding must be 'valid' or 'same', got {padding!r}")


def conv_geometry(x_shape, w_shape, strides=1, padding="valid", dilation_rate=1, b_shape=None,
                  fn="conv2d"):
    """Check the shapes and arguments of a 2-D convolution and return its Geometry.

    Args:
        x_shape: `(batch, height, width, c_in)`.
        w_shape: `(kh, kw, c_in, c_out)`.
        strides, dilation_rate: an int or a pair.
        padding: "valid" or "same".
        b_shape: `(c_out,)`, or None for no bias.
        fn: the public function's name, for error messages.

    Returns:
        A Geometry.

    Raises:
        ValueError: naming `fn`, the argument, what was expected and what came.
    """
    if len(x_shape) != 4:
        raise ValueError(f"{fn}: expected x of 4 dimensions (batch, height, width, channels), "
                         f"got x.shape={tuple(x_shape)}")
    if len(w_shape) != 4:
        raise ValueError(f"{fn}: expected a kernel w of 4 dimensions (kh, kw, c_in, c_out), "
                         f"got w.shape={tuple(w_shape)}")
    if min(w_shape) < 1:
        raise ValueError(f"{fn}: every dimension of the kernel must be >= 1, "
                         f"got w.shape={tuple(w_shape)}")
    if x_shape[3] != w_shape[2]:
        raise ValueError(f"{fn}: input has {x_shape[3]} channels (x.shape={tuple(x_shape)}) "
                         f"but the kernel expects {w_shape[2]} (w.shape={tuple(w_shape)})")
    if b_shape is not None and tuple(b_shape) != (w_shape[3],):
        raise ValueError(f"{fn}: expected a bias of shape ({w_shape[3]},) for a kernel with "
                         f"{w_shape[3]} output channels (w.shape={tuple(w_shape)}), "
                         f"got b.shape={tuple(b_shape)}")
    strides = normalize_pair(strides, "strides", fn)
    dilation = normalize_pair(dilation_rate, "dilation_rate", fn)
    padding = check_padding(padding, fn)
    g = window_geometry(x_shape[1], x_shape[2], w_shape[:2], strides, padding, dilation)
    if g.out_h < 1 or g.out_w < 1:
        span = ((w_shape[0] - 1) * dilation[0] + 1, (w_shape[1] - 1) * dilation[1] + 1)
        raise ValueError(f"{fn}: the kernel spans {span} pixels (w.shape={tuple(w_shape)}, "
                         f"dilation_rate={dilation}), larger than the input's "
                         f"{tuple(x_shape[1:3])} (x.shape={tuple(x_shape)}) with "
                         f"padding='valid'")
    return g


def pool_geometry(x_shape, pool_size=2, strides=None, padding="valid", fn="max_pool2d"):
    """Check the arguments of a 2-D pooling and return its Geometry (strides None = pool_size).

    Args:
        x_shape: `(batch, height, width, channels)`.
        pool_size, strides: an int or a pair; strides None means pool_size.
        padding: "valid" or "same".
        fn: the public function's name, for error messages.

    Returns:
        A Geometry (with dilation 1).

    Raises:
        ValueError: naming `fn`, the argument, what was expected and what came.
    """
    if len(x_shape) != 4:
        raise ValueError(f"{fn}: expected x of 4 dimensions (batch, height, width, channels), "
                         f"got x.shape={tuple(x_shape)}")
    pool = normalize_pair(pool_size, "pool_size", fn)
    strides = pool if strides is None else normalize_pair(strides, "strides", fn)
    padding = check_padding(padding, fn)
    g = window_geometry(x_shape[1], x_shape[2], pool, strides, padding)
    if g.out_h < 1 or g.out_w < 1:
        raise ValueError(f"{fn}: pool_size={pool} is larger than the input's "
                         f"{tuple(x_shape[1:3])} (x.shape={tuple(x_shape)}) with "
                         f"padding='valid'")
    return g


def float_arrays(fn, *arrays):
    """The arrays as C-contiguous float32 or float64 of one common dtype (None stays None).

    float32 with float64 gives float64, as NumPy promotes. Integers, float16 and others raise a
    ValueError naming `fn`: the kernels are compiled for float32 and float64 only.
    """
    present = [a for a in arrays if a is not None]
    dtype = np.result_type(*present)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"{fn}: expected float32 or float64 arrays, got dtypes "
                         f"{', '.join(str(np.asarray(a).dtype) for a in present)}")
    return tuple(None if a is None else np.ascontiguousarray(a, dtype=dtype) for a in arrays)
