"""Layer: the base class of every Keras-style layer, and the input checks all layers share.

A layer's life, in the order Keras gives it:

    __init__(...)                 check the arguments and remember them; no weights yet
    build(input_shape)            create the weights, now that the input's size is known
    call(x, training=False)       the forward pass on Tensors (the engine records it for backward)
    compute_output_shape(shape)   the output's shape, without computing anything

`layer(x)` runs them in that order: the first call builds the layer from x's shape, every call
checks x against what the layer was built for, then runs `call`.

Shapes include the batch axis first; `None` stands for "any batch size": a Dense layer fed
(batch, 64) has `compute_output_shape((None, 64)) == (None, units)`.

dtype: layers compute in float32, as Keras does. `dtype="float64"` makes a layer create its
weights in float64 and compute in float64: that is what gradient checks need (finite
differences in float32 are too coarse). `set_weights` always casts to the layer's dtype.
"""

import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from tinyvid.autograd.tensor import Tensor
from tinyvid.layers import initializers

Shape = tuple[int | None, ...]  # the batch axis first; None: any size

# --- names: "dense", "dense_1", ... as Keras gives them ---------------------------------------

_name_counts: dict[str, int] = {}


def to_snake_case(class_name: str) -> str:
    """'Conv2D' -> 'conv2d', 'MaxPooling2D' -> 'max_pooling2d' (Keras's rule)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(base: str) -> str:
    """`base` the first time, then `base_1`, `base_2`, ... (reset by tinyvid.utils.clear_session)."""
    count = _name_counts.get(base, 0)
    _name_counts[base] = count + 1
    return base if count == 0 else f"{base}_{count}"


def reset_names() -> None:
    _name_counts.clear()


# --- what a layer accepts ----------------------------------------------------------------------


class InputSpec:
    """What a layer accepts: an exact rank (`ndim`), a smallest rank (`min_ndim`), and fixed sizes
    of some axes (`axes={-1: 3}`: the last axis must hold 3 values), as Keras's InputSpec."""

    def __init__(self, ndim: int | None = None, min_ndim: int | None = None,
                 axes: dict[int, int] | None = None) -> None:
        self.ndim, self.min_ndim, self.axes = ndim, min_ndim, axes or {}


# --- the Layer ---------------------------------------------------------------------------------


