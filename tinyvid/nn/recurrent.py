"""gru, lstm: the recurrences of the GRU and LSTM layers, one Function each, through time.

The input projection x_t W + b of every step is one matrix product done before the loop (a
Dense op, BLAS); these Functions take its result `xw` and run only what must go step by step:

    xw  (batch, time, 3 * units)  GRU,  gates [z, r, h] as Keras stores them
        (batch, time, 4 * units)  LSTM, gates [i, f, c, o]
    u   (units, 3 * units) or (units, 4 * units), the recurrent kernel U
    h0, c0  (batch, units) or None (zeros)
    mask    (batch, time) booleans, True = a real step; a masked step keeps the previous state

The forward keeps what each step's derivative needs; the backward walks the steps in reverse,
carrying the gradient of the state, one gate's derivative per line. Notation as the source
document writes gradient descent (theta, alpha, the gradient of J): the loss is J, and
dJ/dv is written dv. sigma is the recurrent activation (the sigmoid), phi the activation (tanh),
"*" the elementwise product, "@" the matrix product.
"""

from collections.abc import Callable
from typing import Any

import numpy as np

from tinyvid.autograd.function import Function
from tinyvid.autograd.tensor import Tensor
from tinyvid.kernels.recurrent import one_blas_thread
from tinyvid.nn._shapes import shape_of

# --- activations with their derivative, written in terms of the output y = f(a) ---------------


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * a))  # = 1 / (1 + e^-a), without overflow for large -a


def _hard_sigmoid(a: np.ndarray) -> np.ndarray:
    return np.clip(a / 6.0 + 0.5, 0.0, 1.0)  # Keras 3's: relu6(a + 3) / 6


# name -> (f, f' as a function of y = f(a))
ACTIVATIONS: dict[str, tuple[Callable[[np.ndarray], np.ndarray],
                             Callable[[np.ndarray], np.ndarray]]] = {
    "tanh": (np.tanh, lambda y: 1.0 - y * y),
    "sigmoid": (_sigmoid, lambda y: y * (1.0 - y)),
    "hard_sigmoid": (_hard_sigmoid, lambda y: ((y > 0) & (y < 1)) / 6.0),
    "relu": (lambda a: np.maximum(a, 0.0), lambda y: (y > 0).astype(y.dtype)),
    "linear": (lambda a: a, lambda y: np.ones_like(y)),
}


def _time_major_mask(mask: np.ndarray | None, dtype: Any) -> np.ndarray | None:
    """(batch, time) booleans -> (time, batch, 1) of 0.0 / 1.0, to blend states with."""
    return None if mask is None else np.asarray(mask, dtype=dtype).T[:, :, None]


# --- GRU ------------------------------------------------------------------------------------------


def gru_step_backward(dh, h_prev, z, r, hh, rec_h, u, reset_after, d_phi, d_sigma):
    """One step of the GRU's backward: from dh = dJ/dh_t to the gradients of that step's gates.

    The step (reset_after=True, Keras's default; n = units):

        a_z = x_z + h_{t-1} @ U_z + b_z           z = sigma(a_z)            (update gate)
        a_r = x_r + h_{t-1} @ U_r + b_r           r = sigma(a_r)            (reset gate)
        rec_h = h_{t-1} @ U_h + b_h               hh = phi(x_h + r * rec_h) (candidate state)
        h_t = z * h_{t-1} + (1 - z) * hh

    With reset_after=False the reset gate acts before the product: hh = phi(x_h + (r * h_{t-1})
    @ U_h), and `rec_h` holds h_{t-1} there.

    Returns:
        da_z, da_r, da_h: dJ/d(pre-activations) `(batch, n)` each, also dJ/d(x_z, x_r, x_h);
        drec: dJ/d(h_{t-1} @ U + b) `(batch, 3n)` (for dU and the recurrent bias);
        dh_prev: the part of dJ/dh_{t-1} that flows through this step's gates and matrices.
    """
    n = h_prev.shape[1]
    dz = dh * (h_prev - hh)                    # dh_t/dz  = h_{t-1} - hh
    dhh = dh * (1.0 - z)                       # dh_t/dhh = 1 - z
    da_h = dhh * d_phi(hh)                     # hh = phi(a_h)
    if reset_after:
        dr = da_h * rec_h                      # a_h = x_h + r * rec_h
        drec_h = da_h * r
    else:
        d_rh = da_h @ u[:, 2 * n:].T           # a_h = x_h + (r * h_{t-1}) @ U_h
        dr = d_rh * rec_h                      # (rec_h is h_{t-1} here)
        drec_h = da_h                          # stands for dJ/d((r * h_{t-1}) @ U_h)
    da_z = dz * d_sigma(z)                     # z = sigma(a_z)
    da_r = dr * d_sigma(r)                     # r = sigma(a_r)
    drec = np.concatenate([da_z, da_r, drec_h], axis=1)
    if reset_after:
        dh_prev = dh * z + drec @ u.T          # through h_t = z * h_{t-1} + ..., and through U
    else:
        dh_prev = dh * z + drec[:, :2 * n] @ u[:, :2 * n].T + d_rh * r
    return da_z, da_r, da_h, drec, dh_prev


