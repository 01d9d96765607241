"""Masking: marks the padded steps of a sequence, so the layers after it skip them.

Clips shorter than the sequence length are padded with frames of `mask_value`; Masking turns
every step whose features all equal `mask_value` into a False in the mask `(batch, time)`:

    mask[b, t] = any(x[b, t, ...] != mask_value)        (True = a real step)

and zeroes those steps in its output, as Keras 3 does. The mask travels on with the output:
Dense, Activation, Dropout (and TimeDistributed) pass it through, GRU and LSTM skip the masked
steps (the state of a masked step is the previous one).
"""

from typing import Any

import numpy as np

from tinyvid.autograd.tensor import Tensor
from tinyvid.layers.base import InputSpec, Layer


class Masking(Layer):
    """Masks the steps of `(batch, time, ...)` whose features all equal `mask_value`.

    Args:
        mask_value: the value of the padding, 0.0 by default (Keras's).
    """

    def __init__(self, mask_value: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        try:
            self.mask_value = float(mask_value)
        except (TypeError, ValueError):
            raise self._invalid("mask_value", "expected a number", mask_value) from None
        self.supports_masking = True
        self.input_spec = InputSpec(min_ndim=2)

    def compute_mask(self, x: Any, mask: Any = None) -> np.ndarray:
        """`(batch, time)` booleans: True where some feature differs from mask_value."""
        values = np.asarray(getattr(x, "data", x))
        return np.any(values != self.mask_value, axis=tuple(range(2, values.ndim)))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mask_value": self.mask_value}

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        keep = self.compute_mask(x).astype(x.dtype)
        return x * keep.reshape(keep.shape + (1,) * (x.ndim - 2))
