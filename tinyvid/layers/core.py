"""The core layers: Input, Dense, Activation, Flatten, Dropout.

In the source document's model (section 4.2) Flatten turns the last convolution's feature maps
into one long vector per frame, and two Dense layers turn that vector into class probabilities:

    (batch, 60, 60, 64) -Flatten-> (batch, 230400) -Dense(64, relu)-> (batch, 64)
                        -Dense(num_classes, softmax)-> (batch, num_classes)
"""

import math
import numbers
from typing import Any

from tinyvid.layers import activations, initializers
from tinyvid.layers.base import InputSpec, Layer, _standardize_shape, is_positive_int
from tinyvid.layers.symbolic import KerasTensor, Node
from tinyvid.nn.dense import Dense as DenseFunction
from tinyvid.training.rng import generator_for


class InputLayer(Layer):
    """The entry of a model: declares the shape of one sample and makes the graph's first
    KerasTensor (`input_layer.output`). It has no weights and does nothing to the data.

    Use `Input(shape=...)`, which returns that KerasTensor, to start a functional model or a
    Sequential one.
    """

    def __init__(self, shape=None, batch_size=None, dtype="float32", name=None, batch_shape=None,
                 **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)
        if shape is None and batch_shape is not None:  # Keras's config key
            batch_size, shape = batch_shape[0], batch_shape[1:]
        if shape is None:
            raise ValueError(f"InputLayer '{self.name}': `shape` is required, e.g. shape=(64, 64, 3)")
        self.shape = (batch_size,) + _standardize_shape(shape, "shape", self)
        self._input_shape_arg = self.shape
        self.built = True
        self.output = KerasTensor(self.shape, self.dtype, name=self.name)
        Node(self, [], self.output)

    def call(self, x, training=False):
        return x

    def get_config(self) -> dict[str, Any]:
        return {"batch_shape": list(self.shape), "dtype": self.dtype.name, "sparse": False,
                "ragged": False, "name": self.name, "optional": False}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "InputLayer":
        config = dict(config)
        if "batch_input_shape" in config:  # older Keras files
            config["batch_shape"] = config.pop("batch_input_shape")
        return super().from_config(config)  # type: ignore[return-value]


def Input(shape=None, batch_size=None, dtype="float32", name=None) -> KerasTensor:
    """Keras's `Input(shape=(64, 64, 3))`: a symbolic tensor `(None, 64, 64, 3)` to call layers on
    (a functional model, `tinyvid.Model(inputs, outputs)`) or to start a Sequential model with.

    Args:
        shape: one sample's shape, without the batch axis: `(height, width, channels)`.
        batch_size: a fixed batch size, or None for any.
        dtype: the inputs' dtype.
        name: the input's name (the InputLayer's), unique in a model.

    Returns:
        A KerasTensor; its InputLayer is `tensor._keras_history.layer`.
    """
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name).output


class Dense(Layer):
    """A fully connected layer: y = activation(x @ W + b).

    Args:
        units: the number of outputs per sample.
        activation: a name ('relu', 'softmax', ...; see tinyvid.activations) or a function.
            None means linear.
        use_bias: whether to add b.
        kernel_initializer, bias_initializer: Keras's defaults, 'glorot_uniform' and 'zeros'.

    Shapes:
        x `(batch, ..., in)` -> y `(batch, ..., units)`; W `(in, units)`, b `(units,)`.
    """

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if not is_positive_int(units):
            raise self._invalid("units", "expected a positive integer", units)
        self.units = int(units)
        self.activation = _activation(activation, self)
        self.use_bias = use_bias
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.input_spec = InputSpec(min_ndim=2)
        self.supports_masking = True  # (batch, time, in) -> (batch, time, units): same steps

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f"Dense layer '{self.name}': the last axis of the input must be known, "
                             f"received input shape {tuple(input_shape)}")
        self.kernel = self.add_weight((input_dim, self.units), self.kernel_initializer, "kernel")
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight((self.units,), self.bias_initializer, "bias")
        self.input_spec = InputSpec(min_ndim=2, axes={-1: input_dim})
        self.built = True

    def call(self, x, training=False):
        y = DenseFunction.apply(x, self.kernel, self.bias)  # x @ W + b in one op (BLAS)
        return activations.apply_to_own_output(self.activation, y)  # relu: in place

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": None, "bias_regularizer": None, "kernel_constraint": None,
                "bias_constraint": None}


class Activation(Layer):
    """Applies an activation function by itself: `Activation('relu')`."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = _activation(activation, self)
        self.supports_masking = True

    def call(self, x, training=False):
        return self.activation(x)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Flatten(Layer):
    """Merges every axis after the batch axis into one: `(batch, h, w, c)` -> `(batch, h * w * c)`.

    The order is NumPy's (and Keras's channels-last): the channels vary fastest, so Keras's
    Dense kernels work unchanged after this layer.
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise self._invalid("data_format", "tinyvid supports only 'channels_last'", data_format)
        self.input_spec = InputSpec(min_ndim=1)

    def call(self, x, training=False):
        return x.reshape(x.shape[0], -1)

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        size = None if any(d is None for d in rest) else math.prod(rest)
        return (input_shape[0], size)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": "channels_last"}


class Dropout(Layer):
    """Zeroes a random fraction `rate` of the inputs during training, and scales the rest by
    1 / (1 - rate) ("inverted dropout"), so nothing needs rescaling at inference, where the layer
    passes its input through unchanged.

        training:   y = x * mask / (1 - rate),   mask_i = 1 with probability 1 - rate, else 0
        inference:  y = x

    Args:
        rate: the fraction to drop, in [0, 1].
        noise_shape: the mask's shape, broadcast over x (e.g. `(batch, 1, 1, channels)` drops
            whole feature maps); None means x's shape.
        seed: gives the layer its own generator; without it, masks come from tinyvid's shared one.
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(rate, numbers.Real) or isinstance(rate, bool) or not 0 <= rate <= 1:
            raise self._invalid("rate", "expected a float value between 0 and 1", rate)
        self.rate, self.noise_shape, self.seed = float(rate), noise_shape, seed
        self._generator = None if seed is None else generator_for(seed)
        self.supports_masking = True

    def call(self, x, training=False):
        if not training or self.rate == 0:
            return x
        if self.rate == 1:
            return x * 0
        generator = self._generator or generator_for(None)
        shape = x.shape if self.noise_shape is None else tuple(
            n if n is not None else x.shape[i] for i, n in enumerate(self.noise_shape))
        keep = generator.random(shape, dtype=x.dtype) >= self.rate  # True with probability 1 - rate
        mask = keep.astype(x.dtype)
        mask *= 1 / (1 - self.rate)  # a Python float: the mask stays in x's dtype
        return x * mask

    def get_config(self) -> dict[str, Any]:
        noise_shape = None if self.noise_shape is None else list(self.noise_shape)
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "noise_shape": noise_shape}


def _activation(identifier, layer):
    try:
        return activations.get(identifier)
    except ValueError as error:
        raise ValueError(f"{type(layer).__name__} layer '{layer.name}': invalid value for argument "
                         f"`activation`: {error}") from None