class GRU(Function):
    """All steps of a GRU over xw = x W + b_x; the output holds h_t for every step t.

    Forward, for t = 1 .. T (gates as in `gru_step_backward`):

        h_t = m_t * (z * h_{t-1} + (1 - z) * hh) + (1 - m_t) * h_{t-1}     (m_t: the mask)

    Backward, for t = T .. 1, carrying dh (dJ/dh_t, plus grad_output's share at t):

        the step's own part:   dh * m_t      -> gate derivatives (gru_step_backward)
        dh_{t-1} =  dh * (1 - m_t) + (gate paths of the step's own part)
        dxw_t = [da_z, da_r, da_h],   dU = sum_t h_{t-1}^T @ drec_t,   db_rec = sum_t drec_t

    Shapes: xw `(batch, T, 3n)`, u `(n, 3n)`, b_rec `(3n,)` or None, h0 `(batch, n)` or None
    -> `(batch, T, n)`.
    """

    @staticmethod
    def forward(ctx, xw, u, b_rec, h0, mask=None, reset_after=True, activation="tanh",
                recurrent_activation="sigmoid", recurrent_dropout_mask=None):
        batch, steps, n3 = xw.shape
        n = n3 // 3
        phi, sigma = ACTIVATIONS[activation][0], ACTIVATIONS[recurrent_activation][0]
        m = _time_major_mask(mask, xw.dtype)
        keep = recurrent_dropout_mask  # (batch, n) or None: scales h_{t-1} where it meets U
        x = xw.transpose(1, 0, 2)  # (T, batch, 3n): one step is x[t]
        h = np.empty((steps + 1, batch, n), dtype=xw.dtype)  # h[0] = h0, h[t + 1] = h_t
        h[0] = 0.0 if h0 is None else h0
        z, r, hh, rec_h = (np.empty((steps, batch, n), dtype=xw.dtype) for _ in range(4))
        with one_blas_thread():  # many small products: kernels/recurrent.py
            for t in range(steps):
                h_prev = h[t] if keep is None else h[t] * keep
                if reset_after:
                    rec = h_prev @ u  # BLAS: (batch, n) @ (n, 3n)
                    if b_rec is not None:
                        rec += b_rec
                    rec_h[t] = rec[:, 2 * n:]
                else:
                    rec = h_prev @ u[:, :2 * n]
                    rec_h[t] = h_prev
                z[t] = sigma(x[t, :, :n] + rec[:, :n])
                r[t] = sigma(x[t, :, n:2 * n] + rec[:, n:2 * n])
                if reset_after:
                    hh[t] = phi(x[t, :, 2 * n:] + r[t] * rec_h[t])
                else:
                    hh[t] = phi(x[t, :, 2 * n:] + (r[t] * h_prev) @ u[:, 2 * n:])
                h_new = z[t] * h[t] + (1.0 - z[t]) * hh[t]
                h[t + 1] = h_new if m is None else m[t] * h_new + (1.0 - m[t]) * h[t]
        ctx.save_for_backward(u, h, z, r, hh, rec_h)
        ctx.settings = (m, keep, reset_after, activation, recurrent_activation, b_rec is not None)
        return np.ascontiguousarray(h[1:].transpose(1, 0, 2))

    @staticmethod
    def backward(ctx, grad_output):
        u, h, z, r, hh, rec_h = ctx.saved_tensors
        m, keep, reset_after, activation, recurrent_activation, has_bias = ctx.settings
        d_phi, d_sigma = ACTIVATIONS[activation][1], ACTIVATIONS[recurrent_activation][1]
        steps, batch, n = z.shape
        dy = grad_output.transpose(1, 0, 2)  # (T, batch, n)
        dxw = np.empty((steps, batch, 3 * n), dtype=grad_output.dtype)
        drec = np.empty_like(dxw)
        dh = np.zeros((batch, n), dtype=grad_output.dtype)  # dJ/dh_t from the steps after t
        with one_blas_thread():  # many small products: kernels/recurrent.py
            for t in reversed(range(steps)):
                dh = dh + dy[t]
                d_step = dh if m is None else dh * m[t]  # a masked step passes dh straight back
                da_z, da_r, da_h, drec[t], dh_gates = gru_step_backward(
                    d_step, h[t], z[t], r[t], hh[t], rec_h[t], u, reset_after, d_phi, d_sigma)
                dxw[t, :, :n], dxw[t, :, n:2 * n], dxw[t, :, 2 * n:] = da_z, da_r, da_h
                if keep is not None:  # the matrix paths met h_{t-1} * keep, the blend met h_{t-1}
                    dh_gates = d_step * z[t] + (dh_gates - d_step * z[t]) * keep
                dh = dh_gates if m is None else dh_gates + dh * (1.0 - m[t])
            # dU = sum over steps of h_{t-1}^T @ drec_t: one BLAS product over all steps at once
            h_in = h[:-1] if keep is None else h[:-1] * keep
            rows = steps * batch
            du = np.zeros_like(u)
            if reset_after:
                du += h_in.reshape(rows, n).T @ drec.reshape(rows, 3 * n)
            else:
                du[:, :2 * n] = h_in.reshape(rows, n).T @ drec[:, :, :2 * n].reshape(rows, 2 * n)
                rh = r * h_in  # the product that met U_h
                du[:, 2 * n:] = rh.reshape(rows, n).T @ drec[:, :, 2 * n:].reshape(rows, n)
        db_rec = drec.reshape(rows, 3 * n).sum(axis=0) if has_bias else None
        return np.ascontiguousarray(dxw.transpose(1, 0, 2)), du, db_rec, dh


