"""Optimizer updates as one fused loop over the weights (used by tinyvid/training/optimizers/).

Adam touches every weight of the model once per step; the source document's model has a
14.7M-weight Dense kernel. Written as NumPy expressions the update makes about ten passes over
arrays of that size (g - m, times (1 - beta_1), add to m, g * g, ...). The loops below read each
array once and write each changed one once, on all cores.

    for i in range(theta.size):                       # Adam; every array flattened, float32
        m[i]     += (1 - beta_1) * (g[i] - m[i])
        v[i]     += (1 - beta_2) * (g[i] * g[i] - v[i])
        theta[i] -= alpha_t * m[i] / (sqrt(v[i]) + epsilon)

    for i in range(theta.size):                       # RMSprop
        v[i] = rho * v[i] + (1 - rho) * g[i] * g[i]
        a[i] = rho * a[i] + (1 - rho) * g[i]                          (centered only)
        step = alpha * g[i] / sqrt(v[i] (- a[i]^2) + epsilon)
        m[i] = mu * m[i] + step;  theta[i] -= m[i]                    (or theta[i] -= step)

`adam_update` and `rmsprop_update` are the jitted aliases of the plain `_adam_update` and
`_rmsprop_update`; with NUMBA_DISABLE_JIT=1 (or by calling the plain ones) the same lines run
in Python. The scalars are passed in the arrays' dtype, so the loops compute in float32 for
float32 weights as Keras does, and in float64 for float64 ones; fastmath stays off. Both are
parallel kernels: callers hold tinyvid.kernels.cores.PARALLEL_LAUNCH around each launch.
"""

import math

import numpy as np
from numba import njit, prange


def _adam_update(theta, g, m, v, one_minus_beta_1, one_minus_beta_2, alpha_t, epsilon):
    """One Adam step, in place on theta, m and v. All arrays 1-D, contiguous, of one dtype."""
    for i in prange(theta.size):
        gi = g[i]
        mi = m[i] + one_minus_beta_1 * (gi - m[i])
        vi = v[i] + one_minus_beta_2 * (gi * gi - v[i])
        m[i] = mi
        v[i] = vi
        theta[i] -= alpha_t * mi / (math.sqrt(vi) + epsilon)


adam_update = njit(parallel=True, cache=True)(_adam_update)


def _rmsprop_update(theta, g, v, m, a, rho, one_minus_rho, momentum, epsilon, alpha, use_momentum,
                    centered):
    """One RMSprop step, in place on theta, v (and m with use_momentum, a when centered).

    All arrays 1-D, contiguous, of one dtype; m and a are not read unless their flag is set
    (a caller may then pass any array of the right size, e.g. v).
    """
    for i in prange(theta.size):
        gi = g[i]
        vi = rho * v[i] + one_minus_rho * (gi * gi)
        v[i] = vi
        denominator = vi + epsilon
        if centered:
            ai = rho * a[i] + one_minus_rho * gi
            a[i] = ai
            denominator = vi - ai * ai + epsilon
        step = alpha * gi / np.sqrt(denominator)  # np.sqrt: float32 stays float32 in Python too
        if use_momentum:
            mi = momentum * m[i] + step
            m[i] = mi
            theta[i] -= mi
        else:
            theta[i] -= step


rmsprop_update = njit(parallel=True, cache=True)(_rmsprop_update)
