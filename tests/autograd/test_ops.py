"""Every differentiable op against its NumPy reference (forward) and finite differences (backward).

One table, OPS, pairs each op with the NumPy function it must equal; hypothesis draws shapes,
broadcasting pairs, non-contiguous views and values, and every op must pass gradcheck in float64.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinyvid
from tests.strategies import arrays, axes, broadcast_pair, shapes
from tinyvid import Tensor, functional


def np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# name: (tinyvid function, NumPy reference, value range of the inputs)
UNARY = {
    "neg": (lambda x: -x, np.negative, (-2, 2)),
    "exp": (lambda x: x.exp(), np.exp, (-2, 2)),
    "log": (lambda x: x.log(), np.log, (0.1, 3)),
    "relu": (lambda x: x.relu(), lambda x: np.maximum(x, 0), (-2, 2)),
    "sigmoid": (lambda x: x.sigmoid(), lambda x: 1 / (1 + np.exp(-x)), (-4, 4)),
    "tanh": (lambda x: x.tanh(), np.tanh, (-2, 2)),
    "square (pow 2)": (lambda x: x**2, np.square, (-2, 2)),
    "sqrt (pow 0.5)": (lambda x: x**0.5, np.sqrt, (0.1, 3)),
    "rpow (2 ** x)": (lambda x: 2**x, lambda x: np.power(2.0, x), (-2, 2)),
    "clip": (lambda x: x.clip(-0.5, 0.5), lambda x: np.clip(x, -0.5, 0.5), (-2, 2)),
    "softmax": (lambda x: functional.softmax(x), np_softmax, (-3, 3)),
    "log_softmax": (lambda x: functional.log_softmax(x), lambda x: np.log(np_softmax(x)), (-3, 3)),
    "transpose": (lambda x: x.transpose(), np.transpose, (-2, 2)),
    "flatten": (lambda x: x.flatten(), np.ravel, (-2, 2)),
    "reshape": (lambda x: x.reshape(-1, 1), lambda x: x.reshape(-1, 1), (-2, 2)),
    "getitem": (lambda x: x[..., ::2], lambda x: x[..., ::2], (-2, 2)),
}

KINKS = {"relu": (0.0,), "clip": (-0.5, 0.5)}

BINARY = {
    "add": (lambda x, y: x + y, np.add, (-2, 2), (-2, 2)),
    "sub": (lambda x, y: x - y, np.subtract, (-2, 2), (-2, 2)),
    "mul": (lambda x, y: x * y, np.multiply, (-2, 2), (-2, 2)),
    "div": (lambda x, y: x / y, np.divide, (-2, 2), (0.5, 2)),
    "pow": (lambda x, y: x**y, np.power, (0.5, 2), (-2, 2)),
}

REDUCTIONS = {
    "sum": (lambda x, axis, k: x.sum(axis=axis, keepdims=k), np.sum),
    "mean": (lambda x, axis, k: x.mean(axis=axis, keepdims=k), np.mean),
    "max": (lambda x, axis, k: x.max(axis=axis, keepdims=k), np.max),
}


def leaf(array):
    return Tensor(array, requires_grad=True)


def away_from(x, kinks, margin=1e-2):
    """Move values off the points where an op has no derivative (relu at 0, clip at its bounds).

    Finite differences straddling a kink average two slopes, so a correct backward would fail.
    """
    x = x.copy()
    for kink in kinks:
        x[np.abs(x - kink) < margin] = kink + 2 * margin
    return x


def without_ties(x):
    """Make every value distinct: at a tie, max's derivative is undefined."""
    return x + 1e-3 * np.arange(x.size).reshape(x.shape)


@pytest.mark.parametrize("name", UNARY)
@given(data=st.data())
def test_unary_op_matches_numpy_and_passes_gradcheck(name, data):
    op, reference, (low, high) = UNARY[name]
    x = away_from(data.draw(arrays(data.draw(shapes), low, high)), KINKS.get(name, ()))
    np.testing.assert_allclose(op(leaf(x)).data, reference(x), rtol=1e-12, atol=1e-12)
    assert tinyvid.gradcheck(op, [leaf(x)])


@pytest.mark.parametrize("name", BINARY)
@given(data=st.data())
def test_binary_op_broadcasts_like_numpy_and_passes_gradcheck(name, data):
    op, reference, x_range, y_range = BINARY[name]
    x_shape, y_shape = data.draw(broadcast_pair())
    x, y = data.draw(arrays(x_shape, *x_range)), data.draw(arrays(y_shape, *y_range))
    np.testing.assert_allclose(op(leaf(x), leaf(y)).data, reference(x, y), rtol=1e-12)
    assert tinyvid.gradcheck(op, [leaf(x), leaf(y)])


@pytest.mark.parametrize("name", REDUCTIONS)
@given(data=st.data())
def test_reduction_matches_numpy_and_passes_gradcheck(name, data):
    op, reference = REDUCTIONS[name]
    x = without_ties(data.draw(arrays(data.draw(shapes))))
    axis, keepdims = data.draw(axes(x.ndim)), data.draw(st.booleans())
    np.testing.assert_allclose(op(leaf(x), axis, keepdims).data, reference(x, axis=axis, keepdims=keepdims))
    assert tinyvid.gradcheck(lambda t: op(t, axis, keepdims), [leaf(x)])


@given(data=st.data())
def test_matmul_of_stacked_matrices_and_vectors(data):
    batch = data.draw(st.sampled_from([(), (2,), (3, 1)]))
    n, k, m = (data.draw(st.integers(1, 4)) for _ in range(3))
    x_shape = data.draw(st.sampled_from([batch + (n, k), (k,)]))
    y_shape = data.draw(st.sampled_from([(k, m), batch + (k, m), (k,)]))
    x, y = data.draw(arrays(x_shape)), data.draw(arrays(y_shape))
    np.testing.assert_allclose((leaf(x) @ leaf(y)).data, x @ y, rtol=1e-12)
    assert tinyvid.gradcheck(lambda a, b: a @ b, [leaf(x), leaf(y)])


@given(data=st.data())
def test_transpose_with_explicit_axes(data):
    x = data.draw(arrays(data.draw(shapes)))
    perm = tuple(data.draw(st.permutations(range(x.ndim))))
    np.testing.assert_array_equal(leaf(x).transpose(*perm).data, np.transpose(x, perm))
    assert tinyvid.gradcheck(lambda t: t.transpose(*perm), [leaf(x)])


@pytest.mark.parametrize("index", [1, (slice(1, None), slice(None, None, 2)), (Ellipsis, 0), np.array([0, 0, 2])])
def test_indexing_with_ints_slices_steps_and_repeated_indices(index):
    x = np.random.default_rng(0).standard_normal((3, 4))
    np.testing.assert_array_equal(leaf(x)[index].data, x[index])
    assert tinyvid.gradcheck(lambda t: t[index], [leaf(x)])


def test_max_splits_the_gradient_between_tied_maxima():
    x = leaf(np.array([1.0, 3.0, 3.0]))
    x.max().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.5, 0.5])


def test_softmax_and_log_softmax_are_stable_for_huge_inputs():
    x = Tensor(np.array([[1000.0, 0.0, -1000.0]]), requires_grad=True)
    np.testing.assert_allclose(functional.softmax(x).data, [[1.0, 0.0, 0.0]])
    out = functional.log_softmax(x)
    np.testing.assert_allclose(out.data, [[0.0, -1000.0, -2000.0]])
    out.sum().backward()
    assert np.all(np.isfinite(x.grad))
