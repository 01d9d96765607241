"""The core layers: Input, Dense, Activation, Flatten, Dropout.

In the source document's model (section 4.2) Flatten turns the last convolution's feature maps
into one long vector per frame, and two Dense layers turn that vector into class probabilities:

    (batch, 60, 60, 64) -Flatten-> (batch, 230400) -Dense(64, relu)-> (batch, 64)
                        -Dense(num_classes, softmax)-> (batch, num_classes)
"""

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinyvid.autograd.tensor import Tensor
from tinyvid.layers import activations
from tinyvid.layers.base import InputSpec, Layer, Shape, _standardize_shape, is_positive_int
from tinyvid.nn.dense import Dense as DenseFunction
from tinyvid.training.rng import generator_for


class InputLayer(Layer):
    """Declares the shape of one sample; a Sequential model uses it to build its layers early.

    It has no weights and does nothing to the data. Use `Input(shape=...)` to make one.
    """

    def __init__(self, shape: Sequence[int | None] | None = None, batch_size: int | None = None,
                 dtype: Any = "float32", name: str | None = None) -> None:
        super().__init__(name=name, dtype=dtype)
        if shape is None:
            raise ValueError(f"InputLayer '{self.name}': `shape` is required, e.g. shape=(64, 64, 3)")
        self.shape = (batch_size,) + _standardize_shape(shape, "shape", self)
        self._input_shape_arg = self.shape
        self.built = True

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        return x


def Input(shape: Sequence[int | None] | None = None, batch_size: int | None = None,
          dtype: Any = "float32", name: str | None = None) -> InputLayer:
    """Keras's `Input(shape=(64, 64, 3))`, usable as `model.add(Input(shape=...))`.

    Args:
        shape: one sample's shape, without the batch axis: `(height, width, channels)`.
        batch_size: a fixed batch size, or None for any.
    """
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name)


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

    def __init__(self, units: int, activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not is_positive_int(units):
            raise self._invalid("units", "expected a positive integer", units)
        self.units = int(units)
        self.activation = _activation(activation, self)
        self.use_bias = use_bias
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.input_spec = InputSpec(min_ndim=2)

    def build(self, input_shape: Shape) -> None:
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f"Dense layer '{self.name}': the last axis of the input must be known, "
                             f"received input shape {tuple(input_shape)}")
        self.kernel = self.add_weight((input_dim, self.units), self.kernel_initializer, "kernel")
        self.bias: Tensor | None = None
        if self.use_bias:
            self.bias = self.add_weight((self.units,), self.bias_initializer, "bias")
        self.input_spec = InputSpec(min_ndim=2, axes={-1: input_dim})
        self.built = True

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        y = DenseFunction.apply(x, self.kernel, self.bias)  # x @ W + b in one op (BLAS)
        return self.activation(y)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape[:-1]) + (self.units,)


class Activation(Layer):
    """Applies an activation function by itself: `Activation('relu')`."""

    def __init__(self, activation: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = _activation(activation, self)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        return self.activation(x)


class Flatten(Layer):
    """Merges every axis after the batch axis into one: `(batch, h, w, c)` -> `(batch, h * w * c)`.

    The order is NumPy's (and Keras's channels-last): the channels vary fastest, so Keras's
    Dense kernels work unchanged after this layer.
    """

    def __init__(self, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise self._invalid("data_format", "tinyvid supports only 'channels_last'", data_format)
        self.input_spec = InputSpec(min_ndim=1)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        return x.reshape(x.shape[0], -1)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        rest = input_shape[1:]
        size = None if any(d is None for d in rest) else math.prod(d for d in rest if d is not None)
        return (input_shape[0], size)


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

    def __init__(self, rate: float, noise_shape: Sequence[int | None] | None = None,
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(rate, numbers.Real) or isinstance(rate, bool) or not 0 <= float(rate) <= 1:
            raise self._invalid("rate", "expected a float value between 0 and 1", rate)
        self.rate: float = float(rate)
        self.noise_shape: Sequence[int | None] | None = noise_shape
        self.seed: int | None = seed
        self._generator: np.random.Generator | None = (
            None if seed is None else generator_for(seed))

    def call(self, x: Tensor, training: bool = False) -> Tensor:
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


def _activation(identifier: Any, layer: Layer) -> Callable[[Tensor], Tensor]:
    try:
        return activations.get(identifier)
    except ValueError as error:
        raise ValueError(f"{type(layer).__name__} layer '{layer.name}': invalid value for argument "
                         f"`activation`: {error}") from None

