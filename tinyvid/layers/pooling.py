"""Pooling layers: shrink each feature map by taking the maximum or the mean of small windows.

    MaxPooling2D:      y[n, i, j, c] = max  over the window at (i, j) of x[n, ., ., c]
    AveragePooling2D:  y[n, i, j, c] = mean over the window at (i, j) of x[n, ., ., c]
    GlobalAveragePooling2D:  y[n, c] = mean over all (i, j) of x[n, i, j, c]
    MaxPooling3D, AveragePooling3D: the same over windows of clips (time, height, width)
    GlobalMaxPooling2D, GlobalAveragePooling3D, GlobalAveragePooling1D (mask-aware): over the
        whole frame, clip or sequence

Shapes: x `(batch, height, width, channels)`; the channels are pooled separately and their
number does not change. Output sizes follow Keras's padding rules (see convolutional.py);
strides default to the pool size, so windows do not overlap. With padding='same', average
pooling divides by the number of real pixels in each window (the padding is not counted),
as Keras does.
"""

from typing import Any

import numpy as np

from tinyvid.autograd.tensor import Tensor
from tinyvid.kernels.geometry import check_padding, normalize_tuple, output_length
from tinyvid.layers.base import InputSpec, Layer, check_data_format
from tinyvid.nn.pool import AvgPool2D, AvgPool3D, MaxPool2D, MaxPool3D


class _Pooling2D(Layer):
    """Shared by MaxPooling2D and AveragePooling2D: argument checks and output shape."""

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = normalize_tuple(pool_size, 2, "pool_size", self.where)
        self.strides = (self.pool_size if strides is None
                        else normalize_tuple(strides, 2, "strides", self.where))
        self.padding = check_padding(padding, self.where)
        check_data_format(data_format, self)
        self.input_spec = InputSpec(ndim=4)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        (ph, pw), (sh, sw) = self.pool_size, self.strides
        out_h = output_length(h, ph, sh, 1, self.padding)
        return (n, out_h, output_length(w, pw, sw, 1, self.padding), c)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "pool_size": list(self.pool_size), "padding": self.padding,
                "strides": list(self.strides), "data_format": "channels_last"}

    def build(self, input_shape):
        _, out_h, out_w, _ = self.compute_output_shape(input_shape)
        if (out_h is not None and out_h <= 0) or (out_w is not None and out_w <= 0):
            raise ValueError(
                f"{type(self).__name__} layer '{self.name}': computed output size would be zero: "
                f"input shape {tuple(input_shape)} is smaller than pool_size={self.pool_size}")
        self.built = True


class MaxPooling2D(_Pooling2D):
    """The maximum of each `pool_size` window (default 2 x 2, halving height and width)."""

    def call(self, x, training=False):
        return MaxPool2D.apply(x, pool_size=self.pool_size, strides=self.strides,
                               padding=self.padding)


class AveragePooling2D(_Pooling2D):
    """The mean of each `pool_size` window (default 2 x 2, halving height and width)."""

    def call(self, x, training=False):
        return AvgPool2D.apply(x, pool_size=self.pool_size, strides=self.strides,
                               padding=self.padding)


class GlobalAveragePooling2D(Layer):
    """The mean of each whole feature map: `(batch, h, w, c)` -> `(batch, c)`
    (`(batch, 1, 1, c)` with keepdims=True)."""

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        check_data_format(data_format, self)
        self.keepdims = keepdims
        self.input_spec = InputSpec(ndim=4)

    def call(self, x, training=False):
        return x.mean(axis=(1, 2), keepdims=self.keepdims)

    def compute_output_shape(self, input_shape):
        n, _, _, c = input_shape
        return (n, 1, 1, c) if self.keepdims else (n, c)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": "channels_last", "keepdims": self.keepdims}


