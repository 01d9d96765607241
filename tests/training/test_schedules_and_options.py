"""Schedules, clipping, weight decay, RMSprop and AdamW against hand-computed values; configs
round-trip; the RMSprop kernel: jitted == plain == NumPy."""

import math

import numpy as np
import pytest

from tinyvid import optimizers
from tinyvid.kernels.optim import _rmsprop_update, rmsprop_update
from tinyvid.optimizers import SGD, Adam, AdamW, RMSprop
from tinyvid.optimizers.schedules import CosineDecay, ExponentialDecay, PiecewiseConstantDecay
from tinyvid.tensor import Tensor


def one_weight(values):
    return Tensor(np.array(values, dtype=np.float64), requires_grad=True)


def test_schedules_by_hand():
    exp = ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    assert [exp(t) for t in (0, 1, 2, 4)] == pytest.approx([0.1, 0.1 * 0.5**0.5, 0.05, 0.025])
    stairs = ExponentialDecay(0.1, 2, 0.5, staircase=True)
    assert [stairs(t) for t in (0, 1, 2, 3)] == pytest.approx([0.1, 0.1, 0.05, 0.05])
    piece = PiecewiseConstantDecay([2, 4], [1.0, 0.5, 0.1])
    assert [piece(t) for t in range(6)] == [1.0, 1.0, 1.0, 0.5, 0.5, 0.1]
    cos = CosineDecay(1.0, decay_steps=4, alpha=0.2)
    assert [cos(t) for t in (0, 2, 4, 9)] == pytest.approx([1.0, 0.6, 0.2, 0.2])
    warm = CosineDecay(0.0, decay_steps=2, warmup_target=1.0, warmup_steps=4)
    assert [warm(t) for t in (0, 2, 4, 5, 6, 10)] == pytest.approx([0, 0.5, 1.0, 0.5, 0, 0])


def test_the_optimizer_follows_its_schedule_and_refuses_a_number_then():
    sgd = SGD(learning_rate=PiecewiseConstantDecay([1], [1.0, 0.1]))
    w = one_weight([0.0])
    lrs = []
    for _ in range(3):
        lrs.append(sgd.learning_rate)
        sgd.apply_gradients([(np.array([1.0]), w)])
    assert lrs == [1.0, 1.0, 0.1]  # schedule(iterations): steps 0 and 1, then 2
    np.testing.assert_allclose(w.data, [-2.1])
    with pytest.raises(TypeError, match="not settable"):
        sgd.learning_rate = 0.5
    plain = SGD(learning_rate=0.1)
    plain.learning_rate = 0.05
    assert plain.learning_rate == 0.05 and plain.get_config()["learning_rate"] == 0.05


def test_clipnorm_global_clipnorm_clipvalue_by_hand():
    g1, g2 = np.array([3.0, 4.0]), np.array([12.0])  # norms 5 and 12, global norm 13
    for kwargs, expected in [
        (dict(clipnorm=1.0), ([-0.6, -0.8], [-1.0])),
        (dict(global_clipnorm=2.6), ([-0.6, -0.8], [-2.4])),
        (dict(clipvalue=3.5), ([-3.0, -3.5], [-3.5])),
        (dict(clipnorm=100.0), ([-3.0, -4.0], [-12.0])),  # under the limit: unchanged
    ]:
        a, b = one_weight([0.0, 0.0]), one_weight([0.0])
        SGD(learning_rate=1.0, **kwargs).apply_gradients([(g1, a), (g2, b)])
        np.testing.assert_allclose(a.data, expected[0], err_msg=str(kwargs))
        np.testing.assert_allclose(b.data, expected[1], err_msg=str(kwargs))
    with pytest.raises(ValueError, match="Only one of `clipnorm`, `clipvalue` and `global_clipnorm`"):
        Adam(clipnorm=1.0, clipvalue=1.0)


def test_weight_decay_comes_before_the_update_and_is_decoupled():
    w = one_weight([2.0])
    SGD(learning_rate=0.1, weight_decay=0.5).apply_gradients([(np.array([1.0]), w)])
    np.testing.assert_allclose(w.data, [2.0 - 0.1 * 0.5 * 2.0 - 0.1 * 1.0])
    # AdamW: theta <- theta (1 - alpha wd), then Adam's first step moves it by alpha (sign of g)
    w = one_weight([2.0])
    AdamW(learning_rate=0.1, weight_decay=0.5, epsilon=0.0).apply_gradients([(np.array([3.0]), w)])
    np.testing.assert_allclose(w.data, [2.0 * (1 - 0.05) - 0.1])
    with pytest.raises(ValueError, match="weight_decay=None"):
        AdamW(weight_decay=None)
    assert AdamW().weight_decay == 0.004 and Adam().weight_decay is None


