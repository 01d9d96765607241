"""Layer: the base class of every Keras-style layer, and the input checks all layers share.

A layer's life, in the order Keras gives it:

    __init__(...)                 check the arguments and remember them; no weights yet
    build(input_shape)            create the weights, now that the input's size is known
    call(x, training=False)       the forward pass on Tensors (the engine records it for backward)
    compute_output_shape(shape)   the output's shape, without computing anything
    compute_mask(x, mask)         the output's mask (which time steps are real), see below

`layer(x)` runs them in that order: the first call builds the layer from x's shape, every call
checks x against what the layer was built for, then runs `call`.

Shapes include the batch axis first; `None` stands for "any batch size": a Dense layer fed
(batch, 64) has `compute_output_shape((None, 64)) == (None, units)`.

dtype: layers compute in float32, as Keras does. `dtype="float64"` makes a layer create its
weights in float64 and compute in float64: that is what gradient checks need (finite
differences in float32 are too coarse). `set_weights` always casts to the layer's dtype.
"""

import inspect
import re
from typing import Any

import numpy as np

from tinyvid.autograd.tensor import Tensor
from tinyvid.layers import initializers
from tinyvid.layers.symbolic import KerasTensor, Node, is_symbolic, map_structure

# --- names: "dense", "dense_1", ... as Keras gives them ---------------------------------------

_name_counts: dict[str, int] = {}


