"""Window geometry shared by convolution and pooling: output sizes, Keras-style padding, checks.

The one geometry module of tinyvid: the kernels compute their loops' bounds with it, and the
layers and the public functions of tinyvid.nn check their arguments with it. Pure Python, no
Numba: these run once per call, on a handful of integers.

Two halves:
- geometry (`axis_geometry`, `window_geometry`, `conv_geometry`, `pool_geometry`,
  `output_length`): trusts its arguments; the kernels call only these.
- checks (`normalize_tuple`, `check_padding`, `check_conv`, `check_pool`, `check_dense`): run
  once, at the door the user came in by (a layer's `__init__` / `build`, or a function of
  tinyvid.nn), and raise a ValueError naming who, the argument, what was expected and what came.

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

import math
import numbers
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np


def axis_geometry(size: int, k: int, stride: int, dilation: int,
                  padding: str) -> tuple[int, int, int]:
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


def pair(value: int | Sequence[int]) -> tuple[int, int]:
    """`v` -> `(v, v)`; a pair stays a pair. No checks: see `normalize_tuple` for those."""
    if isinstance(value, (int, np.integer)):
        return (int(value), int(value))
    first, second = value
    return (int(first), int(second))


def window_geometry(h: int, w: int, kernel_size: int | Sequence[int],
                    strides: int | Sequence[int], padding: str,
                    dilation: int | Sequence[int] = (1, 1)) -> Geometry:
    """Output size and padding of a 2-D window op (conv or pool) on an `h x w` input.

    Args:
        h, w: input height and width.
        kernel_size: `(kh, kw)`, taps of the window (an int means both).
        strides: `(sh, sw)` (or an int).
        padding: "valid" or "same".
        dilation: `(dil_h, dil_w)` (or an int).

    Returns:
        A `Geometry(out_h, out_w, pad_top, pad_bottom, pad_left, pad_right, kh, kw, sh, sw,
        dil_h, dil_w)`.
    """
    kh, kw = pair(kernel_size)
    sh, sw = pair(strides)
    dil_h, dil_w = pair(dilation)
    out_h, top, bottom = axis_geometry(h, kh, sh, dil_h, padding)
    out_w, left, right = axis_geometry(w, kw, sw, dil_w, padding)
    return Geometry(out_h, out_w, top, bottom, left, right, kh, kw, sh, sw, dil_h, dil_w)


def conv_geometry(x_shape: Sequence[int], w_shape: Sequence[int],
                  strides: int | Sequence[int] = 1, padding: str = "valid",
                  dilation_rate: int | Sequence[int] = 1) -> Geometry:
    """The Geometry of a 2-D convolution of x `(batch, h, w, c_in)` by w `(kh, kw, c_in, c_out)`."""
    return window_geometry(x_shape[1], x_shape[2], (w_shape[0], w_shape[1]), strides, padding,
                           dilation_rate)


def pool_geometry(x_shape: Sequence[int], pool_size: int | Sequence[int] = 2,
                  strides: int | Sequence[int] | None = None, padding: str = "valid") -> Geometry:
    """The Geometry of a 2-D pooling of x `(batch, h, w, c)`; strides None means pool_size."""
    return window_geometry(x_shape[1], x_shape[2], pool_size,
                           pool_size if strides is None else strides, padding)


def output_length(size: int | None, k: int, stride: int, dilation: int,
                  padding: str) -> int | None:
    """Output length along one axis with Keras's padding rules; an unknown size stays None.

    'valid': floor((size - (k - 1) * dilation - 1) / stride) + 1;  'same': ceil(size / stride).
    """
    if size is None:
        return None
    if padding == "same":
        return math.ceil(size / stride)
    return (size - (k - 1) * dilation - 1) // stride + 1


# ---- checks: once per call, where the user came in ---------------------------------------------


def _is_int(v: Any) -> bool:
    """True for Python and NumPy integers (not bools, not floats such as 2.0)."""
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def normalize_tuple(value: Any, n: int, name: str, where: str) -> tuple[int, ...]:
    """An int `v` (meaning `(v,) * n`) or a tuple of n ints -> a tuple of n positive ints.

    Args:
        value: what the user gave.
        n: how many axes (2 for Conv2D, 3 for Conv3D).
        name: the argument's name, for the error message.
        where: who is asking, for the error message: "conv2d", or "Conv2D layer 'conv2d_1'".

    Raises:
        ValueError: unless the value is one positive int or n of them.
    """
    if _is_int(value):
        values = (int(value),) * n
    elif (isinstance(value, (tuple, list)) and len(value) == n
          and all(_is_int(v) for v in value)):
        values = tuple(int(v) for v in value)
    else:
        values = ()
    if not values or min(values) < 1:
        raise ValueError(f"{where}: invalid value for argument `{name}`: expected a positive "
                         f"integer or a tuple of {n} positive integers. Received: "
                         f"{name}={value!r}")
    return values


def normalize_pair(value: Any, name: str, fn: str = "conv2d") -> tuple[int, int]:
    """`normalize_tuple(value, 2, name, fn)`: an int or a pair -> a pair of positive ints."""
    first, second = normalize_tuple(value, 2, name, fn)
    return (first, second)


def check_padding(padding: Any, where: str) -> str:
    """Return "valid" or "same" (any case), else raise a ValueError naming `where`."""
    if isinstance(padding, str) and padding.lower() in ("valid", "same"):
        return padding.lower()
    raise ValueError(f"{where}: invalid value for argument `padding`: expected one of "
                     f"\"valid\", \"same\". Received: padding={padding!r}")


def check_conv(x_shape: Sequence[int], w_shape: Sequence[int], b_shape: Sequence[int] | None,
               strides: Any, padding: Any, dilation_rate: Any,
               fn: str = "conv2d") -> tuple[tuple[int, int], str, tuple[int, int]]:
    """Check a 2-D convolution's shapes and arguments; return (strides, padding, dilation).

    Args:
        x_shape: `(batch, height, width, c_in)`.
        w_shape: `(kh, kw, c_in, c_out)`.
        b_shape: `(c_out,)`, or None for no bias.
        strides, dilation_rate: an int or a pair.
        padding: "valid" or "same".
        fn: the public function's name, for error messages.

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
    g = conv_geometry(x_shape, w_shape, strides, padding, dilation)
    if g.out_h < 1 or g.out_w < 1:
        span = ((w_shape[0] - 1) * dilation[0] + 1, (w_shape[1] - 1) * dilation[1] + 1)
        raise ValueError(f"{fn}: the kernel spans {span} pixels (w.shape={tuple(w_shape)}, "
                         f"dilation_rate={dilation}), larger than the input's "
                         f"{tuple(x_shape[1:3])} (x.shape={tuple(x_shape)}) with "
                         f"padding='valid'")
    return strides, padding, dilation