class _Pooling3D(Layer):
    """Shared by MaxPooling3D and AveragePooling3D: argument checks and output shape, for clips
    `(batch, time, height, width, channels)`; each of the three axes follows Keras's rules."""

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.pool_size = normalize_tuple(pool_size, 3, "pool_size", self.where)
        self.strides = (self.pool_size if strides is None
                        else normalize_tuple(strides, 3, "strides", self.where))
        self.padding = check_padding(padding, self.where)
        check_data_format(data_format, self)
        self.input_spec = InputSpec(ndim=5)

    def compute_output_shape(self, input_shape):
        sizes = [output_length(size, p, s, 1, self.padding)
                 for size, p, s in zip(input_shape[1:4], self.pool_size, self.strides)]
        return (input_shape[0], *sizes, input_shape[4])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "pool_size": list(self.pool_size), "padding": self.padding,
                "strides": list(self.strides), "data_format": "channels_last"}

    def build(self, input_shape):
        if any(d is not None and d <= 0 for d in self.compute_output_shape(input_shape)[1:4]):
            raise ValueError(
                f"{type(self).__name__} layer '{self.name}': computed output size would be zero: "
                f"input shape {tuple(input_shape)} is smaller than pool_size={self.pool_size}")
        self.built = True


class MaxPooling3D(_Pooling3D):
    """The maximum of each `pool_size` window of a clip (default 2 x 2 x 2: halves time, height
    and width)."""

    def call(self, x, training=False):
        return MaxPool3D.apply(x, pool_size=self.pool_size, strides=self.strides,
                               padding=self.padding)


class AveragePooling3D(_Pooling3D):
    """The mean of each `pool_size` window of a clip (default 2 x 2 x 2)."""

    def call(self, x, training=False):
        return AvgPool3D.apply(x, pool_size=self.pool_size, strides=self.strides,
                               padding=self.padding)


class _GlobalPooling(Layer):
    """Shared by the global poolings: reduce every axis between the batch and the channels."""

    ndim = 4

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        check_data_format(data_format, self)
        self.keepdims = bool(keepdims)
        self.input_spec = InputSpec(ndim=self.ndim)

    @property
    def _axes(self):
        return tuple(range(1, self.ndim - 1))

    def compute_output_shape(self, input_shape):
        n, c = input_shape[0], input_shape[-1]
        return (n,) + (1,) * (self.ndim - 2) + (c,) if self.keepdims else (n, c)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": "channels_last", "keepdims": self.keepdims}


class GlobalMaxPooling2D(_GlobalPooling):
    """The maximum of each whole feature map: `(batch, h, w, c)` -> `(batch, c)` (`(batch, 1, 1,
    c)` with keepdims=True). The gradient goes to the maximum (shared equally by ties)."""

    def call(self, x, training=False):
        return x.max(axis=self._axes, keepdims=self.keepdims)


class GlobalAveragePooling3D(_GlobalPooling):
    """The mean of each channel over the whole clip: `(batch, t, h, w, c)` -> `(batch, c)`
    (`(batch, 1, 1, 1, c)` with keepdims=True)."""

    ndim = 5

    def call(self, x, training=False):
        return x.mean(axis=self._axes, keepdims=self.keepdims)


class GlobalAveragePooling1D(_GlobalPooling):
    """The mean over time of a sequence: `(batch, steps, features)` -> `(batch, features)`.

    With a mask `(batch, steps)` (True for a real step, False for padding), only the real steps
    are averaged, as in Keras:

        y[n, f] = sum over s of mask[n, s] * x[n, s, f]  /  sum over s of mask[n, s]

    The mask stops here (`compute_mask` returns None): the output has no time axis left.
    """

    ndim = 3

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(data_format=data_format, keepdims=keepdims, **kwargs)
        self.supports_masking = True

    def call(self, x, training=False, mask=None):
        if mask is None:
            return x.mean(axis=1, keepdims=self.keepdims)
        weights = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
        if weights.shape != tuple(x.shape[:2]):
            raise ValueError(f"GlobalAveragePooling1D layer '{self.name}': expected a mask of "
                             f"shape {tuple(x.shape[:2])} (batch, steps) for input shape "
                             f"{tuple(x.shape)}, received mask of shape {weights.shape}")
        weights = weights.astype(x.dtype)[:, :, None]  # (batch, steps, 1): a constant
        total = (x * weights).sum(axis=1, keepdims=self.keepdims)
        count = weights.sum(axis=1, keepdims=self.keepdims)
        return total / count

    def compute_mask(self, inputs, mask=None):
        return None