def to_snake_case(class_name):
    """'Conv2D' -> 'conv2d', 'MaxPooling2D' -> 'max_pooling2d' (Keras's rule)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(base):
    """`base` the first time, then `base_1`, `base_2`, ... (reset by tinyvid.utils.clear_session)."""
    count = _name_counts.get(base, 0)
    _name_counts[base] = count + 1
    return base if count == 0 else f"{base}_{count}"


def reset_names():
    _name_counts.clear()


# --- what a layer accepts ----------------------------------------------------------------------


class InputSpec:
    """What a layer accepts: an exact rank (`ndim`), a smallest rank (`min_ndim`), and fixed sizes
    of some axes (`axes={-1: 3}`: the last axis must hold 3 values), as Keras's InputSpec."""

    def __init__(self, ndim=None, min_ndim=None, axes=None):
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

    def __init__(self, name=None, dtype="float32", trainable=True, input_shape=None, **kwargs):
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}")
        self.name = name if name is not None else unique_name(to_snake_case(type(self).__name__))
        if isinstance(dtype, dict):  # Keras's DTypePolicy, as config.json holds it
            dtype = dtype.get("config", {}).get("name", dtype)
        try:
            self.dtype = np.dtype(dtype)
        except TypeError:
            raise self._invalid("dtype", "must be a float type such as 'float32'", dtype) from None
        if self.dtype.kind != "f":
            raise self._invalid("dtype", "must be a float type such as 'float32'", dtype)
        self.trainable = trainable
        self.built = False
        self.input_spec = None
        self._weights = []  # Tensors, in Keras's order (kernel, then bias)
        self._weight_names = []
        self._weight_trainable = []  # one flag per weight: False for BatchNorm's moving statistics
        self._input_shape_arg = None
        self._inbound_nodes = []  # one Node per call on symbolic inputs (see symbolic.py)
        self._build_shape = None  # the input shape the layer was built for
        if input_shape is not None:
            self._input_shape_arg = (None,) + _standardize_shape(input_shape, "input_shape", self)

    @property
    def where(self):
        """"Conv2D layer 'conv2d_1'": how error messages name this layer."""
        return f"{type(self).__name__} layer '{self.name}'"

    def _invalid(self, argument, expected, value):
        """A ValueError naming this layer and the argument, for checks in `__init__`."""
        return ValueError(
            f"{type(self).__name__} layer '{self.name}': invalid value for argument `{argument}`: "
            f"{expected}. Received: {argument}={value!r}")

    # --- the life of a layer: build, call, compute_output_shape --------------------------------

    def build(self, input_shape):
        """Create the weights for inputs of `input_shape`. Layers without weights keep this."""
        self.built = True

    def call(self, x, training=False):
        """The forward pass. `x` is a Tensor of this layer's dtype."""
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def __call__(self, x: Any, training: bool = False, mask: Any = None) -> Any:
        """Run the layer on `x`: a Tensor or an array (or a list of them for a merge layer).

        On symbolic inputs (KerasTensors from `Input(...)`), nothing is computed: the layer is
        built from their shapes and the call is recorded as a Node of the graph, and the result
        is a KerasTensor of the output's shape (see symbolic.py).

        `mask` (batch, steps), True for a real step, goes to layers whose `call` takes one
        (GlobalAveragePooling1D, the recurrent layers); without one, the mask the previous
        layer attached to x (`x._keras_mask`) is used, as in Keras.
        """
        if is_symbolic(x):
            return self._symbolic_call(x, mask=mask)
        if mask is None:
            mask = getattr(x, "_keras_mask", None)  # the mask the previous layer attached
        x = map_structure(self._as_tensor, x)
        shape = map_structure(lambda t: t.shape, x) if isinstance(x, (list, tuple)) else x.shape
        self._build_from(shape)
        if mask is not None and isinstance(x, Tensor):
            mask = self._check_mask(mask, x.shape)
        if mask is not None and _call_takes_mask(type(self)):
            y = self.call(x, training=training, mask=mask)  # type: ignore[call-arg]
        else:
            y = self.call(x, training=training)
        out_mask = self.compute_mask(x, mask) if self.supports_masking else None
        if out_mask is not None and isinstance(y, Tensor):
            # as Keras does: the mask rides on the output, where the next layer finds it
            y._keras_mask = out_mask  # type: ignore[attr-defined]
        return y

    # --- masks: which time steps are real (True) and which are padding (False) -----------------
    #
    # A mask (batch, time) travels with the data, as in Keras 3: Masking makes one, layers that
    # `supports_masking` pass it on (compute_mask), a layer whose `call` takes `mask=` receives
    # it, and a layer that does not support masking drops it.

    @property
    def supports_masking(self) -> bool:
        """Whether the mask of this layer's input goes on to its output (through compute_mask).
        True by default for layers that override compute_mask, as in Keras 3."""
        explicit = self.__dict__.get("_supports_masking")
        return type(self).compute_mask is not Layer.compute_mask if explicit is None else explicit

    @supports_masking.setter
    def supports_masking(self, value: bool) -> None:
        self._supports_masking = bool(value)

    def compute_mask(self, x: Any, mask: Any = None) -> Any:
        """The mask of the output for input x and its mask: by default the input's mask."""
        return mask

    def _check_mask(self, mask: Any, shape: tuple) -> np.ndarray:
        """The mask as a NumPy bool array whose shape is the first axes of the input's shape."""
        mask = np.asarray(getattr(mask, "data", mask))
        if mask.ndim < 1 or mask.ndim >= len(shape) or mask.shape != tuple(shape[:mask.ndim]):
            raise ValueError(
                f"{self.where}: invalid value for argument `mask`: expected booleans of shape "
                f"(batch, time) = {tuple(shape[:2])}, one per step of the input of shape "
                f"{tuple(shape)}. Received: mask of shape {mask.shape}")
        return mask.astype(bool, copy=False)

    def _build_from(self, shape: Any) -> None:
        """Build on first use (remembering the shape: a saved model records it), then check."""
        if not self.built:
            self._check_input_shapes(shape)
            self.build(shape)
            self._build_shape = shape
        self._check_input_shapes(shape)

    def _symbolic_call(self, inputs: Any, mask: Any = None) -> KerasTensor:
        """Build from the symbolic shapes, record the call as a Node, return the output's
        KerasTensor. A symbolic `mask` (an Input of shape (None, time), as in
        `GRU(8)(features, mask=mask_input)`) is recorded with the node, which passes the mask's
        data to the layer when the model runs."""
        if mask is not None and not isinstance(mask, KerasTensor):
            raise ValueError(f"{self.where} was called on symbolic inputs with a `mask` of type "
                             f"{type(mask).__name__}; in a functional model the mask must be "
                             f"symbolic too, e.g. Input(shape=(time,))")
        for leaf in inputs if isinstance(inputs, (list, tuple)) else [inputs]:
            if not isinstance(leaf, KerasTensor):
                raise ValueError(f"{self.where} was called on a mix of symbolic inputs (from "
                                 f"Input(...)) and data ({type(leaf).__name__}); in a functional "
                                 f"model every input of a layer must come from an Input")
        shape = (type(inputs)(t.shape for t in inputs) if isinstance(inputs, (list, tuple))
                 else inputs.shape)
        self._build_from(shape)
        if mask is not None and isinstance(inputs, KerasTensor):
            self._check_symbolic_mask(mask, inputs.shape)
        output = KerasTensor(self.compute_output_shape(shape), self.dtype)
        Node(self, inputs, output, mask=mask)
        return output

    def _check_symbolic_mask(self, mask: KerasTensor, shape: tuple) -> None:
        """The symbolic twin of _check_mask: the mask's shape is the input's first axes."""
        fits = 1 <= mask.ndim < len(shape) and all(
            m is None or s is None or m == s for m, s in zip(mask.shape, shape))
        if not fits:
            raise ValueError(
                f"{self.where}: invalid value for argument `mask`: expected a symbolic tensor of "
                f"shape (batch, time) = {tuple(shape[:2])}, one per step of the input of shape "
                f"{tuple(shape)}. Received: mask of shape {mask.shape}")

    def _check_input_shapes(self, shape: Any) -> None:
        if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple)):
            for index, one in enumerate(shape):
                self.check_input_shape(one, index)
        else:
            self.check_input_shape(shape)

    def _as_tensor(self, x):
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

    def check_input_shape(self, shape, index=0):
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

    def add_weight(self, shape, initializer, name, trainable=True):
        """A new weight: a Tensor of this layer's dtype filled by the initialiser (a name such as
        'glorot_uniform' or an Initializer).

        A trainable weight has requires_grad=True and is handed to the optimizer; a weight made
        with `trainable=False` (BatchNormalization's moving mean and variance) has no gradient,
        the optimizer never sees it, and the layer updates it itself. Both kinds are saved.
        """
        values = initializers.get(initializer)(tuple(shape), self.dtype)
        weight = Tensor(np.asarray(values, dtype=self.dtype), requires_grad=bool(trainable),
                        name=f"{self.name}/{name}")
        self._weights.append(weight)
        self._weight_names.append(name)
        self._weight_trainable.append(bool(trainable))
        return weight

    @property
    def weights(self):
        """Every weight, in the order they were added (Keras's order)."""
        return list(self._weights)

    @property
    def trainable_weights(self):
        """The weights the optimizer updates: none when the layer is frozen (trainable=False)."""
        if not self.trainable:
            return []
        return [w for w, t in zip(self._weights, self._weight_trainable) if t]

    @property
    def non_trainable_weights(self):
        """The other weights: all of them when the layer is frozen, else those added with
        `trainable=False`."""
        if not self.trainable:
            return list(self._weights)
        return [w for w, t in zip(self._weights, self._weight_trainable) if not t]

    def get_weights(self):
        """Copies of the weights as NumPy arrays, in Keras's layouts and order."""
        return [w.data.copy() for w in self._weights]

    def set_weights(self, weights):
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
        weights = list(weights)
        if len(weights) != len(self._weights):
            raise ValueError(
                f"Layer '{self.name}' expects {len(self._weights)} weights "
                f"({', '.join(self._weight_names) or 'none'}), but received {len(weights)}")
        for weight, name, value in zip(self._weights, self._weight_names, weights):
            value = np.asarray(value)
            if value.shape != weight.shape:
                raise ValueError(
                    f"Layer '{self.name}': weight '{name}' has shape {weight.shape}, "
                    f"but the value given has shape {value.shape}")
            np.copyto(weight.data, value, casting="unsafe")

    def count_params(self):
        """The number of weights (scalars) this layer holds."""
        if not self.built:
            raise ValueError(
                f"You tried to call `count_params` on layer '{self.name}', but the layer isn't "
                f"built. You can build it manually via: `{self.name}.build(batch_input_shape)`.")
        return sum(w.size for w in self._weights)

    # --- configs: what Keras writes in a .keras file's config.json -------------------------------

    def get_config(self) -> dict[str, Any]:
        """The arguments that rebuild this layer (`type(layer).from_config(config)`), with
        Keras's keys. Subclasses add their own to this base: name, trainable, dtype."""
        return {"name": self.name, "trainable": self.trainable,
                "dtype": {"module": "keras", "class_name": "DTypePolicy",
                          "config": {"name": self.dtype.name}, "registered_name": None}}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Layer":
        """A new layer from `get_config()`'s dict (or one Keras wrote): unbuilt, fresh weights.

        Keys of Keras features tinyvid does not have (regularizers, constraints, groups, ...) are
        accepted at their Keras default and refused, naming the layer and the key, otherwise.
        """
        config = dict(config)
        for key, default in KERAS_DEFAULTS_ONLY.items():
            if key in config:
                value = config.pop(key)
                if value != default:
                    raise ValueError(f"{cls.__name__} layer '{config.get('name')}': tinyvid does not "
                                     f"support `{key}`={value!r} (only Keras's default, {default!r})")
        for key, value in config.items():
            if key.endswith("_initializer") and isinstance(value, dict):
                config[key] = initializers.deserialize(value)
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


