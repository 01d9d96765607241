"""Each optimizer's update against its formula written out in NumPy, over a few steps; the Adam
kernel (jitted == plain == NumPy); float32 kept; no weight-sized temporaries; argument checks."""

import tracemalloc

import numpy as np
import pytest

from tinyvid import optimizers
from tinyvid.kernels.optim import _adam_update, adam_update
from tinyvid.optimizers import GD, SGD, Adam
from tinyvid.tensor import Tensor


def gradients(steps, shape=(3, 4), seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(dtype) for _ in range(steps)]


def run(optimizer, theta0, grads):
    """Apply `grads` one step each to a weight starting at theta0; return its values after each step."""
    weight = Tensor(theta0.copy(), requires_grad=True)
    values = []
    for g in grads:
        optimizer.apply_gradients([(g, weight)])
        values.append(weight.data.copy())
    return values


THETA0 = np.random.default_rng(42).standard_normal((3, 4))


def test_gd_is_theta_minus_alpha_grad():
    grads = gradients(3)
    theta, expected = THETA0.copy(), []
    for g in grads:
        theta = theta - 0.1 * g  # theta_{t+1} = theta_t - alpha grad J(theta_t)
        expected.append(theta)
    np.testing.assert_allclose(run(GD(learning_rate=0.1), THETA0, grads), expected, rtol=1e-12)
    assert GD.full_batch and not SGD.full_batch


@pytest.mark.parametrize("momentum, nesterov", [(0.0, False), (0.9, False), (0.9, True), (0.5, True)])
def test_sgd_matches_keras_formulas(momentum, nesterov):
    grads, lr = gradients(4, seed=1), 0.05
    theta, velocity, expected = THETA0.copy(), np.zeros_like(THETA0), []
    for g in grads:
        if momentum == 0:
            theta = theta - lr * g
        else:
            velocity = momentum * velocity - lr * g  # Keras: m <- momentum m - lr g
            theta = theta + (momentum * velocity - lr * g if nesterov else velocity)
        expected.append(theta)
    actual = run(SGD(learning_rate=lr, momentum=momentum, nesterov=nesterov), THETA0, grads)
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-15)


def adam_reference(theta, grads, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """Keras's Adam, written out: epsilon added to sqrt(v) after the bias correction moved into alpha_t."""
    m, v, out = np.zeros_like(theta), np.zeros_like(theta), []
    for t, g in enumerate(grads, start=1):
        m = m + (1 - beta_1) * (g - m)
        v = v + (1 - beta_2) * (g * g - v)
        alpha_t = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        theta = theta - alpha_t * m / (np.sqrt(v) + epsilon)
        out.append(theta)
    return out


def test_adam_matches_keras_formula_in_float64():
    grads = gradients(5, seed=2)
    grads[3][0, 0] = 0.0  # a zero gradient: the epsilon's place matters there
    expected = adam_reference(THETA0, grads, lr=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-3)
    actual = run(Adam(learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-3), THETA0, grads)
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-15)


def test_adam_defaults_are_keras_defaults_and_float32_stays_float32():
    adam = Adam()
    assert (adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon) == (0.001, 0.9, 0.999, 1e-7)
    grads = gradients(4, seed=3, dtype=np.float32)
    actual = run(adam, THETA0.astype(np.float32), grads)
    assert all(a.dtype == np.float32 for a in actual)
    assert len(adam.variables) == 4 and all(s.dtype == np.float32 for s in adam.variables[2:])
    expected = adam_reference(THETA0.astype(np.float64), [g.astype(np.float64) for g in grads])
    np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=1e-7)


