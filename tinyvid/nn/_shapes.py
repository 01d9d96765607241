"""The shape of whatever a user passed to a function of tinyvid.nn, for its argument checks."""

from typing import Any

import numpy as np

from tinyvid.autograd.tensor import Tensor


def shape_of(a: Any, fn: str, name: str) -> tuple[int, ...]:
    """The shape of a Tensor, array, number or nested list, or a ValueError naming `fn`."""
    if isinstance(a, Tensor):
        return a.shape
    try:
        return tuple(np.shape(a))
    except ValueError:  # ragged lists
        raise ValueError(f"{fn}: {name} is not a rectangular array") from None
