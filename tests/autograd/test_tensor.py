"""The engine's behaviour: dtypes, operators, the backward walk, accumulation and its errors."""

import numpy as np
import pytest

import tinyvid
from tinyvid import Function, Tensor


def test_numbers_lists_and_integer_arrays_become_float32_but_float64_stays():
    assert Tensor(3).dtype == np.float32
    assert Tensor([[1, 2], [3, 4]]).dtype == np.float32
    assert Tensor(np.arange(4)).dtype == np.float32
    assert Tensor(np.zeros(2, dtype=np.float64)).dtype == np.float64
    assert Tensor([1, 2], dtype=np.float64).dtype == np.float64


def test_python_numbers_keep_the_tensors_dtype_on_either_side():
    for dtype in (np.float32, np.float64):
        x = Tensor(np.ones(3, dtype=dtype))
        for result in (x + 1, 1 + x, x - 1.5, 2 - x, x * 2, 2 * x, x / 3, 3 / x, x**2, 2**x, -x):
            assert result.dtype == dtype


def test_numpy_arrays_on_the_left_defer_to_tensor():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = np.array([3.0, 4.0], dtype=np.float32) * x
    assert isinstance(y, Tensor)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])


def test_broadcast_gradients_are_summed_back_to_each_inputs_shape():
    x = Tensor(np.ones((4, 3)), requires_grad=True)
    b = Tensor(np.zeros(3), requires_grad=True)
    (x + b).sum().backward()
    assert b.grad.shape == (3,)
    np.testing.assert_array_equal(b.grad, [4.0, 4.0, 4.0])


def test_a_tensor_used_twice_gets_both_gradients():
    x = Tensor(3.0, requires_grad=True)
    (x * x + x).backward()  # d/dx (x^2 + x) = 2x + 1
    assert x.grad == pytest.approx(7.0)


def test_backward_twice_accumulates_like_pytorch():
    x = Tensor(2.0, requires_grad=True)
    y = x * 5
    y.backward()
    y.backward()
    assert x.grad == pytest.approx(10.0)
    x.zero_grad()
    assert x.grad is None


def test_a_chain_of_ten_thousand_ops_does_not_overflow_the_stack():
    x = Tensor(1.0, dtype=np.float64, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    assert x.grad == pytest.approx(1.0001**10_000, rel=1e-9)


def test_backward_of_a_non_scalar_needs_a_gradient():
    y = Tensor(np.ones(3), requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"shape \(3,\); pass grad="):
        y.backward()
    y.backward(np.ones(3))


def test_an_op_returning_a_gradient_of_the_wrong_shape_is_named():
    class BadSum(Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum(keepdims=True)

        @staticmethod
        def backward(ctx, grad_output):
            return np.ones((2, 2))  # the input was (3,)

    x = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match=r"BadSum.backward returned a gradient of shape \(2, 2\) for an input of shape \(3,\)"):
        BadSum.apply(x).sum().backward()


def test_no_grad_records_nothing():
    x = Tensor(np.ones(2), requires_grad=True)
    with tinyvid.no_grad():
        y = x * 2
    assert not y.requires_grad and y.op is None
    assert tinyvid.is_grad_enabled()
    assert (x * 2).op == "Mul"


def test_detach_item_numpy_and_repr():
    x = Tensor([[1.0, 2.0]], requires_grad=True)
    y = x * 2
    assert y.detach().op is None and not y.detach().requires_grad
    assert y.numpy() is y.data
    assert Tensor([4.0]).item() == 4.0
    with pytest.raises(ValueError, match="one-element"):
        y.item()
    assert repr(y) == "Tensor([[2., 4.]], shape=(1, 2), dtype=float32, op=Mul)"


def test_intermediate_gradients_are_dropped_unless_retained():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    hidden = x * 3
    kept = (x * 4).retain_grad()
    (hidden + kept).sum().backward()
    assert hidden.grad is None
    np.testing.assert_array_equal(kept.grad, [1.0, 1.0])


def test_a_hook_sees_and_can_replace_an_intermediate_gradient():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    hidden = x * 3
    seen = []
    hidden.register_hook(lambda grad: seen.append(grad.copy()))
    hidden.register_hook(lambda grad: grad * 10)  # replaces what flows on to x
    hidden.sum().backward()
    np.testing.assert_array_equal(seen[0], [1.0, 1.0])
    np.testing.assert_array_equal(x.grad, [30.0, 30.0])


def test_backward_without_retain_graph_frees_the_graph_and_says_so_when_run_again():
    x = Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    h = x * 2
    y = h.relu().sum()
    y.backward(retain_graph=False)
    np.testing.assert_allclose(x.grad, [2.0, 0.0, 2.0])
    assert y.op == "Sum" and h.op == "Mul"  # the names stay; the saved arrays went
    assert h._ctx.saved_tensors == () and h._ctx.inputs == ()
    with pytest.raises(RuntimeError, match="backward through Sum a second time"):
        y.backward()


def test_backward_never_writes_into_a_gradient_the_caller_or_a_hook_holds():
    """ReLU's backward writes into grad_output only when the engine alone holds it."""
    x = Tensor(np.array([[1.0, -2.0], [3.0, -4.0]]), requires_grad=True)
    seen = []
    h = x * 1
    y = h.relu()
    y.register_hook(lambda g: seen.append(g))  # a hook keeps the array it is shown
    given = np.full((2, 2), 5.0)
    y.backward(given)
    np.testing.assert_array_equal(given, np.full((2, 2), 5.0))  # the caller's array: untouched
    np.testing.assert_array_equal(seen[0], np.full((2, 2), 5.0))  # and the hook's
    np.testing.assert_array_equal(x.grad, [[5.0, 0.0], [5.0, 0.0]])


def test_a_gradient_handed_to_two_inputs_is_not_overwritten_for_one_of_them():
    """Add passes the same array to both of its inputs: a ReLU on one side may not write into it."""
    x = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    z = Tensor(np.array([-1.0, 2.0]), requires_grad=True)
    (x.relu() + z * 1).sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 0.0])
    np.testing.assert_array_equal(z.grad, [1.0, 1.0])


def test_a_leaf_keeps_an_engine_made_gradient_without_copying_it():
    """A big weight's gradient is stored as backward made it: no second array of its size."""
    import tracemalloc

    x = Tensor(np.ones((1, 1000)), requires_grad=False)
    w = Tensor(np.ones((1000, 1000)), requires_grad=True)  # 8 MB; its gradient too
    loss = (x @ w).sum()
    tracemalloc.start()
    try:
        loss.backward(retain_graph=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * w.data.nbytes, peak  # a copy would make it 2x
    np.testing.assert_allclose(w.grad, np.ones((1000, 1000)))
