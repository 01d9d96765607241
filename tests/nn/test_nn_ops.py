"""The differentiable conv2d, pooling and dense: gradcheck, references, needs_input_grad, errors.

One table, OPS, pairs each op with its NumPy reference (kernels/reference.py) and a hypothesis
strategy for its inputs and parameters; every op must equal its reference and pass gradcheck in
float64. gradcheck also runs PyTorch's cheap checks (gradient shapes, zero grad_output gives zero
gradients, two backward passes agree), and one test shows it failing on a wrong gradient.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinyvid
from tinyvid import Tensor
from tinyvid import nn as nn_ops
from tinyvid.kernels import window_geometry
from tinyvid.kernels.geometry import normalize_pair
from tinyvid.kernels.reference import (
    avg_pool2d_reference,
    conv2d_reference,
    dense_reference,
    max_pool2d_reference,
)
from tinyvid.nn import conv as nn_conv


def distinct_values(rng, shape):
    """Values at least 1e-2 apart: at a tie, max pooling has no derivative to check."""
    return (rng.permutation(int(np.prod(shape))) * 1e-2 - 0.3).reshape(shape)


@st.composite
def conv_inputs(draw):
    n, h, w = draw(st.integers(1, 2)), draw(st.integers(1, 6)), draw(st.integers(1, 6))
    c_in, c_out = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    params = dict(strides=draw(st.sampled_from([1, 2, (1, 2)])),
                  padding=draw(st.sampled_from(["valid", "same"])),
                  dilation_rate=draw(st.sampled_from([1, 2, (2, 1)])))
    g = window_geometry(h, w, (kh, kw), normalize_pair(params["strides"], "strides"),
                        params["padding"], normalize_pair(params["dilation_rate"], "dilation"))
    if g.out_h < 1 or g.out_w < 1:
        params["padding"] = "same"  # a kernel larger than a 'valid' input is an error, not a case
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    bias = rng.standard_normal(c_out) if draw(st.booleans()) else None
    arrays = [rng.standard_normal((n, h, w, c_in)), rng.standard_normal((kh, kw, c_in, c_out)),
              bias]
    return arrays, params


@st.composite
def pool_inputs(draw):
    n, h, w, c = (draw(st.integers(1, 2)), draw(st.integers(1, 6)), draw(st.integers(1, 6)),
                  draw(st.integers(1, 2)))
    params = dict(pool_size=draw(st.sampled_from([1, 2, 3, (2, 3)])),
                  strides=draw(st.sampled_from([None, 1, 2, (2, 1)])),
                  padding=draw(st.sampled_from(["valid", "same"])))
    pool = normalize_pair(params["pool_size"], "pool_size")
    if pool[0] > h or pool[1] > w:
        params["padding"] = "same"
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    return [distinct_values(rng, (n, h, w, c))], params


@st.composite
def dense_inputs(draw):
    leading = draw(st.lists(st.integers(1, 3), min_size=0, max_size=3))
    n_in, n_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    bias = rng.standard_normal(n_out) if draw(st.booleans()) else None
    return [rng.standard_normal((*leading, n_in)), rng.standard_normal((n_in, n_out)), bias], {}


# name: (tinyvid function, NumPy reference, strategy drawing (arrays, keyword parameters))
OPS = {
    "conv2d": (nn_ops.conv2d, conv2d_reference, conv_inputs()),
    "max_pool2d": (nn_ops.max_pool2d, max_pool2d_reference, pool_inputs()),
    "avg_pool2d": (nn_ops.avg_pool2d, avg_pool2d_reference, pool_inputs()),
    "dense": (nn_ops.dense, dense_reference, dense_inputs()),
}


@pytest.mark.parametrize("name", OPS)
@settings(deadline=None, max_examples=15)
@given(data=st.data())
def test_op_equals_reference_and_passes_gradcheck(name, data):
    fn, reference, strategy = OPS[name]
    arrays, params = data.draw(strategy)
    y = fn(*arrays, **params)
    np.testing.assert_allclose(y.data, reference(*arrays, **params), rtol=1e-10, atol=1e-10)

    tensors = [None if a is None else Tensor(a, requires_grad=True) for a in arrays]
    present = [t for t in tensors if t is not None]

    def call(*inputs):
        it = iter(inputs)
        return fn(*(None if t is None else next(it) for t in tensors), **params)

    assert tinyvid.gradcheck(call, present)


@pytest.mark.parametrize("name", OPS)
def test_float32_in_float32_out(name):
    fn, _, _ = OPS[name]
    rng = np.random.default_rng(0)
    if name == "conv2d":
        args = [rng.standard_normal((2, 5, 5, 3)), rng.standard_normal((3, 3, 3, 4)), None]
    elif name == "dense":
        args = [rng.standard_normal((2, 5)), rng.standard_normal((5, 3)), None]
    else:
        args = [rng.standard_normal((2, 5, 5, 3))]
    tensors = [None if a is None else Tensor(a.astype(np.float32), requires_grad=True)
               for a in args]
    y = fn(*tensors)
    assert y.dtype == np.float32
    y.sum().backward()
    for t in tensors:
        if t is not None:
            assert t.grad.dtype == np.float32 and t.grad.shape == t.shape


def test_gradcheck_fails_on_a_wrong_gradient():
    """A check that cannot fail proves nothing: a conv whose dw is off by a factor of 2."""

    class WrongConv2D(nn_ops.Conv2D):
        @staticmethod
        def backward(ctx, grad_output):
            dx, dw, db = nn_ops.Conv2D.backward(ctx, grad_output)
            return dx, 2 * dw, db

    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((1, 4, 4, 2)), requires_grad=True)
    w = Tensor(rng.standard_normal((2, 2, 2, 3)), requires_grad=True)
    params = dict(strides=(1, 1), padding="valid", dilation_rate=(1, 1))
    assert tinyvid.gradcheck(lambda x, w: nn_ops.Conv2D.apply(x, w, None, **params), [x, w])
    with pytest.raises(tinyvid.GradcheckError, match="input 1"):
        tinyvid.gradcheck(lambda x, w: WrongConv2D.apply(x, w, None, **params), [x, w])


def test_backward_skips_the_gradients_nobody_needs(monkeypatch):
    """The first layer's input needs no gradient: conv2d_backward is told so, and x gets none."""
    calls = []
    original = nn_conv.conv2d_backward

    def spy(*args, **kwargs):
        calls.append({k: kwargs[k] for k in ("need_dx", "need_dw", "need_db")})
        return original(*args, **kwargs)

    monkeypatch.setattr(nn_conv, "conv2d_backward", spy)
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((2, 5, 5, 3)))                        # data: no grad
    w = Tensor(rng.standard_normal((3, 3, 3, 4)), requires_grad=True)
    nn_ops.conv2d(x, w).sum().backward()
    assert calls == [dict(need_dx=False, need_dw=True, need_db=False)]
    assert x.grad is None and w.grad.shape == w.shape