# --- LSTM ------------------------------------------------------------------------------------------


def lstm_step_backward(dh, dc, c_prev, i, f, g, o, tc, d_phi, d_sigma):
    """One step of the LSTM's backward: from dh = dJ/dh_t and dc = dJ/dc_t to its gates.

    The step (n = units; a = x_t W + h_{t-1} U + b, split as [a_i, a_f, a_c, a_o]):

        i = sigma(a_i)   f = sigma(a_f)   g = phi(a_c)   o = sigma(a_o)   (input, forget,
        c_t = f * c_{t-1} + i * g                                          cell, output)
        h_t = o * phi(c_t)                                  (tc = phi(c_t) is kept)

    Returns:
        da `(batch, 4n)`: dJ/d[a_i, a_f, a_c, a_o]; dc_prev: dJ/dc_{t-1}.
    """
    do = dh * tc                               # dh_t/do = phi(c_t)
    dc = dc + dh * o * d_phi(tc)               # dh_t/dc_t = o * phi'(c_t)
    di = dc * g                                # dc_t/di = g
    df = dc * c_prev                           # dc_t/df = c_{t-1}
    dg = dc * i                                # dc_t/dg = i
    dc_prev = dc * f                           # dc_t/dc_{t-1} = f
    da_i = di * d_sigma(i)                     # i = sigma(a_i)
    da_f = df * d_sigma(f)                     # f = sigma(a_f)
    da_c = dg * d_phi(g)                       # g = phi(a_c)
    da_o = do * d_sigma(o)                     # o = sigma(a_o)
    return np.concatenate([da_i, da_f, da_c, da_o], axis=1), dc_prev


