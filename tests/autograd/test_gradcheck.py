"""gradcheck must pass correct gradients and, just as important, fail wrong ones."""

import numpy as np
import pytest

import tinyvid
from tinyvid import Function, Tensor


class SquareWithWrongBackward(Function):
    """z = x^2, with a backward that forgets the factor 2."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * x  # wrong: dz/dx = 2x


class NoisyBackward(Function):
    """z = x, with a backward that adds noise: not reproducible, non-zero for a zero gradient."""

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output + np.random.default_rng().standard_normal(grad_output.shape) * 1e-3


def x64(shape=(2, 3)):
    return Tensor(np.random.default_rng(1).uniform(0.5, 1.5, shape), requires_grad=True)


def test_gradcheck_fails_on_a_wrong_backward_and_names_input_element_and_values():
    with pytest.raises(tinyvid.GradcheckError, match=r"input 0, element \(0, 0\): numeric gradient .* analytic"):
        tinyvid.gradcheck(SquareWithWrongBackward.apply, [x64()])


def test_gradcheck_catches_a_backward_that_is_not_zero_for_a_zero_gradient():
    with pytest.raises(tinyvid.GradcheckError, match="zero upstream gradient"):
        tinyvid.gradcheck(NoisyBackward.apply, [x64()])


def test_gradcheck_checks_only_inputs_that_require_grad_and_leaves_grads_alone():
    x, w = x64(), Tensor(np.ones((3, 2)))
    x.grad = np.full(x.shape, 7.0)
    assert tinyvid.gradcheck(lambda a, b: a @ b, [x, w])
    np.testing.assert_array_equal(x.grad, 7.0)


def test_gradcheck_refuses_float32_inputs():
    with pytest.raises(ValueError, match="float64"):
        tinyvid.gradcheck(lambda t: t * 2, [Tensor(np.ones(2, dtype=np.float32), requires_grad=True)])
