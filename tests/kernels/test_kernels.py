"""The kernels: jitted == plain Python == slow NumPy reference (== PyTorch where it is installed).

Three layers, cheapest first:
  * geometry: Keras 'valid' / 'same' output sizes and padding, against hand-computed values;
  * every kernel, forward and backward, against kernels/reference.py on a table of cases (odd
    sizes, strides 1 and 2, both paddings, 1x1 and 5x5 kernels, batch 1, dilation, float32 and
    float64) and on hypothesis-drawn ones; the plain-Python path (jit=False) on the same table
    must give exactly the jitted numbers; the reference backward itself against finite
    differences, so the chain of trust ends in arithmetic;
  * PyTorch, after permuting to NCHW and padding the Keras way (skipped without torch).

Shapes stay tiny, so the file runs in seconds after JIT warm-up, and also under
NUMBA_DISABLE_JIT=1. Timings live in benchmarks/bench_kernels.py, never here.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyvid.kernels import (
    avg_pool2d_backward,
    avg_pool2d_forward,
    conv2d_backward,
    conv2d_forward,
    conv_geometry,
    dense_backward,
    dense_forward,
    max_pool2d_backward,
    max_pool2d_forward,
    pool_geometry,
    window_geometry,
)
from tinyvid.kernels import conv as conv_module
from tinyvid.kernels.geometry import axis_geometry
from tinyvid.kernels.reference import (
    avg_pool2d_backward_reference,
    avg_pool2d_reference,
    conv2d_backward_reference,
    conv2d_reference,
    dense_backward_reference,
    dense_reference,
    max_pool2d_backward_reference,
    max_pool2d_reference,
)

DTYPES = [np.float32, np.float64]


def tolerance(dtype):
    """float32 kernels sum in a different order than the float64 reference."""
    return dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)


def random(shape, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# ---- geometry ------------------------------------------------------------------------------------

@pytest.mark.parametrize("size, k, stride, dilation, padding, expected", [
    (7, 3, 1, 1, "valid", (5, 0, 0)),
    (7, 3, 2, 1, "valid", (3, 0, 0)),
    (8, 3, 2, 1, "valid", (3, 0, 0)),
    (7, 3, 1, 2, "valid", (3, 0, 0)),       # dilated: spans 5 pixels
    (5, 3, 1, 1, "same", (5, 1, 1)),
    (5, 3, 2, 1, "same", (3, 1, 1)),        # ceil(5/2) = 3, total = 2*2 + 3 - 5 = 2
    (6, 3, 2, 1, "same", (3, 0, 1)),        # total 1: the odd pixel goes after (bottom/right)
    (7, 4, 1, 1, "same", (7, 1, 2)),
    (4, 2, 2, 1, "same", (2, 0, 0)),
    (3, 5, 1, 1, "same", (3, 2, 2)),        # kernel larger than the input is fine with 'same'
    (6, 1, 4, 1, "same", (2, 0, 0)),        # total = max(4 + 1 - 6, 0) = 0
    (9, 3, 1, 3, "same", (9, 3, 3)),        # dilated 'same': spans 7, total 6
])
def test_axis_geometry_matches_keras(size, k, stride, dilation, padding, expected):
    assert axis_geometry(size, k, stride, dilation, padding) == expected


def test_window_geometry_combines_two_axes():
    g = window_geometry(6, 5, (3, 2), (2, 1), "same", (1, 2))
    assert (g.out_h, g.out_w) == (3, 5)
    assert (g.pad_top, g.pad_bottom, g.pad_left, g.pad_right) == (0, 1, 1, 1)


# ---- convolution ---------------------------------------------------------------------------------

# (x shape, w shape, strides, padding, dilation_rate)
CONV_CASES = [
    ((2, 7, 6, 3), (3, 3, 3, 4), 1, "valid", 1),
    ((2, 7, 6, 3), (3, 3, 3, 4), 1, "same", 1),
    ((2, 7, 6, 3), (3, 3, 3, 4), 2, "valid", 1),
    ((2, 7, 6, 3), (3, 3, 3, 4), 2, "same", 1),
    ((1, 5, 5, 2), (1, 1, 2, 3), 1, "valid", 1),
    ((1, 5, 5, 2), (1, 1, 2, 3), 2, "same", 1),
    ((2, 9, 8, 2), (5, 5, 2, 3), 1, "valid", 1),
    ((2, 9, 8, 2), (5, 5, 2, 3), (2, 1), "same", 1),
    ((1, 9, 9, 2), (3, 2, 2, 3), 1, "same", 2),
    ((2, 11, 10, 1), (3, 3, 1, 2), 1, "valid", (2, 3)),
    ((1, 4, 3, 2), (5, 5, 2, 1), 1, "same", 1),
    ((3, 6, 5, 4), (2, 3, 4, 2), 3, "same", 1),
]


def conv_id(case):
    x_shape, w_shape, strides, padding, dilation = case
    return f"x{x_shape}-w{w_shape}-s{strides}-{padding}-d{dilation}"


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", CONV_CASES, ids=conv_id)
def test_conv2d_matches_reference(case, dtype):
    x_shape, w_shape, strides, padding, dilation = case
    x, w, b = random(x_shape, dtype, 1), random(w_shape, dtype, 2), random(w_shape[3], dtype, 3)
    y = conv2d_forward(x, w, b, strides, padding, dilation)
    x64, w64, b64 = (a.astype(np.float64) for a in (x, w, b))
    assert y.dtype == dtype
    np.testing.assert_allclose(y, conv2d_reference(x64, w64, b64, strides, padding, dilation),
                               **tolerance(dtype))

    dy = random(y.shape, dtype, 4)
    dx, dw, db = conv2d_backward(dy, x, w, strides, padding, dilation)
    expected = conv2d_backward_reference(dy.astype(np.float64), x64, w64, strides, padding,
                                         dilation)
    for got, want in zip((dx, dw, db), expected):
        assert got.dtype == dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, **tolerance(dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", CONV_CASES, ids=conv_id)
def test_conv2d_plain_python_equals_jitted(case, dtype):
    x_shape, w_shape, strides, padding, dilation = case
    x, w, b = random(x_shape, dtype, 1), random(w_shape, dtype, 2), random(w_shape[3], dtype, 3)
    y = conv2d_forward(x, w, b, strides, padding, dilation)
    np.testing.assert_array_equal(conv2d_forward(x, w, b, strides, padding, dilation, jit=False), y)
    dy = random(y.shape, dtype, 4)
    jitted = conv2d_backward(dy, x, w, strides, padding, dilation)
    plain = conv2d_backward(dy, x, w, strides, padding, dilation, jit=False)
    for got, want in zip(plain, jitted):
        np.testing.assert_array_equal(got, want)


def test_im2col_plain_function_equals_jitted_alias():
    x = random((2, 5, 4, 3), np.float64)
    args = (0, 4, 3, 2, 2, 1, 1, 1, 1, 0, 0)  # n0, out_h, out_w, kh, kw, sh, sw, dil, pads
    plain = conv_module._im2col(x, *args, np.empty((2 * 4 * 3, 12)))
    jitted = conv_module.im2col(x, *args, np.empty((2 * 4 * 3, 12)))
    np.testing.assert_array_equal(plain, jitted)
    assert plain[0].tolist() == [*x[0, 0, 0], *x[0, 0, 1], *x[0, 1, 0], *x[0, 1, 1]]


def test_conv2d_by_hand():
    x = np.arange(9, dtype=np.float64).reshape(1, 3, 3, 1)   # 0 1 2 / 3 4 5 / 6 7 8
    w = np.ones((2, 2, 1, 1))
    assert conv2d_forward(x, w, np.array([0.5]))[0, :, :, 0].tolist() == [[8.5, 12.5],
                                                                           [20.5, 24.5]]
    # 'same' with a 2x2 kernel pads one row at the bottom and one column on the right
    assert conv2d_forward(x, w, padding="same")[0, :, :, 0].tolist() == [[8, 12, 7],
                                                                         [20, 24, 13],
                                                                         [13, 15, 8]]


@settings(deadline=None, max_examples=20)
@given(n=st.integers(1, 2), h=st.integers(1, 8), w=st.integers(1, 8), c_in=st.integers(1, 3),
       c_out=st.integers(1, 3), kh=st.integers(1, 4), kw=st.integers(1, 4),
       strides=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
       padding=st.sampled_from(["valid", "same"]), seed=st.integers(0, 2**16))
def test_conv2d_matches_reference_on_drawn_shapes(n, h, w, c_in, c_out, kh, kw, strides,
                                                   dilation, padding, seed):
    g = window_geometry(h, w, (kh, kw), strides, padding, dilation)
    if g.out_h < 1 or g.out_w < 1:
        return  # kernel larger than a 'valid' input: an error, tested in test_nn_ops.py
    x, wk = random((n, h, w, c_in), np.float64, seed), random((kh, kw, c_in, c_out), np.float64)
    y = conv2d_forward(x, wk, None, strides, padding, dilation)
    np.testing.assert_allclose(y, conv2d_reference(x, wk, None, strides, padding, dilation),
                               rtol=1e-10, atol=1e-10)
    dy = random(y.shape, np.float64, seed + 1)
    got = conv2d_backward(dy, x, wk, strides, padding, dilation)
    want = conv2d_backward_reference(dy, x, wk, strides, padding, dilation)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


def test_conv2d_backward_reference_matches_finite_differences():
    """The reference backward is itself checked against the forward, by central differences."""
    x, w = random((1, 5, 4, 2), np.float64, 1), random((3, 2, 2, 2), np.float64, 2)
    b = random(2, np.float64, 3)
    args = ((2, 1), "same", 1)
    dy = random(conv2d_reference(x, w, b, *args).shape, np.float64, 4)
    analytic = conv2d_backward_reference(dy, x, w, *args)

    def loss(x_, w_, b_):
        return np.sum(conv2d_reference(x_, w_, b_, *args) * dy)

    for which, array in enumerate((x, w, b)):
        numeric = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + 1e-6
            up = loss(x, w, b)
            array[index] = saved - 1e-6
            down = loss(x, w, b)
            array[index] = saved
            numeric[index] = (up - down) / 2e-6
        np.testing.assert_allclose(analytic[which], numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("chunk", [1, 2, 3, 5])
def test_conv2d_chunking_and_kept_columns_give_the_same_gradients(chunk):
    x, w, b = random((5, 6, 6, 2), np.float32, 1), random((3, 3, 2, 3), np.float32, 2), None
    y, cols = conv2d_forward(x, w, b, 2, "same", keep_cols=True)
    np.testing.assert_allclose(conv2d_forward(x, w, b, 2, "same", chunk=chunk), y,
                               rtol=1e-6, atol=1e-6)
    dy = random(y.shape, np.float32, 3)
    default = conv2d_backward(dy, x, w, 2, "same")
    for got in (conv2d_backward(dy, x, w, 2, "same", chunk=chunk),
                conv2d_backward(dy, x, w, 2, "same", cols=cols, chunk=chunk)):
        for a, b_ in zip(got, default):
            np.testing.assert_allclose(a, b_, rtol=1e-5, atol=1e-6)


def test_conv2d_backward_skips_unneeded_gradients():
    x, w = random((2, 5, 5, 2), np.float64, 1), random((3, 3, 2, 4), np.float64, 2)
    dy = random((2, 3, 3, 4), np.float64, 3)
    full = conv2d_backward(dy, x, w)
    dx, dw, db = conv2d_backward(dy, x, w, need_dx=False)
    assert dx is None
    np.testing.assert_array_equal(dw, full[1])
    np.testing.assert_array_equal(db, full[2])
    assert conv2d_backward(dy, x, w, need_dw=False, need_db=False)[1:] == (None, None)


# ---- pooling -------------------------------------------------------------------------------------

# (x shape, pool_size, strides, padding)
POOL_CASES = [
    ((2, 6, 6, 3), 2, None, "valid"),
    ((2, 7, 5, 3), 2, None, "valid"),
    ((2, 7, 5, 3), 2, None, "same"),
    ((1, 7, 7, 2), 3, 2, "valid"),
    ((1, 7, 7, 2), 3, 2, "same"),
    ((2, 5, 6, 1), (2, 3), 1, "same"),
    ((2, 9, 8, 2), 3, (1, 2), "same"),
    ((1, 4, 4, 2), 5, 1, "same"),
    ((1, 5, 5, 2), 1, 2, "valid"),
]


def pool_id(case):
    x_shape, pool, strides, padding = case
    return f"x{x_shape}-p{pool}-s{strides}-{padding}"


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", POOL_CASES, ids=pool_id)
def test_pooling_matches_reference(case, dtype):
    x_shape, pool, strides, padding = case
    x = random(x_shape, dtype, 1)
    y, argmax = max_pool2d_forward(x, pool, strides, padding)
    assert y.dtype == dtype
    np.testing.assert_array_equal(y, max_pool2d_reference(x, pool, strides, padding))
    dy = random(y.shape, dtype, 2)
    np.testing.assert_allclose(max_pool2d_backward(dy, argmax, x.shape),
                               max_pool2d_backward_reference(dy, x, pool, strides, padding),
                               **tolerance(dtype))

    y = avg_pool2d_forward(x, pool, strides, padding)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, avg_pool2d_reference(x, pool, strides, padding),
                               **tolerance(dtype))
    np.testing.assert_allclose(avg_pool2d_backward(dy, x.shape, pool, strides, padding),
                               avg_pool2d_backward_reference(dy, x, pool, strides, padding),
                               **tolerance(dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", POOL_CASES, ids=pool_id)
def test_pooling_plain_python_equals_jitted(case, dtype):
    x_shape, pool, strides, padding = case
    x = random(x_shape, dtype, 1)
    y, argmax = max_pool2d_forward(x, pool, strides, padding)
    y_plain, argmax_plain = max_pool2d_forward(x, pool, strides, padding, jit=False)
    np.testing.assert_array_equal(y_plain, y)
    np.testing.assert_array_equal(argmax_plain, argmax)
    dy = random(y.shape, dtype, 2)
    np.testing.assert_array_equal(max_pool2d_backward(dy, argmax, x.shape, jit=False),
                                  max_pool2d_backward(dy, argmax, x.shape))
    np.testing.assert_array_equal(avg_pool2d_forward(x, pool, strides, padding, jit=False),
                                  avg_pool2d_forward(x, pool, strides, padding))
    np.testing.assert_array_equal(
        avg_pool2d_backward(dy, x.shape, pool, strides, padding, jit=False),
        avg_pool2d_backward(dy, x.shape, pool, strides, padding))


def test_same_avg_pooling_averages_only_real_pixels_at_the_border():
    x = np.arange(9, dtype=np.float64).reshape(1, 3, 3, 1)   # 0 1 2 / 3 4 5 / 6 7 8
    # pool 2, stride 2, 'same': out 2x2, one padded row at the bottom and column on the right
    y = avg_pool2d_forward(x, 2, 2, "same")
    assert y[0, :, :, 0].tolist() == [[2.0, 3.5], [6.5, 8.0]]    # (0+1+3+4)/4, (2+5)/2, ...
    dx = avg_pool2d_backward(np.ones((1, 2, 2, 1)), x.shape, 2, 2, "same")
    assert dx[0, :, :, 0].tolist() == [[0.25, 0.25, 0.5], [0.25, 0.25, 0.5], [0.5, 0.5, 1.0]]


def test_max_pooling_ignores_padding_and_sends_ties_to_the_first_maximum():
    x = -np.ones((1, 3, 3, 1))                   # all negative: a zero pad would win the max
    y, argmax = max_pool2d_forward(x, 2, 2, "same")
    assert y[0, :, :, 0].tolist() == [[-1, -1], [-1, -1]]
    dx = max_pool2d_backward(np.ones((1, 2, 2, 1)), argmax, x.shape)
    # every window is a tie; its gradient goes to its first pixel in row-major order
    assert dx[0, :, :, 0].tolist() == [[1, 0, 1], [0, 0, 0], [1, 0, 1]]


def test_max_pooling_propagates_nan_and_handles_minus_infinity():
    x = np.full((1, 2, 4, 1), -np.inf)
    x[0, 1, 3, 0] = np.nan
    y, argmax = max_pool2d_forward(x, 2)
    assert y[0, 0, 0, 0] == -np.inf and np.isnan(y[0, 0, 1, 0])
    assert argmax[0, 0].ravel().tolist() == [0, 7]   # the first -inf; the NaN at (1, 3): 1*4 + 3
    np.testing.assert_array_equal(max_pool2d_reference(x, 2), y)


@settings(deadline=None, max_examples=20)
@given(n=st.integers(1, 2), h=st.integers(1, 8), w=st.integers(1, 8), c=st.integers(1, 3),
       pool=st.tuples(st.integers(1, 4), st.integers(1, 4)),
       strides=st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))),
       padding=st.sampled_from(["valid", "same"]), seed=st.integers(0, 2**16))
def test_pooling_matches_reference_on_drawn_shapes(n, h, w, c, pool, strides, padding, seed):
    g = window_geometry(h, w, pool, strides or pool, padding)
    if g.out_h < 1 or g.out_w < 1:
        return
    x = random((n, h, w, c), np.float64, seed)
    y, argmax = max_pool2d_forward(x, pool, strides, padding)
    np.testing.assert_array_equal(y, max_pool2d_reference(x, pool, strides, padding))
    dy = random(y.shape, np.float64, seed + 1)
    np.testing.assert_allclose(max_pool2d_backward(dy, argmax, x.shape),
                               max_pool2d_backward_reference(dy, x, pool, strides, padding))
    np.testing.assert_allclose(avg_pool2d_forward(x, pool, strides, padding),
                               avg_pool2d_reference(x, pool, strides, padding))
    np.testing.assert_allclose(avg_pool2d_backward(dy, x.shape, pool, strides, padding),
                               avg_pool2d_backward_reference(dy, x, pool, strides, padding))


# ---- dense ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("x_shape", [(5,), (3, 5), (2, 3, 5), (2, 1, 3, 5)])
def test_dense_matches_reference_for_any_leading_shape(x_shape, dtype):
    x, w, b = random(x_shape, dtype, 1), random((5, 4), dtype, 2), random(4, dtype, 3)
    y = dense_forward(x, w, b)
    assert y.shape == x_shape[:-1] + (4,) and y.dtype == dtype
    x64, w64, b64 = (a.astype(np.float64) for a in (x, w, b))
    np.testing.assert_allclose(y, dense_reference(x64, w64, b64), **tolerance(dtype))
    dy = random(y.shape, dtype, 4)
    for got, want in zip(dense_backward(dy, x, w),
                         dense_backward_reference(dy.astype(np.float64), x64, w64)):
        assert got.shape == want.shape and got.dtype == dtype
        np.testing.assert_allclose(got, want, **tolerance(dtype))
    assert dense_backward(dy, x, w, need_dx=False, need_db=False)[0::2] == (None, None)


# ---- kernel-level errors (the public functions' messages are tested in tests/nn/) -------------

def test_kernels_reject_integer_arrays():
    """The kernels trust shapes and arguments (checked once, by tinyvid.nn and the layers), but
    convert what they compute on: they are compiled for float32 and float64 only."""
    with pytest.raises(ValueError, match="conv2d: expected float32 or float64"):
        conv2d_forward(np.zeros((1, 3, 3, 1), np.int64), np.zeros((1, 1, 1, 1), np.int64))


# ---- PyTorch parity (skipped when torch is not installed) ----------------------------------------

def _torch_keras_pad(torch, x_nchw, g, value=0.0):
    """Pad an NCHW tensor the Keras way: F.pad takes (left, right, top, bottom)."""
    pads = (g.pad_left, g.pad_right, g.pad_top, g.pad_bottom)
    return torch.nn.functional.pad(x_nchw, pads, value=value)


@pytest.mark.parametrize("case", CONV_CASES, ids=conv_id)
def test_conv2d_equals_pytorch(case):
    torch = pytest.importorskip("torch")
    x_shape, w_shape, strides, padding, dilation = case
    x, w, b = random(x_shape, np.float64, 1), random(w_shape, np.float64, 2), random(w_shape[3],
                                                                                     np.float64, 3)
    g = conv_geometry(x_shape, w_shape, strides, padding, dilation)
    tx = torch.tensor(x).permute(0, 3, 1, 2).contiguous().requires_grad_()
    tw = torch.tensor(w).permute(3, 2, 0, 1).contiguous().requires_grad_()
    tb = torch.tensor(b).requires_grad_()
    ty = torch.nn.functional.conv2d(_torch_keras_pad(torch, tx, g), tw, tb,
                                    stride=(g.sh, g.sw), dilation=(g.dil_h, g.dil_w))
    y = conv2d_forward(x, w, b, strides, padding, dilation)
    np.testing.assert_allclose(y, ty.permute(0, 2, 3, 1).detach().numpy(), rtol=1e-10,
                               atol=1e-10)
    dy = random(y.shape, np.float64, 4)
    ty.backward(torch.tensor(dy).permute(0, 3, 1, 2).contiguous())
    dx, dw, db = conv2d_backward(dy, x, w, strides, padding, dilation)
    np.testing.assert_allclose(dx, tx.grad.permute(0, 2, 3, 1).numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dw, tw.grad.permute(2, 3, 1, 0).numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(db, tb.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("case", POOL_CASES, ids=pool_id)
def test_pooling_equals_pytorch(case):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x_shape, pool, strides, padding = case
    x = random(x_shape, np.float64, 1)
    g = pool_geometry(x_shape, pool, strides, padding)
    kernel, stride = (g.kh, g.kw), (g.sh, g.sw)

    tx = torch.tensor(x).permute(0, 3, 1, 2).contiguous().requires_grad_()
    ty = F.max_pool2d(_torch_keras_pad(torch, tx, g, -np.inf), kernel, stride)
    y, argmax = max_pool2d_forward(x, pool, strides, padding)
    np.testing.assert_array_equal(y, ty.permute(0, 2, 3, 1).detach().numpy())
    dy = random(y.shape, np.float64, 2)
    ty.backward(torch.tensor(dy).permute(0, 3, 1, 2).contiguous())
    np.testing.assert_allclose(max_pool2d_backward(dy, argmax, x.shape),
                               tx.grad.permute(0, 2, 3, 1).numpy(), rtol=1e-12, atol=1e-12)

    # Keras averages over real pixels only: the mean of the zero-padded input divided by the
    # mean of a zero-padded mask of ones.
    tx = torch.tensor(x).permute(0, 3, 1, 2).contiguous().requires_grad_()
    mask = _torch_keras_pad(torch, torch.ones_like(tx[:1, :1]), g)
    ty = F.avg_pool2d(_torch_keras_pad(torch, tx, g), kernel, stride) / F.avg_pool2d(
        mask, kernel, stride)
    np.testing.assert_allclose(avg_pool2d_forward(x, pool, strides, padding),
                               ty.permute(0, 2, 3, 1).detach().numpy(), rtol=1e-12, atol=1e-12)
    ty.backward(torch.tensor(dy).permute(0, 3, 1, 2).contiguous())
    np.testing.assert_allclose(avg_pool2d_backward(dy, x.shape, pool, strides, padding),
                               tx.grad.permute(0, 2, 3, 1).numpy(), rtol=1e-12, atol=1e-12)


# --- every kernel has its reference, and Adam's update meets its own -------------------------

# The two loop pieces of conv2d's drivers: checked through conv2d against conv2d_reference and
# against their plain twins (test_im2col_plain_function_equals_jitted_alias), not on their own.
CONV_PIECES = {"im2col", "col2im"}


def test_every_public_kernel_has_a_slow_reference():
    import inspect

    from tinyvid import kernels
    from tinyvid.kernels import optim, reference

    not_kernels = {"tinyvid.kernels.geometry", "tinyvid.kernels.process"}
    public = {name for name in kernels.__all__
              if getattr(kernels, name).__module__ not in not_kernels}
    assert CONV_PIECES <= public
    drivers = inspect.getsource(conv_module.conv2d_forward) + inspect.getsource(
        conv_module.conv2d_backward)
    assert all(piece in drivers for piece in CONV_PIECES)
    wanted = {name.removesuffix("_forward") + "_reference" for name in public - CONV_PIECES}
    wanted |= {name + "_reference" for name in vars(optim)
               if name.endswith("_update") and not name.startswith("_")}
    missing = sorted(name for name in wanted if not hasattr(reference, name))
    assert not missing, f"kernels/reference.py needs {missing}"


@pytest.mark.parametrize("dtype", DTYPES)
def test_adam_update_jitted_equals_plain_and_matches_the_reference(dtype):
    from tinyvid.kernels.optim import _adam_update, adam_update
    from tinyvid.kernels.reference import adam_update_reference

    rng = np.random.default_rng(0)
    theta, g = rng.standard_normal(37).astype(dtype), rng.standard_normal(37).astype(dtype)
    m, v = (rng.standard_normal(37) * 0.1).astype(dtype), rng.random(37).astype(dtype)
    scalars = [dtype(s) for s in (0.1, 0.001, 0.01, 1e-7)]
    expected = adam_update_reference(*(a.astype(np.float64) for a in (theta, g, m, v)),
                                     *(float(s) for s in scalars))
    results = []
    for kernel in (adam_update, _adam_update):
        state = [theta.copy(), g, m.copy(), v.copy()]
        kernel(*state, *scalars)
        results.append((state[0], state[2], state[3]))
    for jitted, plain in zip(*results):
        np.testing.assert_array_equal(jitted, plain)
        assert jitted.dtype == dtype
    for got, want in zip(results[0], expected):
        np.testing.assert_allclose(got, want, **tolerance(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum, centered", [(0.0, False), (0.5, True)])
def test_rmsprop_update_jitted_equals_plain_and_matches_the_reference(dtype, momentum, centered):
    from tinyvid.kernels.optim import _rmsprop_update, rmsprop_update
    from tinyvid.kernels.reference import rmsprop_update_reference

    rng = np.random.default_rng(1)
    theta, g = rng.standard_normal(37).astype(dtype), rng.standard_normal(37).astype(dtype)
    v, m, a = rng.random(37).astype(dtype), (rng.standard_normal(37) * 0.1).astype(dtype), \
        (rng.standard_normal(37) * 0.01).astype(dtype)
    rho, eps, alpha = 0.9, 1e-7, 0.01
    expected = rmsprop_update_reference(*(x.astype(np.float64) for x in (theta, g, v, m, a)),
                                        rho, momentum, eps, alpha, momentum > 0, centered)
    results = []
    for kernel in (rmsprop_update, _rmsprop_update):
        state = [theta.copy(), g, v.copy(), m.copy(), a.copy()]
        kernel(*state, dtype(rho), dtype(1 - rho), dtype(momentum), dtype(eps), dtype(alpha),
               momentum > 0, centered)
        results.append((state[0], state[2], state[3], state[4]))
    for jitted, plain in zip(*results):
        np.testing.assert_array_equal(jitted, plain)
    for got, want in zip(results[0], expected):
        np.testing.assert_allclose(got, want, **tolerance(dtype))
