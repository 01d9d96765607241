"""Conv2D and Conv3D: convolution over frames (2-D) and over clips (3-D: time, height, width),
channels last, with Keras's arguments and defaults.

    y[n, i, j, o] = activation( b[o] + sum over (p, q, c) of
                                x[n, i*sh + p*dh - pad_top, j*sw + q*dw - pad_left, c] * W[p, q, c, o] )

Shapes: x `(batch, height, width, c_in)` -> y `(batch, out_h, out_w, filters)`; the kernel W is
`(kh, kw, c_in, filters)` and the bias b `(filters,)`, Keras's layouts, so `set_weights` takes a
Keras model's `get_weights()` unchanged. The arithmetic is tinyvid.nn.conv2d's (im2col + BLAS).

Output size per spatial axis (Keras's rules):
    padding='valid':  out = floor((size - (k - 1) * dilation - 1) / stride) + 1
    padding='same':   out = ceil(size / stride)          (zeros padded around the frame)
"""

from typing import Any

from tinyvid.kernels.geometry import check_padding, normalize_tuple, output_length
from tinyvid.layers import activations, initializers
from tinyvid.layers.base import InputSpec, Layer, check_data_format, is_positive_int
from tinyvid.layers.core import _activation
from tinyvid.nn.conv import Conv2D as Conv2DFunction
from tinyvid.nn.conv3d import Conv3D as Conv3DFunction


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

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
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

    def build(self, input_shape):
        c_in = input_shape[-1]
        if c_in is None:
            raise ValueError(f"Conv2D layer '{self.name}': the channel axis (-1) of the input must be "
                             f"known, received input shape {tuple(input_shape)}")
        self._check_output_size(input_shape)
        kh, kw = self.kernel_size
        self.kernel = self.add_weight((kh, kw, c_in, self.filters), self.kernel_initializer, "kernel")
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight((self.filters,), self.bias_initializer, "bias")
        self.input_spec = InputSpec(ndim=4, axes={-1: c_in})
        self.built = True

    def call(self, x, training=False):
        # Checked in __init__ and build (and the input's shape by Layer.__call__): the op trusts it.
        y = Conv2DFunction.apply(x, self.kernel, self.bias, strides=self.strides,
                                 padding=self.padding, dilation_rate=self.dilation_rate)
        return activations.apply_to_own_output(self.activation, y)  # relu: in place

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        (kh, kw), (sh, sw), (dh, dw) = self.kernel_size, self.strides, self.dilation_rate
        out_h = output_length(h, kh, sh, dh, self.padding)
        out_w = output_length(w, kw, sw, dw, self.padding)
        return (n, out_h, out_w, self.filters)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": self.padding, "data_format": "channels_last",
                "dilation_rate": list(self.dilation_rate), "groups": 1,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
                "kernel_constraint": None, "bias_constraint": None}

    def _check_output_size(self, input_shape):
        _, out_h, out_w, _ = self.compute_output_shape(input_shape)
        if (out_h is not None and out_h <= 0) or (out_w is not None and out_w <= 0):
            raise ValueError(
                f"Conv2D layer '{self.name}': computed output size would be negative or zero: "
                f"input shape {tuple(input_shape)}, kernel_size={self.kernel_size}, "
                f"strides={self.strides}, dilation_rate={self.dilation_rate}, padding='{self.padding}'")


class Conv3D(Layer):
    """3-D convolution layer, over time, height and width of clips (Keras 3's Conv3D).

        y[n, t, i, j, o] = activation( b[o] + sum over (a, p, q, c) of
                           xp[n, t*st + a*dt, i*sh + p*dh, j*sw + q*dw, c] * W[a, p, q, c, o] )

    Shapes: x `(batch, time, height, width, c_in)` -> y `(batch, out_t, out_h, out_w, filters)`;
    the kernel W is `(kt, kh, kw, c_in, filters)` and the bias `(filters,)`, Keras's layouts.
    Each of the three axes follows the output-size rules above; 'same' pads time as well. The
    arithmetic is tinyvid.nn.conv3d's (frames through im2col, a matrix product per temporal
    tap).

    Args:
        filters: the number of output channels, a positive int.
        kernel_size: an int or a triple `(kt, kh, kw)`.
        strides: an int or a triple. Default 1.
        padding: 'valid' or 'same'.
        data_format: only 'channels_last' (or None).
        dilation_rate: an int or a triple. Default 1.
        activation: a name or a function; None means linear.
        use_bias: whether to add a bias per filter.
        kernel_initializer, bias_initializer: 'glorot_uniform' (fan_in = kt*kh*kw*c_in,
            fan_out = kt*kh*kw*filters) and 'zeros', Keras's defaults.
    """

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1, 1), activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if not is_positive_int(filters):
            raise self._invalid("filters", "expected a strictly positive integer", filters)
        self.filters = int(filters)
        self.kernel_size = normalize_tuple(kernel_size, 3, "kernel_size", self.where)
        self.strides = normalize_tuple(strides, 3, "strides", self.where)
        self.padding = check_padding(padding, self.where)
        check_data_format(data_format, self)
        self.dilation_rate = normalize_tuple(dilation_rate, 3, "dilation_rate", self.where)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise self._invalid("dilation_rate", "strides > 1 together with dilation_rate > 1 is "
                                f"not supported (as in Keras); strides={self.strides}",
                                dilation_rate)
        self.activation = _activation(activation, self)
        self.use_bias = use_bias
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.input_spec = InputSpec(ndim=5)

    def build(self, input_shape):
        c_in = input_shape[-1]
        if c_in is None:
            raise ValueError(f"Conv3D layer '{self.name}': the channel axis (-1) of the input must "
                             f"be known, received input shape {tuple(input_shape)}")
        out = self.compute_output_shape(input_shape)[1:4]
        if any(d is not None and d <= 0 for d in out):
            raise ValueError(
                f"Conv3D layer '{self.name}': computed output size would be negative or zero: "
                f"input shape {tuple(input_shape)}, kernel_size={self.kernel_size}, "
                f"strides={self.strides}, dilation_rate={self.dilation_rate}, "
                f"padding='{self.padding}'")
        self.kernel = self.add_weight(self.kernel_size + (c_in, self.filters),
                                      self.kernel_initializer, "kernel")
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight((self.filters,), self.bias_initializer, "bias")
        self.input_spec = InputSpec(ndim=5, axes={-1: c_in})
        self.built = True

    def call(self, x, training=False):
        y = Conv3DFunction.apply(x, self.kernel, self.bias, strides=self.strides,
                                 padding=self.padding, dilation_rate=self.dilation_rate)
        return activations.apply_to_own_output(self.activation, y)  # relu: in place

    def compute_output_shape(self, input_shape):
        sizes = [output_length(size, k, s, d, self.padding) for size, k, s, d in
                 zip(input_shape[1:4], self.kernel_size, self.strides, self.dilation_rate)]
        return (input_shape[0], *sizes, self.filters)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": self.padding, "data_format": "channels_last",
                "dilation_rate": list(self.dilation_rate), "groups": 1,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
                "kernel_constraint": None, "bias_constraint": None}