class Layer:
    """Base class of all layers.

    Args:
        name: the layer's name; by default the class name in snake case, made unique
            ("conv2d", "conv2d_1", ...), as Keras names layers.
        dtype: "float32" (the default) or "float64" (for gradient checks).
        trainable: if False, the optimizer leaves this layer's weights alone.
        input_shape: the shape of one sample, without the batch axis, e.g. `(64, 64, 3)`. Only
            the first layer of a Sequential model needs it (or the model gets an `Input`).
    """

    def __init__(self, name: str | None = None, dtype: Any = "float32", trainable: bool = True,
                 input_shape: Sequence[int | None] | None = None, **kwargs: Any) -> None:
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}")
        self.name = name if name is not None else unique_name(to_snake_case(type(self).__name__))
        self.dtype = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise self._invalid("dtype", "must be a float type such as 'float32'", dtype)
        self.trainable = trainable
        self.built = False
        self.input_spec: InputSpec | None = None
        self._weights: list[Tensor] = []  # in Keras's order (kernel, then bias)
        self._weight_names: list[str] = []
        self._input_shape_arg: Shape | None = None
        if input_shape is not None:
            self._input_shape_arg = (None,) + _standardize_shape(input_shape, "input_shape", self)

    @property
    def where(self) -> str:
        """"Conv2D layer 'conv2d_1'": how error messages name this layer."""
        return f"{type(self).__name__} layer '{self.name}'"

    def _invalid(self, argument: str, expected: str, value: Any) -> ValueError:
        """A ValueError naming this layer and the argument, for checks in `__init__`."""
        return ValueError(
            f"{type(self).__name__} layer '{self.name}': invalid value for argument `{argument}`: "
            f"{expected}. Received: {argument}={value!r}")

    # --- the life of a layer: build, call, compute_output_shape --------------------------------

    def build(self, input_shape: Shape) -> None:
        """Create the weights for inputs of `input_shape`. Layers without weights keep this."""
        self.built = True

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        """The forward pass. `x` is a Tensor of this layer's dtype."""
        raise NotImplementedError

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)

    def __call__(self, x: Any, training: bool = False) -> Tensor:
        x = self._as_tensor(x)
        if not self.built:
            self.check_input_shape(x.shape)
            self.build(x.shape)
        self.check_input_shape(x.shape)
        return self.call(x, training=training)

    def _as_tensor(self, x: Any) -> Tensor:
        """Arrays (frames are often uint8) become Tensors of this layer's dtype."""
        if not isinstance(x, Tensor):
            return Tensor(np.asarray(x, dtype=self.dtype))
        if x.dtype == self.dtype:
            return x
        if x.requires_grad:
            raise ValueError(
                f"Layer '{self.name}' computes in {self.dtype} but received a {x.dtype} Tensor that "
                f"requires grad; build the layer with dtype='{x.dtype}' or pass {self.dtype} data")
        return Tensor(x.data.astype(self.dtype))

    def check_input_shape(self, shape: Sequence[int | None], index: int = 0) -> None:
        """Raise Keras's "Input 0 of layer ... is incompatible" error if `shape` does not fit."""
        spec = self.input_spec
        if spec is None:
            return
        shape = tuple(shape)
        start = f"Input {index} of layer '{self.name}' is incompatible with the layer: "
        if spec.ndim is not None and len(shape) != spec.ndim:
            raise ValueError(f"{start}expected ndim={spec.ndim}, found ndim={len(shape)}. "
                             f"Full shape received: {shape}")
        if spec.min_ndim is not None and len(shape) < spec.min_ndim:
            raise ValueError(f"{start}expected min_ndim={spec.min_ndim}, found ndim={len(shape)}. "
                             f"Full shape received: {shape}")
        for axis, value in spec.axes.items():
            if shape[axis] is not None and shape[axis] != value:
                raise ValueError(f"{start}expected axis {axis} of input shape to have value {value}, "
                                 f"but received input with shape {shape}")

    # --- weights -------------------------------------------------------------------------------

    def add_weight(self, shape: Sequence[int], initializer: Any, name: str) -> Tensor:
        """A new weight: a Tensor of this layer's dtype with requires_grad=True, filled by the
        initialiser (a name such as 'glorot_uniform' or an Initializer)."""
        values = initializers.get(initializer)(tuple(shape), self.dtype)
        weight = Tensor(np.asarray(values, dtype=self.dtype), requires_grad=True, name=f"{self.name}/{name}")
        self._weights.append(weight)
        self._weight_names.append(name)
        return weight

    @property
    def weights(self) -> list[Tensor]:
        return list(self._weights)

    @property
    def trainable_weights(self) -> list[Tensor]:
        return list(self._weights) if self.trainable else []

    @property
    def non_trainable_weights(self) -> list[Tensor]:
        return [] if self.trainable else list(self._weights)

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the weights as NumPy arrays, in Keras's layouts and order."""
        return [w.data.copy() for w in self._weights]

    def set_weights(self, weights: Iterable[Any]) -> None:
        """Overwrite the weights in place (so an optimizer holding them sees the new values).

        Args:
            weights: NumPy arrays in the order and shapes of `get_weights()`: Dense `[kernel
                (in, out), bias (out,)]`, Conv2D `[kernel (kh, kw, c_in, c_out), bias (c_out,)]`.
                They are cast to the layer's dtype.
        """
        if not self.built:
            raise ValueError(
                f"You called `set_weights` on layer '{self.name}', which has not been built yet; "
                f"call the layer on data or `build(input_shape)` first")
        values = list(weights)
        if len(values) != len(self._weights):
            raise ValueError(
                f"Layer '{self.name}' expects {len(self._weights)} weights "
                f"({', '.join(self._weight_names) or 'none'}), but received {len(values)}")
        for weight, name, value in zip(self._weights, self._weight_names, values):
            array = np.asarray(value)
            if array.shape != weight.shape:
                raise ValueError(
                    f"Layer '{self.name}': weight '{name}' has shape {weight.shape}, "
                    f"but the value given has shape {array.shape}")
            np.copyto(weight.data, array, casting="unsafe")

    def count_params(self) -> int:
        """The number of weights (scalars) this layer holds."""
        if not self.built:
            raise ValueError(
                f"You tried to call `count_params` on layer '{self.name}', but the layer isn't "
                f"built. You can build it manually via: `{self.name}.build(batch_input_shape)`.")
        return sum(w.size for w in self._weights)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


# --- argument checks shared by the layers --------------------------------------------------------


def is_positive_int(value: Any) -> bool:
    return bool(isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0)


def check_data_format(value: Any, layer: Layer) -> None:
    if value not in (None, "channels_last"):
        raise layer._invalid("data_format", "tinyvid supports only 'channels_last' "
                             "(batch, height, width, channels)", value)


def _standardize_shape(shape: Any, argument: str, layer: Layer) -> Shape:
    if isinstance(shape, (tuple, list)) and all(d is None or is_positive_int(d) for d in shape):
        return tuple(None if d is None else int(d) for d in shape)
    raise ValueError(
        f"{type(layer).__name__} layer '{layer.name}': invalid value for argument `{argument}`: "
        f"expected a tuple of positive integers (one sample's shape, without the batch axis). "
        f"Received: {argument}={shape!r}")