def test_adam_kernel_jitted_equals_plain_equals_numpy():
    rng = np.random.default_rng(4)
    theta, g, m, v = (rng.standard_normal(1000).astype(np.float32) for _ in range(4))
    v = np.abs(v)
    f = np.float32
    scalars = (f(0.1), f(0.001), f(0.0003), f(1e-7))
    results = []
    for kernel in (adam_update, _adam_update):
        arrays = [a.copy() for a in (theta, g, m, v)]
        kernel(*arrays, *scalars)
        results.append(arrays)
    m_ref = m + scalars[0] * (g - m)
    v_ref = v + scalars[1] * (g * g - v)
    theta_ref = theta - scalars[2] * m_ref / (np.sqrt(v_ref) + scalars[3])
    for jitted, plain, reference in zip(results[0], results[1], (theta_ref, g, m_ref, v_ref)):
        np.testing.assert_allclose(jitted, plain, rtol=1e-6)
        np.testing.assert_allclose(jitted, reference, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("make", [lambda: Adam(), lambda: SGD(momentum=0.9, nesterov=True), lambda: GD()])
def test_steps_allocate_no_weight_sized_arrays(make):
    n = 200_000  # 800 kB of float32
    optimizer, weight = make(), Tensor(np.zeros(n, dtype=np.float32), requires_grad=True)
    g = np.ones(n, dtype=np.float32)
    optimizer.apply_gradients([(g, weight)])  # first step: state and scratch buffer created
    tracemalloc.start()
    for _ in range(3):
        optimizer.apply_gradients([(g, weight)])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < n * 4 // 10, f"a step allocated {peak} bytes"


def test_apply_gradients_skips_missing_gradients_and_counts_steps():
    adam, weight = Adam(), Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    adam.apply_gradients([(None, weight)])
    np.testing.assert_array_equal(weight.data, 1.0)
    assert adam.iterations == 1
    with pytest.raises(ValueError, match=r"gradient of shape \(2,\) for a weight of shape \(3,\)"):
        adam.apply_gradients([(np.ones(2, dtype=np.float32), weight)])


# --- arguments ----------------------------------------------------------------------------------------


def test_lr_is_an_alias_of_learning_rate():
    assert Adam(lr=0.01).learning_rate == 0.01 and Adam(lr=0.01).lr == 0.01
    assert SGD(lr=0.2).learning_rate == 0.2 and GD(lr=0.3).learning_rate == 0.3
    assert SGD().learning_rate == 0.01 and GD().learning_rate == 0.01
    with pytest.raises(ValueError, match="either learning_rate= or lr="):
        Adam(learning_rate=0.1, lr=0.01)


@pytest.mark.parametrize("make, message", [
    (lambda: Adam(lr=-1), "Invalid learning rate: -1"),
    (lambda: SGD(learning_rate=float("nan")), "Invalid learning rate: nan"),
    (lambda: GD(learning_rate="fast"), "Invalid learning rate: fast"),
    (lambda: SGD(momentum=1.5), "Invalid momentum value: 1.5"),
    (lambda: Adam(beta_1=1.0), "Invalid beta_1 value: 1.0"),
    (lambda: Adam(beta_2=-0.1), "Invalid beta_2 value: -0.1"),
    (lambda: Adam(epsilon=-1e-7), "Invalid epsilon value: -1e-07"),
])
def test_invalid_arguments_raise_like_pytorch(make, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        make()


def test_get_by_name_or_object():
    assert isinstance(optimizers.get("adam"), Adam) and isinstance(optimizers.get("SGD"), SGD)
    assert isinstance(optimizers.get("gd"), GD)
    adam = Adam()
    assert optimizers.get(adam) is adam
    with pytest.raises(ValueError, match="Could not interpret optimizer identifier: 'adagrad'. "
                       "Known optimizers: adam, adamw, gd, rmsprop, sgd"):
        optimizers.get("adagrad")


def test_docstrings_carry_the_documents_notation():
    assert "3.3.1" in GD.__doc__ and "\\theta_t - \\alpha \\nabla J(\\theta_t)" in GD.__doc__
    assert "3.3.2" in SGD.__doc__ and "\\nabla J(\\theta_t, i_t)" in SGD.__doc__
    assert "\\sqrt{v_t} + \\epsilon" in Adam.__doc__
