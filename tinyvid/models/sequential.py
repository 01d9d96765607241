"""Sequential: a stack of layers, each layer's output the next one's input.

The source document's model (section 4.2) runs on tinyvid with only its imports changed:

    model = Sequential()
    model.add(Conv2D(32, (3, 3), activation='relu', input_shape=(frame_size, frame_size, 3)))
    model.add(Conv2D(64, (3, 3), activation='relu'))
    model.add(Flatten())
    model.add(Dense(64, activation='relu'))
    model.add(Dense(num_classes, activation='softmax'))
    model.compile(optimizer=Adam(lr=0.001), loss='categorical_crossentropy', metrics=['accuracy'])
    model.fit(X_train, y_train, batch_size=32, epochs=10, validation_data=(X_val, y_val))

A Sequential is the simplest Model (model.py): one input, one output, one chain. It is trained
by the same Trainer (training/trainer.py) as any Model; what is its own is how it is put
together (`add`, `pop`) and that it can wait for the first data to learn its input shape.
"""

from typing import Any

import numpy as np

from tinyvid.autograd.tensor import Tensor
from tinyvid.layers.base import Layer
from tinyvid.layers.core import InputLayer
from tinyvid.layers.symbolic import KerasTensor
from tinyvid.models.model import Model


class Sequential(Model):
    """A linear stack of layers: each layer's output is the next one's input.

    Args:
        layers: an optional list of layers to add (an `Input(...)` may come first).
        name: the model's name; by default "sequential", "sequential_1", ...
        trainable: if False, fit leaves every weight alone.
    """

    def __init__(self, layers: list | None = None, name: str | None = None,
                 trainable: bool = True) -> None:
        super().__init__(name=name, trainable=trainable)
        self._layers: list[Layer] = []
        self._input_layer: InputLayer | None = None
        self._input_shape: Any = None  # (None, h, w, c) once known: from Input, input_shape=, or data
        for layer in layers or []:
            self.add(layer)

    def _default_name(self) -> str:
        return "sequential"

    @property
    def layers(self) -> list[Layer]:
        """The layers in order (without the Input, as in Keras)."""
        return list(self._layers)

    @property
    def output_names(self) -> list[str]:
        return [self._layers[-1].name] if self._layers else ["output"]

    def _output_is_single(self) -> bool:
        return True

    def _input_is_single(self) -> bool:
        return True

    # --- building: layers and shapes ------------------------------------------------------------

    def add(self, layer: Any) -> None:
        """Append a layer. If the input shape is known, the layer is built at once, so shape
        errors appear here, naming the layer, and `summary()` works before any data is seen."""
        if isinstance(layer, KerasTensor) and isinstance(layer._keras_history.layer, InputLayer):
            layer = layer._keras_history.layer  # model.add(Input(shape=...))
        if not isinstance(layer, Layer):
            raise ValueError(f"Only instances of tinyvid.layers.Layer can be added to a Sequential "
                             f"model. Received: {layer!r} (of type {type(layer).__name__})")
        if isinstance(layer, InputLayer):
            if self._layers:
                raise ValueError(f"Sequential model '{self.name}': an Input must come before every "
                                 f"other layer, but the model already has {len(self._layers)} layers")
            self._input_layer = layer
            self._input_shape = layer.shape
            return
        if any(existing.name == layer.name for existing in self._layers):
            raise ValueError(f"All layers added to a Sequential model should have unique names. Name "
                             f"'{layer.name}' is already the name of a layer in this model.")
        if not self._layers and self._input_shape is None and layer._input_shape_arg is not None:
            self._input_shape = layer._input_shape_arg
        self._layers.append(layer)
        if self._input_shape is not None:
            try:
                self.build(self._input_shape)
            except ValueError:
                self._layers.pop()  # leave the model as it was, usable
                raise

    def pop(self) -> Layer:
        """Remove and return the last layer (Keras's `pop`)."""
        if not self._layers:
            raise ValueError(f"Sequential model '{self.name}' has no layers to pop: it is empty")
        return self._layers.pop()

    def build(self, input_shape: Any) -> None:
        """Build every layer not yet built, passing shapes down the stack (no data needed)."""
        shape = tuple(input_shape)
        for layer in self._layers:
            layer._build_from(shape)
            shape = layer.compute_output_shape(shape)
        self._input_shape = tuple(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape: Any = None) -> Any:
        shape = tuple(self._input_shape if input_shape is None else input_shape)
        for layer in self._layers:
            shape = layer.compute_output_shape(shape)
        return shape

    def __call__(self, x: Any, training: bool = False, mask: Any = None) -> Any:
        """The forward pass: x `(batch, ...)` through every layer in order; returns a Tensor.

        `training=True` turns on Dropout. Arrays are converted to the first layer's dtype.
        `mask` `(batch, time)` (True = a real step) goes to the first layer; after that each
        layer's output mask (Masking makes one, GRU consumes it) goes on to the next layer.
        """
        if not self._layers:
            raise ValueError(f"Sequential model '{self.name}' has no layers; add some with model.add()")
        shape = np.shape(x.data if isinstance(x, Tensor) else x)
        if self._input_shape is None:
            self.build((None,) + shape[1:])  # the first data seen fixes the input shape
        self._check_input(shape)
        for layer in self._layers:
            x = layer(x, training=training, mask=mask)
            mask = getattr(x, "_keras_mask", None)  # the output's mask, for the next layer
        return x

    def _check_input(self, shape):
        expected = self._input_shape
        fits = len(shape) == len(expected) and all(e is None or e == s for e, s in zip(expected, shape))
        if not fits:
            self._layers[0].check_input_shape(shape)  # the first layer's own message, if it objects
            raise ValueError(f"Input 0 of layer '{self.name}' is incompatible with the layer: "
                             f"expected shape={expected}, found shape={tuple(shape)}")

    def _check_built(self, method: str) -> None:
        if not self.built:
            raise ValueError(f"Sequential model '{self.name}' has not been built yet, so `{method}` "
                             f"cannot run: give the first layer input_shape=, add an Input(shape=...) "
                             f"first, or call the model on data")

    # --- looking at the model ---------------------------------------------------------------------

    def _summary_rows(self) -> list[Any]:
        rows = []
        shape = self._input_shape
        for layer in self._layers:
            shape = layer.compute_output_shape(shape) if shape is not None and layer.built else None
            params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
            rows.append((f"{layer.name} ({type(layer).__name__})",
                         "?" if shape is None else str(shape), params))
        return rows

    def get_config(self) -> dict[str, Any]:
        """Keras's Sequential config: the layers (an InputLayer first, once the input shape is
        known), each with its build_config, and the input shape."""
        from tinyvid.training.serialization import serialize_layer

        layer_configs = []
        if self._input_shape is not None:
            entry = self._input_layer or InputLayer(shape=self._input_shape[1:],
                                                    batch_size=self._input_shape[0],
                                                    name="input_layer")
            layer_configs.append(serialize_layer(entry))
        layer_configs += [serialize_layer(layer) for layer in self._layers]
        config: dict[str, Any] = {
            "name": self.name, "trainable": self.trainable,
            "dtype": {"module": "keras", "class_name": "DTypePolicy",
                      "config": {"name": "float32"}, "registered_name": None},
            "layers": layer_configs}
        if self._input_shape is not None:
            config["build_input_shape"] = list(self._input_shape)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Sequential":
        """Rebuild a Sequential model from `get_config()` (or a Keras config): fresh weights."""
        from tinyvid.training.serialization import deserialize_layer

        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for layer_config in config["layers"]:
            model.add(deserialize_layer(layer_config))
        if not model.built and config.get("build_input_shape") is not None and model._layers:
            model.build(tuple(config["build_input_shape"]))
        return model

    def __repr__(self) -> str:
        return f"<Sequential name={self.name}, layers={[layer.name for layer in self._layers]}>"