def check_pool(x_shape: Sequence[int], pool_size: Any, strides: Any, padding: Any,
               fn: str = "max_pool2d") -> tuple[tuple[int, int], tuple[int, int], str]:
    """Check a 2-D pooling's arguments; return (pool_size, strides, padding), strides None =
    pool_size.

    Raises:
        ValueError: naming `fn`, the argument, what was expected and what came.
    """
    if len(x_shape) != 4:
        raise ValueError(f"{fn}: expected x of 4 dimensions (batch, height, width, channels), "
                         f"got x.shape={tuple(x_shape)}")
    pool = normalize_pair(pool_size, "pool_size", fn)
    steps = pool if strides is None else normalize_pair(strides, "strides", fn)
    padding = check_padding(padding, fn)
    g = pool_geometry(x_shape, pool, steps, padding)
    if g.out_h < 1 or g.out_w < 1:
        raise ValueError(f"{fn}: pool_size={pool} is larger than the input's "
                         f"{tuple(x_shape[1:3])} (x.shape={tuple(x_shape)}) with "
                         f"padding='valid'")
    return pool, steps, padding


def check_dense(x_shape: Sequence[int], w_shape: Sequence[int],
                b_shape: Sequence[int] | None = None, fn: str = "dense") -> None:
    """Raise a ValueError naming `fn` unless x `(..., in)`, w `(in, out)`, b `(out,)` fit."""
    if len(x_shape) < 1:
        raise ValueError(f"{fn}: expected x with at least 1 dimension (..., in), "
                         f"got x.shape={tuple(x_shape)}")
    if len(w_shape) != 2:
        raise ValueError(f"{fn}: expected a kernel w of 2 dimensions (in, out), "
                         f"got w.shape={tuple(w_shape)}")
    if x_shape[-1] != w_shape[0]:
        raise ValueError(f"{fn}: input has {x_shape[-1]} features (x.shape={tuple(x_shape)}) "
                         f"but the kernel expects {w_shape[0]} (w.shape={tuple(w_shape)})")
    if b_shape is not None and tuple(b_shape) != (w_shape[1],):
        raise ValueError(f"{fn}: expected a bias of shape ({w_shape[1]},) for a kernel with "
                         f"{w_shape[1]} outputs (w.shape={tuple(w_shape)}), "
                         f"got b.shape={tuple(b_shape)}")