class LSTM(Function):
    """All steps of an LSTM over xw = x W + b; the output holds [h_t, c_t] for every step t.

    Forward, for t = 1 .. T (gates as in `lstm_step_backward`; m_t the mask):

        h_t = m_t * o * phi(c_new) + (1 - m_t) * h_{t-1},   c_t = m_t * c_new + (1 - m_t) * c_{t-1}

    Backward, for t = T .. 1, carrying dh and dc (the steps after t, plus grad_output at t):

        da_t = lstm_step_backward(dh * m_t, dc * m_t, ...)
        dh_{t-1} = dh * (1 - m_t) + da_t @ U^T,  dc_{t-1} = dc * (1 - m_t) + (dc_t's path) * f
        dxw_t = da_t,   dU = sum_t h_{t-1}^T @ da_t

    Shapes: xw `(batch, T, 4n)`, u `(n, 4n)`, h0 and c0 `(batch, n)` or None ->
    `(batch, T, 2n)`: `[..., :n]` the hidden states h_t, `[..., n:]` the cell states c_t.
    """

    @staticmethod
    def forward(ctx, xw, u, h0, c0, mask=None, activation="tanh",
                recurrent_activation="sigmoid", recurrent_dropout_mask=None):
        batch, steps, n4 = xw.shape
        n = n4 // 4
        phi, sigma = ACTIVATIONS[activation][0], ACTIVATIONS[recurrent_activation][0]
        m = _time_major_mask(mask, xw.dtype)
        keep = recurrent_dropout_mask
        x = xw.transpose(1, 0, 2)
        h = np.empty((steps + 1, batch, n), dtype=xw.dtype)
        c = np.empty_like(h)
        h[0] = 0.0 if h0 is None else h0
        c[0] = 0.0 if c0 is None else c0
        gates = np.empty((steps, 4, batch, n), dtype=xw.dtype)  # i, f, g, o
        tc = np.empty((steps, batch, n), dtype=xw.dtype)
        with one_blas_thread():  # many small products: kernels/recurrent.py
            for t in range(steps):
                a = x[t] + (h[t] if keep is None else h[t] * keep) @ u  # (batch, n) @ (n, 4n)
                i, f, g, o = (sigma(a[:, :n]), sigma(a[:, n:2 * n]), phi(a[:, 2 * n:3 * n]),
                              sigma(a[:, 3 * n:]))
                gates[t] = i, f, g, o
                c_new = f * c[t] + i * g
                tc[t] = phi(c_new)
                h_new = o * tc[t]
                if m is None:
                    h[t + 1], c[t + 1] = h_new, c_new
                else:
                    h[t + 1] = m[t] * h_new + (1.0 - m[t]) * h[t]
                    c[t + 1] = m[t] * c_new + (1.0 - m[t]) * c[t]
        ctx.save_for_backward(u, h, c, gates, tc)
        ctx.settings = (m, keep, activation, recurrent_activation)
        return np.concatenate([h[1:], c[1:]], axis=2).transpose(1, 0, 2).copy()

    @staticmethod
    def backward(ctx, grad_output):
        u, h, c, gates, tc = ctx.saved_tensors
        m, keep, activation, recurrent_activation = ctx.settings
        d_phi, d_sigma = ACTIVATIONS[activation][1], ACTIVATIONS[recurrent_activation][1]
        steps, _, batch, n = gates.shape
        dy = grad_output.transpose(1, 0, 2)  # (T, batch, 2n): [dh_t, dc_t] from the output
        da = np.empty((steps, batch, 4 * n), dtype=grad_output.dtype)
        dh = np.zeros((batch, n), dtype=grad_output.dtype)
        dc = np.zeros_like(dh)
        with one_blas_thread():  # many small products: kernels/recurrent.py
            for t in reversed(range(steps)):
                dh = dh + dy[t, :, :n]
                dc = dc + dy[t, :, n:]
                dh_step, dc_step = (dh, dc) if m is None else (dh * m[t], dc * m[t])
                i, f, g, o = gates[t]
                da[t], dc_gates = lstm_step_backward(dh_step, dc_step, c[t], i, f, g, o, tc[t],
                                                     d_phi, d_sigma)
                dh_gates = da[t] @ u.T if keep is None else (da[t] @ u.T) * keep  # BLAS
                dh = dh_gates if m is None else dh_gates + dh * (1.0 - m[t])
                dc = dc_gates if m is None else dc_gates + dc * (1.0 - m[t])
            h_in = h[:-1] if keep is None else h[:-1] * keep
            rows = steps * batch
            du = h_in.reshape(rows, n).T @ da.reshape(rows, 4 * n)  # sum_t h_{t-1}^T @ da_t (BLAS)
        return np.ascontiguousarray(da.transpose(1, 0, 2)), du, dh, dc