@pytest.mark.parametrize("keep_cols_bytes", [0, 2**40])
def test_conv2d_gradients_do_not_depend_on_keeping_the_columns(monkeypatch, keep_cols_bytes):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((2, 6, 5, 3)), rng.standard_normal((3, 3, 3, 4)),
              rng.standard_normal(4)]
    expected = [Tensor(a, requires_grad=True) for a in arrays]
    nn_ops.conv2d(*expected, strides=2, padding="same").sum().backward()
    monkeypatch.setattr(nn_conv, "KEEP_COLS_BYTES", keep_cols_bytes)
    tensors = [Tensor(a, requires_grad=True) for a in arrays]
    nn_ops.conv2d(*tensors, strides=2, padding="same").sum().backward()
    for got, want in zip(tensors, expected):
        np.testing.assert_allclose(got.grad, want.grad, rtol=1e-12, atol=1e-12)


def test_conv2d_backward_twice_gives_the_same_gradients():
    """The kept columns are freed by the first backward; the second recomputes them."""
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((2, 5, 5, 3)), requires_grad=True)
    w = Tensor(rng.standard_normal((3, 3, 3, 4)), requires_grad=True)
    y = nn_ops.conv2d(x, w)
    y.backward(np.ones(y.shape))
    first = (x.grad.copy(), w.grad.copy())
    y.backward(np.ones(y.shape))
    np.testing.assert_allclose(x.grad, 2 * first[0], rtol=1e-12)
    np.testing.assert_allclose(w.grad, 2 * first[1], rtol=1e-12)


def test_conv_layers_chain_like_the_model():
    """conv 3->4, conv 4->5, flatten, dense: the shapes of the source document's model."""
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((2, 8, 8, 3)))
    w1, w2 = (Tensor(rng.standard_normal(s) * 0.1, requires_grad=True)
              for s in [(3, 3, 3, 4), (3, 3, 4, 5)])
    w3 = Tensor(rng.standard_normal((4 * 4 * 5, 6)) * 0.1, requires_grad=True)
    h = nn_ops.conv2d(x, w1).relu()
    h = nn_ops.conv2d(h, w2).relu()
    y = nn_ops.dense(h.flatten(1), w3)
    assert y.shape == (2, 6)
    y.sum().backward()
    assert all(t.grad is not None and t.grad.shape == t.shape for t in (w1, w2, w3))


