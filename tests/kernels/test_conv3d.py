"""The 3-D kernels (conv3d, max / average pooling of clips): jitted == plain Python == the slow
NumPy reference, the reference backward against finite differences, and PyTorch where installed.

Shapes stay tiny; odd sizes, strides 1 and 2 per axis, both paddings, dilation, float32 and
float64. Timings live in benchmarks/bench_conv3d.py.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyvid.kernels import conv3d as conv3d_module
from tinyvid.kernels.conv3d import conv3d_backward, conv3d_forward
from tinyvid.kernels.geometry import (
    check_conv3d,
    check_pool3d,
    conv3d_geometry,
    conv_geometry,
    pool3d_geometry,
)
from tinyvid.kernels.pool3d import (
    avg_pool3d_backward,
    avg_pool3d_forward,
    max_pool3d_backward,
    max_pool3d_forward,
)
from tinyvid.kernels.reference import (
    avg_pool3d_backward_reference,
    avg_pool3d_reference,
    conv3d_backward_reference,
    conv3d_reference,
    max_pool3d_backward_reference,
    max_pool3d_reference,
)

DTYPES = [np.float32, np.float64]


def tolerance(dtype):
    return dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)


def random(shape, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# ---- geometry -----------------------------------------------------------------------------------


def test_3d_geometry_follows_keras_on_each_axis():
    # time 5 with kernel 3, stride 2, 'same': out 3, total padding 2 -> 1 before, 1 after
    g = conv3d_geometry((1, 5, 6, 7, 2), (3, 2, 4, 2, 1), (2, 1, 2), "same")
    assert (g.out_t, g.out_h, g.out_w) == (3, 6, 4)
    assert (g.pad_front, g.pad_back) == (1, 1)
    assert (g.pad_top, g.pad_bottom) == (0, 1)  # the odd pixel goes after, as TensorFlow
    assert (g.pad_left, g.pad_right) == (1, 2)
    g = conv3d_geometry((1, 5, 6, 7, 2), (3, 3, 3, 2, 1), 1, "valid", (2, 1, 1))
    assert (g.out_t, g.out_h, g.out_w) == (1, 4, 5)
    assert pool3d_geometry((1, 4, 5, 6, 1), (1, 2, 2))[:3] == (4, 2, 3)


def test_2d_geometry_is_unchanged():
    g = conv_geometry((1, 5, 5, 1), (3, 3, 1, 1), 2, "same")
    assert (g.out_h, g.out_w, g.pad_top, g.pad_bottom) == (3, 3, 1, 1)


def test_3d_checks_name_the_function_and_argument():
    with pytest.raises(ValueError, match=r"conv3d: input has 3 channels .* expects 2"):
        check_conv3d((1, 4, 4, 4, 3), (2, 2, 2, 2, 1), None, 1, "valid", 1)
    with pytest.raises(ValueError, match=r"conv3d: invalid value for argument `strides`"):
        check_conv3d((1, 4, 4, 4, 2), (2, 2, 2, 2, 1), None, (1, 1), "valid", 1)
    with pytest.raises(ValueError, match=r"conv3d: the kernel spans"):
        check_conv3d((1, 2, 4, 4, 2), (3, 2, 2, 2, 1), None, 1, "valid", 1)
    with pytest.raises(ValueError, match=r"expected x of 5 dimensions"):
        check_pool3d((1, 4, 4, 2), 2, None, "valid")
    with pytest.raises(ValueError, match=r"max_pool3d: invalid value for argument `padding`"):
        check_pool3d((1, 4, 4, 4, 2), 2, None, "full")


# ---- conv3d -------------------------------------------------------------------------------------

CONV_CASES = [
    # x shape,          w shape,          strides,   padding, dilation
    ((2, 5, 6, 7, 3), (3, 3, 3, 3, 4), 1, "valid", 1),
    ((2, 5, 6, 7, 3), (3, 3, 3, 3, 4), 1, "same", 1),
    ((1, 5, 6, 7, 2), (2, 3, 2, 2, 3), (2, 1, 2), "same", 1),
    ((3, 4, 5, 5, 1), (1, 1, 1, 1, 2), 1, "valid", 1),
    ((1, 7, 5, 6, 2), (3, 2, 2, 2, 2), 1, "same", (2, 1, 2)),
    ((2, 3, 4, 4, 2), (3, 3, 3, 2, 1), 2, "valid", 1),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, w_shape, strides, padding, dilation", CONV_CASES)
def test_conv3d_jit_equals_plain_equals_reference(x_shape, w_shape, strides, padding, dilation,
                                                  dtype):
    x, w, b = random(x_shape, dtype, 1), random(w_shape, dtype, 2), random(w_shape[4:], dtype, 3)
    y = conv3d_forward(x, w, b, strides, padding, dilation)
    y_plain = conv3d_forward(x, w, b, strides, padding, dilation, jit=False)
    np.testing.assert_array_equal(y, y_plain)
    np.testing.assert_allclose(y, conv3d_reference(x, w, b, strides, padding, dilation),
                               **tolerance(dtype))
    dy = random(y.shape, dtype, 4)
    grads = conv3d_backward(dy, x, w, strides, padding, dilation)
    plain = conv3d_backward(dy, x, w, strides, padding, dilation, jit=False)
    reference = conv3d_backward_reference(dy, x, w, strides, padding, dilation)
    for name, got, same, want in zip(("dx", "dw", "db"), grads, plain, reference):
        np.testing.assert_array_equal(got, same, err_msg=name)
        np.testing.assert_allclose(got, want, **tolerance(dtype), err_msg=name)


def test_conv3d_chunks_do_not_change_the_numbers(monkeypatch):
    x, w = random((3, 4, 5, 5, 2), np.float64, 1), random((2, 3, 3, 2, 3), np.float64, 2)
    y = conv3d_forward(x, w, None, 1, "same")
    dy = random(y.shape, np.float64, 3)
    grads = conv3d_backward(dy, x, w, 1, "same")
    for chunk in (1, 3, 100):
        np.testing.assert_allclose(conv3d_forward(x, w, None, 1, "same", chunk=chunk), y,
                                   rtol=1e-12)
        for got, want in zip(conv3d_backward(dy, x, w, 1, "same", chunk=chunk), grads):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    monkeypatch.setattr(conv3d_module, "CHUNK_BYTES", 1)  # one frame per chunk
    np.testing.assert_allclose(conv3d_forward(x, w, None, 1, "same"), y, rtol=1e-12)


def test_conv3d_skips_gradients_nobody_needs():
    x, w = random((1, 3, 4, 4, 2), np.float32), random((2, 2, 2, 2, 3), np.float32)
    dy = random((1, 2, 3, 3, 3), np.float32)
    dx, dw, db = conv3d_backward(dy, x, w, need_dx=False, need_db=False)
    assert dx is None and db is None and dw.shape == w.shape


@settings(max_examples=10)
@given(t=st.integers(1, 5), h=st.integers(1, 6), kt=st.integers(1, 3), kh=st.integers(1, 3),
       stride=st.integers(1, 2), padding=st.sampled_from(["valid", "same"]))
def test_conv3d_matches_reference_on_drawn_shapes(t, h, kt, kh, stride, padding):
    if padding == "valid" and (kt > t or kh > h):
        return
    x, w = random((2, t, h, h + 1, 2), np.float64, 5), random((kt, kh, kh, 2, 2), np.float64, 6)
    y = conv3d_forward(x, w, None, stride, padding)
    np.testing.assert_allclose(y, conv3d_reference(x, w, None, stride, padding), rtol=1e-10)
    dy = random(y.shape, np.float64, 7)
    for got, want in zip(conv3d_backward(dy, x, w, stride, padding),
                         conv3d_backward_reference(dy, x, w, stride, padding)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_conv3d_backward_reference_matches_finite_differences():
    x, w = random((1, 3, 3, 3, 2), np.float64, 1), random((2, 2, 2, 2, 2), np.float64, 2)
    dy = random(conv3d_reference(x, w, None, 1, "same").shape, np.float64, 3)
    dx, dw, _ = conv3d_backward_reference(dy, x, w, 1, "same")
    eps = 1e-6
    for array, grad in ((x, dx), (w, dw)):
        for index in [(0, 1, 0, 1, 1), (0, 0, 0, 0, 0), (0, 1, 1, 1, 0)]:
            original = array[index]
            array[index] = original + eps
            up = np.sum(conv3d_reference(x, w, None, 1, "same") * dy)
            array[index] = original - eps
            down = np.sum(conv3d_reference(x, w, None, 1, "same") * dy)
            array[index] = original
            assert grad[index] == pytest.approx((up - down) / (2 * eps), rel=1e-6, abs=1e-8)


def test_conv3d_matches_pytorch():
    torch = pytest.importorskip("torch")
    x, w, b = (random((2, 5, 6, 6, 3), np.float64, 1), random((3, 3, 3, 3, 4), np.float64, 2),
               random((4,), np.float64, 3))
    y = conv3d_forward(x, w, b, 1, "same")  # symmetric 'same' padding: 1 on each side
    xt = torch.tensor(x).permute(0, 4, 1, 2, 3)
    wt = torch.tensor(w).permute(4, 3, 0, 1, 2)
    yt = torch.nn.functional.conv3d(xt, wt, torch.tensor(b), padding=1).permute(0, 2, 3, 4, 1)
    np.testing.assert_allclose(y, yt.numpy(), rtol=1e-10, atol=1e-10)


# ---- pooling ------------------------------------------------------------------------------------

POOL_CASES = [
    ((2, 4, 6, 6, 3), 2, None, "valid"),
    ((2, 5, 7, 6, 2), (1, 2, 2), None, "valid"),
    ((1, 5, 7, 6, 2), (3, 3, 2), (2, 2, 1), "same"),
    ((2, 3, 5, 5, 1), 2, 1, "same"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, pool_size, strides, padding", POOL_CASES)
def test_pool3d_jit_equals_plain_equals_reference(x_shape, pool_size, strides, padding, dtype):
    x = random(x_shape, dtype, 1)
    y, argmax = max_pool3d_forward(x, pool_size, strides, padding)
    y_plain, argmax_plain = max_pool3d_forward(x, pool_size, strides, padding, jit=False)
    np.testing.assert_array_equal(y, y_plain)
    np.testing.assert_array_equal(argmax, argmax_plain)
    np.testing.assert_array_equal(y, max_pool3d_reference(x, pool_size, strides, padding))
    dy = random(y.shape, dtype, 2)
    dx = max_pool3d_backward(dy, argmax, x.shape)
    np.testing.assert_array_equal(dx, max_pool3d_backward(dy, argmax, x.shape, jit=False))
    np.testing.assert_allclose(dx, max_pool3d_backward_reference(dy, x, pool_size, strides,
                                                                 padding), **tolerance(dtype))

    y = avg_pool3d_forward(x, pool_size, strides, padding)
    np.testing.assert_array_equal(y, avg_pool3d_forward(x, pool_size, strides, padding, jit=False))
    np.testing.assert_allclose(y, avg_pool3d_reference(x, pool_size, strides, padding),
                               **tolerance(dtype))
    dx = avg_pool3d_backward(dy, x.shape, pool_size, strides, padding)
    np.testing.assert_array_equal(dx, avg_pool3d_backward(dy, x.shape, pool_size, strides,
                                                          padding, jit=False))
    np.testing.assert_allclose(dx, avg_pool3d_backward_reference(dy, x, pool_size, strides,
                                                                 padding), **tolerance(dtype))


def test_max_pool3d_ties_go_to_the_first_maximum():
    x = np.ones((1, 2, 2, 2, 1))
    y, argmax = max_pool3d_forward(x, 2)
    dx = max_pool3d_backward(np.ones_like(y), argmax, x.shape)
    assert dx[0, 0, 0, 0, 0] == 1 and dx.sum() == 1


def test_pool3d_matches_pytorch():
    torch = pytest.importorskip("torch")
    x = random((2, 4, 6, 6, 3), np.float64, 1)
    xt = torch.tensor(x).permute(0, 4, 1, 2, 3)
    y, _ = max_pool3d_forward(x, (2, 2, 2))
    np.testing.assert_allclose(y, torch.nn.functional.max_pool3d(xt, 2).permute(0, 2, 3, 4, 1))
    y = avg_pool3d_forward(x, (1, 2, 2))
    yt = torch.nn.functional.avg_pool3d(xt, (1, 2, 2)).permute(0, 2, 3, 4, 1)
    np.testing.assert_allclose(y, yt.numpy(), rtol=1e-12)