# --- the public functions, with their argument checks -------------------------------------------


def _check_recurrent(fn: str, xw: Any, u: Any, gates: int, states: dict[str, Any],
                     mask: Any, activation: str, recurrent_activation: str) -> None:
    xw_shape, u_shape = shape_of(xw, fn, "xw"), shape_of(u, fn, "u")
    if len(u_shape) != 2 or u_shape[1] != gates * u_shape[0]:
        raise ValueError(f"{fn}: u must have shape (units, {gates} * units), received {u_shape}")
    n = u_shape[0]
    if len(xw_shape) != 3 or xw_shape[2] != gates * n:
        raise ValueError(f"{fn}: xw must have shape (batch, time, {gates * n}) for u of shape "
                         f"{u_shape}, received {xw_shape}")
    for name, state in states.items():
        if state is not None and shape_of(state, fn, name) != (xw_shape[0], n):
            raise ValueError(f"{fn}: {name} must have shape {(xw_shape[0], n)}, "
                             f"received {shape_of(state, fn, name)}")
    if mask is not None and np.shape(mask) != xw_shape[:2]:
        raise ValueError(f"{fn}: mask must have shape (batch, time) = {xw_shape[:2]}, "
                         f"received {np.shape(mask)}")
    for name, value in (("activation", activation), ("recurrent_activation", recurrent_activation)):
        if value not in ACTIVATIONS:
            raise ValueError(f"{fn}: {name} must be one of {sorted(ACTIVATIONS)}, "
                             f"received {value!r}")


def gru(xw: Any, u: Any, b_rec: Any = None, h0: Any = None, mask: Any = None,
        reset_after: bool = True, activation: str = "tanh",
        recurrent_activation: str = "sigmoid", recurrent_dropout_mask: Any = None) -> Tensor:
    """A GRU's recurrence over the projected inputs xw = x W + b_x (see the GRU Function).

    Args:
        xw: `(batch, time, 3 * units)`, gates [z, r, h].
        u: the recurrent kernel `(units, 3 * units)`.
        b_rec: the recurrent bias `(3 * units,)` (reset_after=True only) or None.
        h0: the initial state `(batch, units)`, or None for zeros.
        mask: `(batch, time)` booleans (True = a real step), or None.
        reset_after: apply the reset gate after the recurrent product (Keras's default).
        activation, recurrent_activation: names from ACTIVATIONS.
        recurrent_dropout_mask: `(batch, units)` of 0 and 1 / (1 - rate), or None.

    Returns:
        The hidden states `(batch, time, units)`.
    """
    _check_recurrent("gru", xw, u, 3, {"h0": h0}, mask, activation, recurrent_activation)
    return GRU.apply(xw, u, b_rec, h0, mask=mask, reset_after=reset_after, activation=activation,
                     recurrent_activation=recurrent_activation,
                     recurrent_dropout_mask=recurrent_dropout_mask)


def lstm(xw: Any, u: Any, h0: Any = None, c0: Any = None, mask: Any = None,
         activation: str = "tanh", recurrent_activation: str = "sigmoid",
         recurrent_dropout_mask: Any = None) -> Tensor:
    """An LSTM's recurrence over the projected inputs xw = x W + b (see the LSTM Function).

    Args:
        xw: `(batch, time, 4 * units)`, gates [i, f, c, o].
        u: the recurrent kernel `(units, 4 * units)`.
        h0, c0: the initial states `(batch, units)`, or None for zeros.
        mask, activation, recurrent_activation, recurrent_dropout_mask: as for `gru`.

    Returns:
        `(batch, time, 2 * units)`: the hidden states h_t, then the cell states c_t.
    """
    _check_recurrent("lstm", xw, u, 4, {"h0": h0, "c0": c0}, mask, activation,
                     recurrent_activation)
    return LSTM.apply(xw, u, h0, c0, mask=mask, activation=activation,
                      recurrent_activation=recurrent_activation,
                      recurrent_dropout_mask=recurrent_dropout_mask)
