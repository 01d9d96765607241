"""Conv2D: a 2-D convolution over frames, channels last, with Keras's arguments and defaults.

    y[n, i, j, o] = activation( b[o] + sum over (p, q, c) of
                                x[n, i*sh + p*dh - pad_top, j*sw + q*dw - pad_left, c] * W[p, q, c, o] )

Shapes: x `(batch, height, width, c_in)` -> y `(batch, out_h, out_w, filters)`; the kernel W is
`(kh, kw, c_in, filters)` and the bias b `(filters,)`, Keras's layouts, so `set_weights` takes a
Keras model's `get_weights()` unchanged. The arithmetic is tinyvid.nn.conv2d's (im2col + BLAS).

Output size per spatial axis (Keras's rules):
    padding='valid':  out = floor((size - (k - 1) * dilation - 1) / stride) + 1
    padding='same':   out = ceil(size / stride)          (zeros padded around the frame)
"""

from collections.abc import Sequence
from typing import Any

from tinyvid.autograd.tensor import Tensor
from tinyvid.kernels.geometry import check_padding, normalize_tuple, output_length
from tinyvid.layers.base import InputSpec, Layer, Shape, check_data_format, is_positive_int
from tinyvid.layers.core import _activation
from tinyvid.nn.conv import Conv2D as Conv2DFunction


class Conv2D(Layer):
    """2-D convolution layer.

    Args:
        filters: the number of output channels (kernels), a positive int.
        kernel_size: an int or a pair `(kh, kw)`.
        strides: an int or a pair; the step between windows. Default 1.
        padding: 'valid' (no padding, the output shrinks) or 'same' (pad so that
            out = ceil(size / stride)).
        dilation_rate: an int or a pair; the spacing between kernel taps. Default 1.
        activation: a name ('relu', ...) or a function; None means linear.
        use_bias: whether to add a bias per filter.
        kernel_initializer, bias_initializer: Keras's defaults, 'glorot_uniform' (with
            fan_in = kh * kw * c_in, fan_out = kh * kw * filters) and 'zeros'.
        data_format: only 'channels_last' (or None), Keras's default.
    """

    def __init__(self, filters: int, kernel_size: int | Sequence[int],
                 strides: int | Sequence[int] = (1, 1), padding: str = "valid",
                 data_format: str | None = None, dilation_rate: int | Sequence[int] = (1, 1),
                 activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not is_positive_int(filters):
            raise self._invalid("filters", "expected a strictly positive integer", filters)
        self.filters = int(filters)
        self.kernel_size = normalize_tuple(kernel_size, 2, "kernel_size", self.where)
        self.strides = normalize_tuple(strides, 2, "strides", self.where)
        self.padding = check_padding(padding, self.where)
        check_data_format(data_format, self)
        self.dilation_rate = normalize_tuple(dilation_rate, 2, "dilation_rate", self.where)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise self._invalid("dilation_rate", "strides > 1 together with dilation_rate > 1 is not "
                                f"supported (as in Keras); strides={self.strides}", dilation_rate)
        self.activation = _activation(activation, self)
        self.use_bias = use_bias
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.input_spec = InputSpec(ndim=4)

    def build(self, input_shape: Shape) -> None:
        c_in = input_shape[-1]
        if c_in is None:
            raise ValueError(f"Conv2D layer '{self.name}': the channel axis (-1) of the input must be "
                             f"known, received input shape {tuple(input_shape)}")
        self._check_output_size(input_shape)
        kh, kw = self.kernel_size
        self.kernel = self.add_weight((kh, kw, c_in, self.filters), self.kernel_initializer, "kernel")
        self.bias: Tensor | None = None
        if self.use_bias:
            self.bias = self.add_weight((self.filters,), self.bias_initializer, "bias")
        self.input_spec = InputSpec(ndim=4, axes={-1: c_in})
        self.built = True

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        # Checked in __init__ and build (and the input's shape by Layer.__call__): the op trusts it.
        y = Conv2DFunction.apply(x, self.kernel, self.bias, strides=self.strides,
                                 padding=self.padding, dilation_rate=self.dilation_rate)
        return self.activation(y)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        n, h, w, _ = input_shape
        (kh, kw), (sh, sw), (dh, dw) = self.kernel_size, self.strides, self.dilation_rate
        out_h = output_length(h, kh, sh, dh, self.padding)
        out_w = output_length(w, kw, sw, dw, self.padding)
        return (n, out_h, out_w, self.filters)

    def _check_output_size(self, input_shape: Shape) -> None:
        _, out_h, out_w, _ = self.compute_output_shape(input_shape)
        if (out_h is not None and out_h <= 0) or (out_w is not None and out_w <= 0):
            raise ValueError(
                f"Conv2D layer '{self.name}': computed output size would be negative or zero: "
                f"input shape {tuple(input_shape)}, kernel_size={self.kernel_size}, "
                f"strides={self.strides}, dilation_rate={self.dilation_rate}, padding='{self.padding}'")