# Config keys of Keras features tinyvid lacks, with the one value tinyvid can honour (Keras's default)
KERAS_DEFAULTS_ONLY: dict[str, Any] = {
    "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
    "kernel_constraint": None, "bias_constraint": None, "quantization_config": None,
    "lora_rank": None, "lora_alpha": None, "groups": 1, "sparse": False, "ragged": False,
    "optional": False,
    # BatchNormalization
    "renorm": False, "renorm_clipping": None, "renorm_momentum": 0.99,
    # GRU and LSTM
    "stateful": False, "unroll": False, "zero_output_for_mask": False,
    "recurrent_regularizer": None, "recurrent_constraint": None,
}


def _call_takes_mask(cls: type["Layer"]) -> bool:
    """Whether `cls.call` has a `mask` parameter (Keras passes the mask only to such layers)."""
    takes = _CALL_TAKES_MASK.get(cls)
    if takes is None:
        takes = _CALL_TAKES_MASK[cls] = "mask" in inspect.signature(cls.call).parameters
    return takes


_CALL_TAKES_MASK: dict[type, bool] = {}


# --- argument checks shared by the layers --------------------------------------------------------


def is_positive_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0


def check_data_format(value, layer):
    if value not in (None, "channels_last"):
        raise layer._invalid("data_format", "tinyvid supports only 'channels_last' "
                             "(batch, height, width, channels)", value)


def _standardize_shape(shape, argument, layer):
    if isinstance(shape, (tuple, list)) and all(d is None or is_positive_int(d) for d in shape):
        return tuple(None if d is None else int(d) for d in shape)
    raise ValueError(
        f"{type(layer).__name__} layer '{layer.name}': invalid value for argument `{argument}`: "
        f"expected a tuple of positive integers (one sample's shape, without the batch axis). "
        f"Received: {argument}={shape!r}")