def test_rmsprop_by_hand():
    w, g = one_weight([1.0]), np.array([2.0])
    opt = RMSprop(learning_rate=0.1, rho=0.5, epsilon=0.0)
    opt.apply_gradients([(g, w)])  # v = 0.5 * 4 = 2; step = 0.1 * 2 / sqrt(2)
    np.testing.assert_allclose(w.data, [1.0 - 0.2 / math.sqrt(2)])
    opt.apply_gradients([(g, w)])  # v = 0.5 * 2 + 0.5 * 4 = 3
    np.testing.assert_allclose(w.data, [1.0 - 0.2 / math.sqrt(2) - 0.2 / math.sqrt(3)])
    centered = RMSprop(learning_rate=0.1, rho=0.5, epsilon=0.0, centered=True, momentum=0.5)
    w = one_weight([1.0])
    centered.apply_gradients([(g, w)])  # v = 2, a = 1: d = sqrt(2 - 1); m = 0.2
    centered.apply_gradients([(g, w)])  # v = 3, a = 1.5: d = sqrt(0.75); m = 0.1 + 0.2 / sqrt(.75)
    np.testing.assert_allclose(w.data, [1.0 - 0.2 - (0.1 + 0.2 / math.sqrt(0.75))])
    assert RMSprop().learning_rate == 0.001 and RMSprop().rho == 0.9


@pytest.mark.parametrize("momentum, centered", [(0.0, False), (0.5, True)])
def test_rmsprop_kernel_jitted_equals_plain_equals_numpy(momentum, centered):
    rng = np.random.default_rng(5)
    theta, g, m, a = (rng.standard_normal(500).astype(np.float32) for _ in range(4))
    v = (a * a + np.abs(rng.standard_normal(500)) + 1).astype(np.float32)  # v > a^2, as in use
    f = np.float32
    scalars = (f(0.9), f(0.1), f(momentum), f(1e-7), f(0.01), momentum > 0, centered)
    results = []
    for kernel in (rmsprop_update, _rmsprop_update):
        arrays = [x.copy() for x in (theta, g, v, m, a)]
        kernel(*arrays, *scalars)
        results.append(arrays)
    v_ref = 0.9 * v + 0.1 * g * g
    a_ref = 0.9 * a + 0.1 * g if centered else a
    step = 0.01 * g / np.sqrt(v_ref - (a_ref**2 if centered else 0) + 1e-7)
    m_ref = momentum * m + step if momentum else m
    theta_ref = theta - (m_ref if momentum else step)
    for jitted, plain, reference in zip(results[0], results[1], (theta_ref, g, v_ref, m_ref, a_ref)):
        np.testing.assert_allclose(jitted, plain, rtol=1e-6)
        np.testing.assert_allclose(jitted, reference, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make", [
    lambda: Adam(learning_rate=ExponentialDecay(0.1, 10, 0.9), clipnorm=2.0),
    lambda: AdamW(weight_decay=0.1), lambda: RMSprop(centered=True, global_clipnorm=1.0),
    lambda: SGD(momentum=0.9, nesterov=True, clipvalue=0.3), lambda: optimizers.GD(0.5),
])
def test_serialize_deserialize_round_trip(make):
    optimizer = make()
    back = optimizers.deserialize(optimizers.serialize(optimizer))
    assert type(back) is type(optimizer) and back.get_config() == optimizer.get_config()
    assert optimizers.get(optimizers.serialize(optimizer)).get_config() == optimizer.get_config()


def test_save_and_load_own_variables_restore_the_state_exactly():
    grads = [np.random.default_rng(i).standard_normal(3) for i in range(4)]
    a, b = Adam(learning_rate=0.01), Adam(learning_rate=0.01)
    wa, wb = one_weight([1.0, 2.0, 3.0]), one_weight([1.0, 2.0, 3.0])
    for g in grads[:2]:
        a.apply_gradients([(g, wa)])
    store = {}
    a.save_own_variables(store)
    assert sorted(store) == ["0", "1", "2", "3"] and int(store["0"]) == 2
    b.build([wb])
    with pytest.raises(ValueError, match="has 4 variables but the saved optimizer has 1"):
        b.load_own_variables({"0": np.array(0)})
    b.load_own_variables(store)
    wb.data[:] = wa.data
    for g in grads[2:]:
        a.apply_gradients([(g, wa)])
        b.apply_gradients([(g, wb)])
    np.testing.assert_array_equal(wa.data, wb.data)
    assert b.iterations == 4


@pytest.mark.parametrize("make, message", [
    (lambda: ExponentialDecay(0.1, 0, 0.5), "ExponentialDecay: invalid value for argument `decay_steps`"),
    (lambda: CosineDecay(0.1, -1), "CosineDecay: invalid value for argument `decay_steps`"),
    (lambda: PiecewiseConstantDecay([1, 2], [0.1]), "PiecewiseConstantDecay: invalid value for argument `values`"),
    (lambda: PiecewiseConstantDecay([2, 1], [0.1, 0.2, 0.3]), "argument `boundaries`"),
    (lambda: RMSprop(rho=1.0), "Invalid rho value: 1.0"),
    (lambda: SGD(clipnorm=-1), "Invalid clipnorm value: -1"),
    (lambda: Adam(weight_decay="x"), "Invalid weight_decay value: x"),
    (lambda: Adam(use_ema=True), "Adam: tinyvid does not support `use_ema`"),
])
def test_invalid_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()
