"""Pooling layers: shrink each feature map by taking the maximum or the mean of small windows.

    MaxPooling2D:      y[n, i, j, c] = max  over the window at (i, j) of x[n, ., ., c]
    AveragePooling2D:  y[n, i, j, c] = mean over the window at (i, j) of x[n, ., ., c]
    GlobalAveragePooling2D:  y[n, c] = mean over all (i, j) of x[n, i, j, c]

Shapes: x `(batch, height, width, channels)`; the channels are pooled separately and their
number does not change. Output sizes follow Keras's padding rules (see convolutional.py);
strides default to the pool size, so windows do not overlap. With padding='same', average
pooling divides by the number of real pixels in each window (the padding is not counted),
as Keras does.
"""

from collections.abc import Sequence
from typing import Any

from tinyvid.autograd.tensor import Tensor
from tinyvid.kernels.geometry import check_padding, normalize_tuple, output_length
from tinyvid.layers.base import InputSpec, Layer, Shape, check_data_format
from tinyvid.nn.pool import AvgPool2D, MaxPool2D


class _Pooling2D(Layer):
    """Shared by MaxPooling2D and AveragePooling2D: argument checks and output shape."""

    def __init__(self, pool_size: int | Sequence[int] = (2, 2),
                 strides: int | Sequence[int] | None = None, padding: str = "valid",
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pool_size = normalize_tuple(pool_size, 2, "pool_size", self.where)
        self.strides = (self.pool_size if strides is None
                        else normalize_tuple(strides, 2, "strides", self.where))
        self.padding = check_padding(padding, self.where)
        check_data_format(data_format, self)
        self.input_spec = InputSpec(ndim=4)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        n, h, w, c = input_shape
        (ph, pw), (sh, sw) = self.pool_size, self.strides
        out_h = output_length(h, ph, sh, 1, self.padding)
        return (n, out_h, output_length(w, pw, sw, 1, self.padding), c)

    def build(self, input_shape: Shape) -> None:
        _, out_h, out_w, _ = self.compute_output_shape(input_shape)
        if (out_h is not None and out_h <= 0) or (out_w is not None and out_w <= 0):
            raise ValueError(
                f"{type(self).__name__} layer '{self.name}': computed output size would be zero: "
                f"input shape {tuple(input_shape)} is smaller than pool_size={self.pool_size}")
        self.built = True


class MaxPooling2D(_Pooling2D):
    """The maximum of each `pool_size` window (default 2 x 2, halving height and width)."""

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        return MaxPool2D.apply(x, pool_size=self.pool_size, strides=self.strides,
                               padding=self.padding)


class AveragePooling2D(_Pooling2D):
    """The mean of each `pool_size` window (default 2 x 2, halving height and width)."""

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        return AvgPool2D.apply(x, pool_size=self.pool_size, strides=self.strides,
                               padding=self.padding)


class GlobalAveragePooling2D(Layer):
    """The mean of each whole feature map: `(batch, h, w, c)` -> `(batch, c)`
    (`(batch, 1, 1, c)` with keepdims=True)."""

    def __init__(self, data_format: str | None = None, keepdims: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        check_data_format(data_format, self)
        self.keepdims = keepdims
        self.input_spec = InputSpec(ndim=4)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        return x.mean(axis=(1, 2), keepdims=self.keepdims)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        n, _, _, c = input_shape
        return (n, 1, 1, c) if self.keepdims else (n, c)
