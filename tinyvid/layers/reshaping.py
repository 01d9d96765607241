"""Reshape: give each sample a new shape, the values in the same (row-major) order.

    Reshape((8, -1)):  (batch, 8, 4, 4, 16) -> (batch, 8, 256)

The batch axis is kept; `target_shape` is one sample's new shape, and one of its entries may be
-1, meaning "whatever the other axes leave", as Keras allows.
"""

import math
from typing import Any

from tinyvid.layers.base import Layer, is_positive_int


class Reshape(Layer):
    """Reshapes each sample to `target_shape` (the batch axis is kept).

    Args:
        target_shape: a tuple of positive ints, at most one of them -1.
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        ok = isinstance(target_shape, (tuple, list)) and all(
            d == -1 or is_positive_int(d) for d in target_shape)
        if not ok or list(target_shape).count(-1) > 1:
            raise self._invalid("target_shape", "expected a tuple of positive integers, with at "
                                "most one -1 (the dimension to infer)", target_shape)
        self.target_shape = tuple(int(d) for d in target_shape)

    def compute_output_shape(self, input_shape):
        sample = tuple(input_shape[1:])
        if -1 not in self.target_shape:
            if None not in sample and math.prod(sample) != math.prod(self.target_shape):
                raise self._size_error(input_shape)
            return (input_shape[0],) + self.target_shape
        if None in sample:
            inferred = None
        else:
            known = math.prod(d for d in self.target_shape if d != -1)
            if math.prod(sample) % known:
                raise self._size_error(input_shape)
            inferred = math.prod(sample) // known
        return (input_shape[0],) + tuple(inferred if d == -1 else d for d in self.target_shape)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)  # raises if the sizes cannot fit
        self.built = True

    def call(self, x, training=False):
        return x.reshape((x.shape[0],) + self.target_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "target_shape": list(self.target_shape)}

    def _size_error(self, input_shape):
        return ValueError(
            f"Reshape layer '{self.name}': the total size of the tensor must be unchanged. "
            f"Received: input_shape={tuple(input_shape)}, target_shape={self.target_shape}")
