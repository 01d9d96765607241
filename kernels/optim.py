"""Optimizer updates as one fused loop over the weights (used by tinyvid/training/optimizers.py).

Adam touches every weight of the model once per step; the source document's model has a
14.7M-weight Dense kernel. Written as NumPy expressions the update makes about ten passes over
arrays of that size (g - m, times (1 - beta_1), add to m, g * g, ...). The loop below reads g, m,
v and theta once and writes m, v and theta once, on all cores.

    for i in range(theta.size):                       # every array flattened, float32
        m[i]     += (1 - beta_1) * (g[i] - m[i])
        v[i]     += (1 - beta_2) * (g[i] * g[i] - v[i])
        theta[i] -= alpha_t * m[i] / (sqrt(v[i]) + epsilon)

`adam_update` is the jitted alias of the plain `_adam_update`; with NUMBA_DISABLE_JIT=1 (or by
calling `_adam_update`) the same lines run in Python. The scalars are passed in the arrays'
dtype, so the loop computes in float32 for float32 weights as Keras does, and in float64 for
float64 ones; fastmath stays off.
"""

import math

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
