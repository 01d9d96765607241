"""tinyvid.nn.gru and lstm against the same recurrences written with the engine's plain ops.

The reference runs each step as Tensor ops (matmul, slicing, sigmoid, tanh, products), so its
gradients come from the engine's autograd, independently of the hand-written backward of the GRU
and LSTM Functions. Drawn by hypothesis: sizes, masks, initial states, reset_after, recurrent
dropout. The Functions must give the reference's outputs and gradients, and pass gradcheck.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import tinyvid
from tinyvid import Tensor, nn


def blend(m, new, old):
    return new if m is None else new * m + old * (1.0 - m)


def gru_reference(xw, u, b, h0, mask, reset_after, keep):
    """h_t, step by step, as the GRU's docstring writes it, with engine ops only."""
    batch, steps, n3 = xw.shape
    n = n3 // 3
    h = h0 if h0 is not None else Tensor(np.zeros((batch, n)))
    outputs = []
    for t in range(steps):
        m = None if mask is None else mask[:, t:t + 1].astype(np.float64)
        x = xw[:, t]
        hd = h if keep is None else h * keep
        if reset_after:
            rec = hd @ u if b is None else hd @ u + b
            z = (x[:, :n] + rec[:, :n]).sigmoid()
            r = (x[:, n:2 * n] + rec[:, n:2 * n]).sigmoid()
            hh = (x[:, 2 * n:] + r * rec[:, 2 * n:]).tanh()
        else:
            z = (x[:, :n] + hd @ u[:, :n]).sigmoid()
            r = (x[:, n:2 * n] + hd @ u[:, n:2 * n]).sigmoid()
            hh = (x[:, 2 * n:] + (r * hd) @ u[:, 2 * n:]).tanh()
        h = blend(m, z * h + (1.0 - z) * hh, h)
        outputs.append(h)
    return outputs


def lstm_reference(xw, u, h0, c0, mask, keep):
    """[h_t, c_t], step by step, as the LSTM's docstring writes it, with engine ops only."""
    batch, steps, n4 = xw.shape
    n = n4 // 4
    h = h0 if h0 is not None else Tensor(np.zeros((batch, n)))
    c = c0 if c0 is not None else Tensor(np.zeros((batch, n)))
    outputs = []
    for t in range(steps):
        m = None if mask is None else mask[:, t:t + 1].astype(np.float64)
        a = xw[:, t] + (h if keep is None else h * keep) @ u
        i, f = a[:, :n].sigmoid(), a[:, n:2 * n].sigmoid()
        g, o = a[:, 2 * n:3 * n].tanh(), a[:, 3 * n:].sigmoid()
        c_new = f * c + i * g
        h, c = blend(m, o * c_new.tanh(), h), blend(m, c_new, c)
        outputs.append((h, c))
    return outputs


@st.composite
def recurrent_case(draw, gates):
    batch, steps, n = draw(st.integers(1, 3)), draw(st.integers(5, 7)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    mask = rng.random((batch, steps)) > 0.3 if draw(st.booleans()) else None
    keep = (rng.random((batch, n)) > 0.5) * 2.0 if draw(st.booleans()) else None
    states = [rng.standard_normal((batch, n)) if draw(st.booleans()) else None
              for _ in range(gates // 2)]
    xw = rng.standard_normal((batch, steps, gates * n))
    u = rng.standard_normal((n, gates * n)) * 0.8
    b = rng.standard_normal(gates * n)
    return xw, u, b, states, mask, keep, draw(st.booleans())


def _tensors(*arrays):
    return [None if a is None else Tensor(a.copy(), requires_grad=True) for a in arrays]


def _compare(ours, reference_outputs, inputs_ours, inputs_reference, rng):
    """Same outputs; and the same gradients of sum(y * v) for a random v."""
    v = rng.standard_normal(ours.shape)
    np.testing.assert_allclose(ours.data, np.stack([y.data for y in reference_outputs], axis=1),
                               rtol=1e-10, atol=1e-12)
    ours.backward(v)
    loss = None
    for t, y in enumerate(reference_outputs):
        term = (y * v[:, t]).sum()
        loss = term if loss is None else loss + term
    loss.backward()
    for a, b in zip(inputs_ours, inputs_reference):
        if a is not None:
            np.testing.assert_allclose(a.grad, b.grad, rtol=1e-9, atol=1e-12)


@settings(deadline=None, max_examples=10)
@given(case=recurrent_case(gates=3))
def test_gru_equals_its_reference_in_values_and_gradients(case):
    xw, u, b, (h0,), mask, keep, reset_after = case
    b = b if reset_after else None
    ours_in, ref_in = _tensors(xw, u, b, h0), _tensors(xw, u, b, h0)
    y = nn.gru(*ours_in, mask=mask, reset_after=reset_after, recurrent_dropout_mask=keep)
    reference = gru_reference(*ref_in, mask, reset_after, keep)
    _compare(y, reference, ours_in, ref_in, np.random.default_rng(0))
    present = [t for t in _tensors(xw, u, b, h0) if t is not None]
    assert tinyvid.gradcheck(
        lambda *ts: nn.gru(*_fill([xw, u, b, h0], ts), mask=mask, reset_after=reset_after,
                           recurrent_dropout_mask=keep), present)


@settings(deadline=None, max_examples=10)
@given(case=recurrent_case(gates=4))
def test_lstm_equals_its_reference_in_values_and_gradients(case):
    xw, u, _, (h0, c0), mask, keep, _ = case
    ours_in, ref_in = _tensors(xw, u, h0, c0), _tensors(xw, u, h0, c0)
    y = nn.lstm(*ours_in, mask=mask, recurrent_dropout_mask=keep)
    n = u.shape[0]
    reference = lstm_reference(*ref_in, mask, keep)
    # The output holds [h_t, c_t]: compare each half with the reference's h and c.
    v = np.random.default_rng(1).standard_normal(y.shape)
    np.testing.assert_allclose(y.data[..., :n], np.stack([h.data for h, _ in reference], 1),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(y.data[..., n:], np.stack([c.data for _, c in reference], 1),
                               rtol=1e-10, atol=1e-12)
    y.backward(v)
    loss = None
    for t, (h, c) in enumerate(reference):
        term = (h * v[:, t, :n]).sum() + (c * v[:, t, n:]).sum()
        loss = term if loss is None else loss + term
    loss.backward()
    for a, b in zip(ours_in, ref_in):
        if a is not None:
            np.testing.assert_allclose(a.grad, b.grad, rtol=1e-9, atol=1e-12)
    present = [t for t in _tensors(xw, u, h0, c0) if t is not None]
    assert tinyvid.gradcheck(
        lambda *ts: nn.lstm(*_fill([xw, u, h0, c0], ts), mask=mask, recurrent_dropout_mask=keep),
        present)


def _fill(arrays, tensors):
    """The given tensors in the places of the arrays that are not None."""
    it = iter(tensors)
    return [None if a is None else next(it) for a in arrays]


def test_float32_in_float32_out():
    rng = np.random.default_rng(2)
    xw, u = (Tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True)
             for s in [(2, 5, 6), (2, 6)])
    y = nn.gru(xw, u)
    assert y.dtype == np.float32
    y.sum().backward()
    assert xw.grad.dtype == np.float32 and u.grad.dtype == np.float32