def float_arrays(fn: str, *arrays: Any) -> tuple[Any, ...]:
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


# ---- 3-D: clips (batch, time, height, width, channels) ------------------------------------
# The same per-axis rules (axis_geometry), applied to time as well as height and width.


class Geometry3D(NamedTuple):
    """Everything a 3-D window kernel needs besides the arrays (all Python ints): per axis
    (t = time, h = height, w = width) the output length, the padding before / after, the taps,
    the stride and the dilation."""

    out_t: int
    out_h: int
    out_w: int
    pad_front: int
    pad_back: int
    pad_top: int
    pad_bottom: int
    pad_left: int
    pad_right: int
    kt: int
    kh: int
    kw: int
    st: int
    sh: int
    sw: int
    dil_t: int
    dil_h: int
    dil_w: int


def triple(value: int | Sequence[int]) -> tuple[int, int, int]:
    """`v` -> `(v, v, v)`; a triple stays a triple. No checks: see `normalize_tuple`."""
    if isinstance(value, numbers.Integral):
        return (int(value),) * 3
    first, second, third = value
    return (int(first), int(second), int(third))


def volume_geometry(t: int, h: int, w: int, kernel_size: int | Sequence[int],
                    strides: int | Sequence[int], padding: str,
                    dilation: int | Sequence[int] = 1) -> Geometry3D:
    """Output size and padding of a 3-D window op (conv or pool) on a `t x h x w` clip.

    Each axis follows `axis_geometry` (Keras / TensorFlow 'same': the odd extra pixel goes
    after, i.e. at the last frame, the bottom, the right).
    """
    kt, kh, kw = triple(kernel_size)
    st, sh, sw = triple(strides)
    dil_t, dil_h, dil_w = triple(dilation)
    out_t, front, back = axis_geometry(t, kt, st, dil_t, padding)
    out_h, top, bottom = axis_geometry(h, kh, sh, dil_h, padding)
    out_w, left, right = axis_geometry(w, kw, sw, dil_w, padding)
    return Geometry3D(out_t, out_h, out_w, front, back, top, bottom, left, right,
                      kt, kh, kw, st, sh, sw, dil_t, dil_h, dil_w)


def conv3d_geometry(x_shape: Sequence[int], w_shape: Sequence[int],
                    strides: int | Sequence[int] = 1, padding: str = "valid",
                    dilation_rate: int | Sequence[int] = 1) -> Geometry3D:
    """The Geometry3D of x `(batch, t, h, w, c_in)` convolved by w `(kt, kh, kw, c_in, c_out)`."""
    return volume_geometry(x_shape[1], x_shape[2], x_shape[3], tuple(w_shape[:3]), strides,
                           padding, dilation_rate)


def pool3d_geometry(x_shape: Sequence[int], pool_size: int | Sequence[int] = 2,
                    strides: int | Sequence[int] | None = None,
                    padding: str = "valid") -> Geometry3D:
    """The Geometry3D of a 3-D pooling of x `(batch, t, h, w, c)`; strides None = pool_size."""
    return volume_geometry(x_shape[1], x_shape[2], x_shape[3], pool_size,
                           pool_size if strides is None else strides, padding)