# ---- errors name the function, the argument, what was expected and what came -----------------

X = np.zeros((8, 64, 64, 3))


@pytest.mark.parametrize("call, message", [
    (lambda: nn_ops.conv2d(X, np.zeros((3, 3, 4, 32))),
     r"conv2d: input has 3 channels \(x.shape=\(8, 64, 64, 3\)\) but the kernel expects 4 "
     r"\(w.shape=\(3, 3, 4, 32\)\)"),
    (lambda: nn_ops.conv2d(X[0], np.zeros((3, 3, 3, 32))),
     r"conv2d: expected x of 4 dimensions \(batch, height, width, channels\), "
     r"got x.shape=\(64, 64, 3\)"),
    (lambda: nn_ops.conv2d(X, np.zeros((3, 3, 3))),
     r"conv2d: expected a kernel w of 4 dimensions \(kh, kw, c_in, c_out\), "
     r"got w.shape=\(3, 3, 3\)"),
    (lambda: nn_ops.conv2d(X, np.zeros((3, 3, 3, 32)), np.zeros(16)),
     r"conv2d: expected a bias of shape \(32,\) .* got b.shape=\(16,\)"),
    (lambda: nn_ops.conv2d(X, np.zeros((3, 3, 3, 32)), padding="full"),
     r"conv2d: invalid value for argument `padding`: expected one of \"valid\", \"same\". Received: padding='full'"),
    (lambda: nn_ops.conv2d(X, np.zeros((3, 3, 3, 32)), strides=0),
     r"conv2d: invalid value for argument `strides`: expected a positive integer or a tuple of 2 positive integers. Received: strides=0"),
    (lambda: nn_ops.conv2d(X, np.zeros((3, 3, 3, 32)), strides=(1, -2)),
     r"conv2d: invalid value for argument `strides`: .* Received: strides=\(1, -2\)"),
    (lambda: nn_ops.conv2d(X, np.zeros((3, 3, 3, 32)), dilation_rate=1.5),
     r"conv2d: invalid value for argument `dilation_rate`: .* Received: dilation_rate=1.5"),
    (lambda: nn_ops.conv2d(np.zeros((1, 4, 4, 3)), np.zeros((5, 5, 3, 2))),
     r"conv2d: the kernel spans \(5, 5\) pixels .* larger than the input's \(4, 4\) "
     r"\(x.shape=\(1, 4, 4, 3\)\) with padding='valid'"),
    (lambda: nn_ops.conv2d(np.zeros((1, 4, 4, 3)), np.zeros((3, 3, 3, 2)), dilation_rate=2),
     r"conv2d: the kernel spans \(5, 5\) pixels"),
    (lambda: nn_ops.max_pool2d(X[0]),
     r"max_pool2d: expected x of 4 dimensions .* got x.shape=\(64, 64, 3\)"),
    (lambda: nn_ops.max_pool2d(X, pool_size=0),
     r"max_pool2d: invalid value for argument `pool_size`: .* Received: pool_size=0"),
    (lambda: nn_ops.avg_pool2d(X, strides=(2, 2, 2)),
     r"avg_pool2d: invalid value for argument `strides`: expected a positive integer or a tuple of 2 positive integers. Received: strides=\(2, 2, 2\)"),
    (lambda: nn_ops.avg_pool2d(X, padding="SAME!"),
     r"avg_pool2d: invalid value for argument `padding`: .* Received: padding='SAME!'"),
    (lambda: nn_ops.max_pool2d(np.zeros((1, 2, 5, 1)), pool_size=3),
     r"max_pool2d: pool_size=\(3, 3\) is larger than the input's \(2, 5\) .* padding='valid'"),
    (lambda: nn_ops.dense(np.zeros((32, 100)), np.zeros((64, 10))),
     r"dense: input has 100 features \(x.shape=\(32, 100\)\) but the kernel expects 64 "
     r"\(w.shape=\(64, 10\)\)"),
    (lambda: nn_ops.dense(np.zeros((32, 100)), np.zeros(100)),
     r"dense: expected a kernel w of 2 dimensions \(in, out\), got w.shape=\(100,\)"),
    (lambda: nn_ops.dense(np.zeros((32, 100)), np.zeros((100, 10)), np.zeros((1, 10))),
     r"dense: expected a bias of shape \(10,\) .* got b.shape=\(1, 10\)"),
])
def test_errors_are_clear(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_upper_case_padding_is_accepted_as_keras_does():
    x, w = np.ones((1, 3, 3, 1)), np.ones((3, 3, 1, 1))
    np.testing.assert_array_equal(nn_ops.conv2d(x, w, padding="SAME").data,
                                  nn_ops.conv2d(x, w, padding="same").data)
