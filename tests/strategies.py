"""Hypothesis strategies for tensors: shapes of 1 to 4 dims, broadcasting pairs, and views."""

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

shapes = hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4)


@st.composite
def arrays(draw, shape, low=-2.0, high=2.0):
    """A float64 array of `shape`, sometimes a non-contiguous view of a larger array."""
    values = st.floats(low, high, allow_nan=False, allow_infinity=False, width=64)
    layout = draw(st.sampled_from(["contiguous", "strided", "transposed"]))
    if layout == "strided":  # every other element of a twice-as-wide array
        wide = draw(hnp.arrays(np.float64, shape[:-1] + (2 * shape[-1],), elements=values))
        return wide[..., ::2]
    if layout == "transposed" and len(shape) >= 2:
        return draw(hnp.arrays(np.float64, shape[::-1], elements=values)).T
    return draw(hnp.arrays(np.float64, shape, elements=values))


@st.composite
def broadcast_pair(draw):
    """Two shapes that broadcast against each other, e.g. (3, 1, 4) and (2, 4)."""
    result = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=4, max_side=4))
    return result.input_shapes


@st.composite
def axes(draw, ndim):
    """None, one axis (possibly negative), or a tuple of distinct axes."""
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    return tuple(sorted(draw(st.sets(st.integers(0, ndim - 1), min_size=1, max_size=ndim))))