def check_conv3d(x_shape: Sequence[int], w_shape: Sequence[int],
                 b_shape: Sequence[int] | None, strides: Any, padding: Any, dilation_rate: Any,
                 fn: str = "conv3d") -> tuple[tuple[int, ...], str, tuple[int, ...]]:
    """Check a 3-D convolution's shapes and arguments; return (strides, padding, dilation).

    Args:
        x_shape: `(batch, time, height, width, c_in)`.
        w_shape: `(kt, kh, kw, c_in, c_out)`.
        b_shape: `(c_out,)`, or None for no bias.
        strides, dilation_rate: an int or a triple.
        padding: "valid" or "same".
        fn: the public function's name, for error messages.

    Raises:
        ValueError: naming `fn`, the argument, what was expected and what came.
    """
    if len(x_shape) != 5:
        raise ValueError(f"{fn}: expected x of 5 dimensions (batch, time, height, width, "
                         f"channels), got x.shape={tuple(x_shape)}")
    if len(w_shape) != 5:
        raise ValueError(f"{fn}: expected a kernel w of 5 dimensions (kt, kh, kw, c_in, c_out), "
                         f"got w.shape={tuple(w_shape)}")
    if min(w_shape) < 1:
        raise ValueError(f"{fn}: every dimension of the kernel must be >= 1, "
                         f"got w.shape={tuple(w_shape)}")
    if x_shape[4] != w_shape[3]:
        raise ValueError(f"{fn}: input has {x_shape[4]} channels (x.shape={tuple(x_shape)}) "
                         f"but the kernel expects {w_shape[3]} (w.shape={tuple(w_shape)})")
    if b_shape is not None and tuple(b_shape) != (w_shape[4],):
        raise ValueError(f"{fn}: expected a bias of shape ({w_shape[4]},) for a kernel with "
                         f"{w_shape[4]} output channels (w.shape={tuple(w_shape)}), "
                         f"got b.shape={tuple(b_shape)}")
    steps = normalize_tuple(strides, 3, "strides", fn)
    dilation = normalize_tuple(dilation_rate, 3, "dilation_rate", fn)
    padding = check_padding(padding, fn)
    g = conv3d_geometry(x_shape, w_shape, steps, padding, dilation)
    if min(g.out_t, g.out_h, g.out_w) < 1:
        span = tuple((k - 1) * d + 1 for k, d in zip(w_shape[:3], dilation))
        raise ValueError(f"{fn}: the kernel spans {span} (w.shape={tuple(w_shape)}, "
                         f"dilation_rate={dilation}), larger than the input's "
                         f"{tuple(x_shape[1:4])} (x.shape={tuple(x_shape)}) with "
                         f"padding='valid'")
    return steps, padding, dilation


def check_pool3d(x_shape: Sequence[int], pool_size: Any, strides: Any, padding: Any,
                 fn: str = "max_pool3d") -> tuple[tuple[int, ...], tuple[int, ...], str]:
    """Check a 3-D pooling's arguments; return (pool_size, strides, padding), strides None =
    pool_size.

    Raises:
        ValueError: naming `fn`, the argument, what was expected and what came.
    """
    if len(x_shape) != 5:
        raise ValueError(f"{fn}: expected x of 5 dimensions (batch, time, height, width, "
                         f"channels), got x.shape={tuple(x_shape)}")
    pool = normalize_tuple(pool_size, 3, "pool_size", fn)
    steps = pool if strides is None else normalize_tuple(strides, 3, "strides", fn)
    padding = check_padding(padding, fn)
    g = pool3d_geometry(x_shape, pool, steps, padding)
    if min(g.out_t, g.out_h, g.out_w) < 1:
        raise ValueError(f"{fn}: pool_size={pool} is larger than the input's "
                         f"{tuple(x_shape[1:4])} (x.shape={tuple(x_shape)}) with "
                         f"padding='valid'")
    return pool, steps, padding
