"""Model: a graph of layers from inputs to outputs (Keras's functional API), trained by Trainer.

    a = Input(shape=(16, 16, 3)); b = Input(shape=(16, 16, 3))
    tower = Conv2D(8, 3, activation="relu")          # one layer called twice: one set of weights
    merged = Concatenate()([Flatten()(tower(a)), Flatten()(tower(b))])
    model = Model(inputs=[a, b], outputs=Dense(3, activation="softmax")(merged))

Calling layers on `Input(...)` records Nodes (layers/symbolic.py); `Model(inputs, outputs)` walks
them back from the outputs and orders them as Keras does (deepest first, ties in the order a
depth-first walk from the outputs meets them), which is also the order of `model.layers` and of
the weights in a .keras file. Running the model is one walk over the nodes in that order, each
node's inputs looked up in a dict from KerasTensor to Tensor. A mask travels with its Tensor (as
`_keras_mask`, Keras's attribute), so it reaches the next node without a second dict.

Sequential (sequential.py) is the one-input, one-output chain of this.
"""

from typing import Any

import numpy as np

from tinyvid.autograd.tensor import Tensor
from tinyvid.layers.base import Layer, unique_name
from tinyvid.layers.core import InputLayer
from tinyvid.layers.symbolic import KerasTensor, Node, flatten, map_structure
from tinyvid.training.trainer import Trainer


class Model(Trainer):
    """A model from `inputs` to `outputs`, KerasTensors (or lists or dicts of them).

    Args:
        inputs: what `Input(...)` returned: one, a list, or a dict {name: tensor}.
        outputs: KerasTensors made from those inputs by calling layers: one, a list, or a dict.
        name: the model's name; by default "functional", "functional_1", ...
        trainable: if False, fit leaves every weight alone.
    """

    def __init__(self, inputs: Any = None, outputs: Any = None, name: str | None = None,
                 trainable: bool = True) -> None:
        super().__init__()
        self.name = name if name is not None else unique_name(self._default_name())
        self.trainable = trainable
        if inputs is None and outputs is None and type(self) is not Model:
            return  # a subclass (Sequential) sets up its own layers
        self._init_graph(inputs, outputs)

    def _default_name(self) -> str:
        return "functional"

    # --- the graph ------------------------------------------------------------------------------

    def _init_graph(self, inputs: Any, outputs: Any) -> None:
        if isinstance(inputs, list) and len(inputs) == 1:
            inputs = inputs[0]  # Keras's rule: a list of one input is that input
        if isinstance(outputs, list) and len(outputs) == 1:
            outputs = outputs[0]
        for role, structure in (("inputs", inputs), ("outputs", outputs)):
            for tensor in flatten(structure):
                if not isinstance(tensor, KerasTensor) or tensor._keras_history is None:
                    raise ValueError(
                        f"Model '{self.name}': all `{role}` must be symbolic tensors made by "
                        f"Input(...) or by calling layers on them. Received: {tensor!r} (of type "
                        f"{type(tensor).__name__})")
        self._inputs_struct, self._outputs_struct = inputs, outputs
        self.inputs, self.outputs = flatten(inputs), flatten(outputs)
        for tensor in self.inputs:
            if not isinstance(tensor._keras_history.layer, InputLayer):
                raise ValueError(f"Model '{self.name}': every input must come straight from "
                                 f"Input(...); {tensor!r} does not")
        self._nodes, self._layers = _order_graph(self.inputs, self.outputs, self.name)
        self.built = True

    @property
    def layers(self) -> list[Layer]:
        """Every layer of the graph, inputs first, in Keras's order (see the module docstring)."""
        return list(self._layers)

    @property
    def input_names(self) -> list[str]:
        if isinstance(self._inputs_struct, dict):
            return list(self._inputs_struct)
        return [t._keras_history.layer.name for t in self.inputs]

    @property
    def output_names(self) -> list[str]:
        """The outputs' names, as Keras names losses and metrics: the dict keys, or the names of
        the layers that made the outputs."""
        if isinstance(self._outputs_struct, dict):
            return list(self._outputs_struct)
        return [t._keras_history.layer.name for t in self.outputs]

    def _output_is_single(self) -> bool:
        return isinstance(self._outputs_struct, KerasTensor)

    def _input_is_single(self) -> bool:
        return isinstance(self._inputs_struct, KerasTensor)

    def _model_nodes(self) -> list[Node]:
        return self._nodes

    # --- weights: every layer's, each shared layer once -----------------------------------------

    def _unique_layers(self) -> list[Any]:
        unique: dict[int, Any] = {}
        for layer in self.layers:
            unique.setdefault(id(layer), layer)
        return list(unique.values())

    @property
    def weights(self) -> list[Any]:
        return [w for layer in self._unique_layers() for w in layer.weights]

    @property
    def trainable_weights(self) -> list[Any]:
        if not getattr(self, "trainable", True):
            return []
        return [w for layer in self._unique_layers() for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self) -> list[Any]:
        trainable = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in trainable]

    def get_weights(self) -> list[np.ndarray]:
        """Copies of all weights as NumPy arrays, layer by layer (kernel, then bias)."""
        return [w for layer in self._unique_layers() for w in layer.get_weights()]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        """Set all weights from a flat list in the order of `get_weights()`."""
        self._check_built("set_weights")
        weights = list(weights)
        layers = self._unique_layers()
        expected = sum(len(layer.weights) for layer in layers)
        if len(weights) != expected:
            raise ValueError(f"{type(self).__name__} model '{self.name}' has {expected} weights, but "
                             f"set_weights received a list of {len(weights)}")
        start = 0
        for layer in layers:
            n = len(layer.weights)
            layer.set_weights(weights[start:start + n])
            start += n

    def count_params(self) -> int:
        self._check_built("count_params")
        return sum(layer.count_params() for layer in self._unique_layers())

    def _check_built(self, method: str) -> None:
        """Models built from Input(...) are built; Sequential says how to build it otherwise."""

    # --- saving: dispatched by the file's extension ---------------------------------------------

    def save_weights(self, filepath: Any) -> None:
        """Save all weights, atomically: `.weights.h5` (Keras's layout, by layer path) or `.npz`
        (tinyvid's). Any other name is refused."""
        from tinyvid.training.keras_format import save_weights_file

        self._check_built("save_weights")
        save_weights_file(self, filepath)

    def load_weights(self, filepath: Any) -> None:
        """Load weights from a `.weights.h5`, `.keras` or `.npz` file, checking every layer and
        shape first: a failed load changes nothing."""
        from tinyvid.training.keras_format import load_weights_file

        self._check_built("load_weights")
        load_weights_file(self, filepath)

    def save(self, filepath: Any) -> None:
        """Save the whole model (config, weights, compile settings) as a Keras 3 `.keras` file,
        which `keras.models.load_model` and `tinyvid.models.load_model` open."""
        from tinyvid.training.keras_format import save_model

        save_model(self, filepath)

    def to_json(self, **kwargs: Any) -> str:
        """The model's config as JSON, Keras's `{"class_name": ..., "config": ...}` (no weights);
        `tinyvid.models.model_from_json` rebuilds the model from it."""
        import json

        from tinyvid.training.serialization import serialize_model

        return json.dumps(serialize_model(self, include_compile=False), **kwargs)

    # --- the forward pass -----------------------------------------------------------------------

    def __call__(self, x: Any, training: bool = False) -> Any:
        """Run the graph on data: x an array/Tensor, a list (one per input) or a dict
        {input name: array}. Returns the outputs in the structure `outputs` had."""
        values: dict[int, Any] = {}
        for index, (tensor, data) in enumerate(zip(self.inputs, self._match_inputs(x))):
            values[id(tensor)] = self._check_input(index, tensor, data)
        for node in self._nodes:
            if node.is_input:
                continue
            arguments = map_structure(lambda t: values[id(t)], node.arguments)
            mask = None if node.mask is None else values[id(node.mask)]  # layer(x, mask=m)
            values[id(node.outputs[0])] = node.layer(arguments, training=training, mask=mask)
        return map_structure(lambda t: values[id(t)], self._outputs_struct)

    def _match_inputs(self, x: Any) -> list[Any]:
        """One piece of data per input, in the order of `self.inputs`."""
        n = len(self.inputs)
        if isinstance(x, dict):
            missing = [name for name in self.input_names if name not in x]
            if missing:
                raise ValueError(f"Model '{self.name}': missing data for inputs {missing}; "
                                 f"the model's inputs are {self.input_names}, received keys "
                                 f"{list(x)}")
            return [x[name] for name in self.input_names]
        if isinstance(x, (list, tuple)) and n > 1:
            if len(x) != n:
                raise ValueError(f"Model '{self.name}' expects {n} inputs ({self.input_names}), "
                                 f"but it received {len(x)} input tensors")
            return list(x)
        if n > 1:
            raise ValueError(f"Model '{self.name}' expects {n} inputs ({self.input_names}), but "
                             f"it received 1 input tensor; pass a list or a dict")
        return [x]

    def _check_input(self, index: int, tensor: KerasTensor, data: Any) -> Tensor:
        if not isinstance(data, Tensor):
            data = Tensor(np.asarray(data, dtype=tensor.dtype))
        expected, shape = tensor.shape, tuple(data.shape)
        fits = len(shape) == len(expected) and all(e is None or e == s
                                                    for e, s in zip(expected, shape))
        if not fits:
            raise ValueError(f"Input {index} of layer '{self.name}' is incompatible with the layer: "
                             f"expected shape={expected}, found shape={shape}")
        return data

    def compute_output_shape(self, input_shape: Any = None) -> Any:
        return map_structure(lambda t: t.shape, self._outputs_struct)

    # --- looking at it: get_layer, summary rows, config -----------------------------------------

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """The layer called `name`, or at `index` in `model.layers` (Keras's get_layer)."""
        if index is not None and name is not None:
            raise ValueError(f"Provide only a layer name or a layer index. Received: index={index}, "
                             f"name={name}.")
        if index is not None:
            if not -len(self.layers) <= index < len(self.layers):
                raise ValueError(f"Was asked to retrieve layer at index {index} but model only has "
                                 f"{len(self.layers)} layers.")
            return self.layers[index]
        if name is not None:
            for layer in self.layers:
                if layer.name == name:
                    return layer
            raise ValueError(f"No such layer: {name}. Existing layers are: "
                             f"{[layer.name for layer in self.layers]}.")
        raise ValueError("Provide either a layer name or layer index at `get_layer`.")

    def _summary_rows(self) -> list[Any]:
        """(name (type), output shape, params, connected to) per layer, for summary()."""
        rows = []
        own = {id(node) for node in self._nodes}
        for layer in self.layers:
            nodes = [node for node in layer._inbound_nodes if id(node) in own]
            shapes = [node.outputs[0].shape for node in nodes]
            shape = str(shapes[0]) if len(set(shapes)) == 1 else ", ".join(map(str, shapes))
            connected = [f"{t._keras_history.layer.name}[{self._node_index(t)}][0]"
                         for node in nodes for t in node.input_tensors] or ["-"]
            params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
            rows.append((f"{layer.name} ({type(layer).__name__})", shape, params, connected))
        return rows

    def _node_index(self, tensor: KerasTensor) -> int:
        """The index of the node that made `tensor` among its layer's nodes in this model."""
        own = {id(node) for node in self._nodes}
        layer, node_index, _ = tensor._keras_history
        return sum(1 for node in layer._inbound_nodes[:node_index] if id(node) in own)

    def get_config(self) -> dict[str, Any]:
        """Keras's functional config: the layers with their inbound nodes, and where the inputs
        and outputs are (`[layer name, node index, tensor index]`)."""
        from tinyvid.training.serialization import serialize_layer, tensor_reference

        own = {id(node) for node in self._nodes}
        layer_configs = []
        for layer in self.layers:
            config = serialize_layer(layer)
            config["name"] = layer.name
            config["inbound_nodes"] = [
                {"args": [map_structure(lambda t: tensor_reference(t, self._node_index(t)),
                                        node.arguments)],
                 "kwargs": ({} if node.mask is None else
                            {"mask": tensor_reference(node.mask, self._node_index(node.mask))})}
                for node in layer._inbound_nodes if id(node) in own and not node.is_input]
            layer_configs.append(config)

        def where(tensor: KerasTensor) -> list[Any]:
            return [tensor._keras_history.layer.name, self._node_index(tensor), 0]

        def structure(value: Any) -> Any:
            return [where(value)] if isinstance(value, KerasTensor) else map_structure(where, value)

        return {"name": self.name, "trainable": self.trainable, "layers": layer_configs,
                "input_layers": structure(self._inputs_struct),
                "output_layers": structure(self._outputs_struct)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Model":
        """Rebuild a functional model from `get_config()` (or a Keras config): fresh weights."""
        from tinyvid.training.serialization import functional_from_config

        return functional_from_config(cls, config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, layers={[layer.name for layer in self.layers]}>"


def _order_graph(inputs: list[KerasTensor], outputs: list[KerasTensor],
                 model_name: str) -> tuple[list[Node], list[Layer]]:
    """The nodes from the inputs to the outputs in running order, and the layers, both ordered as
    Keras's map_graph orders them: by depth (the longest path to an output), deepest first, ties
    broken by the order a depth-first walk from the outputs first meets each layer."""
    finished: set[int] = set()
    in_progress: set[int] = set()
    ordered: list[Node] = []  # post-order: every node after the nodes it needs
    first_seen: dict[int, int] = {}

    def visit(tensor: KerasTensor) -> None:  # recursion is fine: a model has few layers
        layer, node_index, _ = tensor._keras_history
        node = layer._inbound_nodes[node_index]
        if id(node) in finished:
            return
        if id(node) in in_progress:
            raise ValueError(f"Model '{model_name}': tensor {tensor} is part of a cycle")
        first_seen.setdefault(id(layer), len(first_seen))
        in_progress.add(id(node))
        for parent in node.input_tensors:
            visit(parent)
        in_progress.discard(id(node))
        finished.add(id(node))
        ordered.append(node)

    for output in outputs:
        visit(output)
    for tensor in inputs:  # an input no output depends on still belongs to the model
        visit(tensor)
    depth: dict[int, int] = {}
    layer_depth: dict[int, int] = {}
    layers: dict[int, Layer] = {}
    for node in reversed(ordered):
        d = max(depth.setdefault(id(node), 0), layer_depth.get(id(node.layer), 0))
        depth[id(node)] = layer_depth[id(node.layer)] = d
        layers[id(node.layer)] = node.layer
        for parent in node.parent_nodes:
            depth[id(parent)] = max(depth.get(id(parent), 0), d + 1)
    declared = {id(t) for t in inputs}
    for node in ordered:
        if node.is_input and id(node.outputs[0]) not in declared:
            raise ValueError(f"Model '{model_name}': graph disconnected: the output depends on "
                             f"input '{node.layer.name}', which is not in the model's inputs")
    nodes = sorted(ordered, key=lambda node: -depth[id(node)])  # stable: ties keep post-order
    ordered_layers = sorted(layers.values(),
                            key=lambda layer: (-layer_depth[id(layer)], first_seen[id(layer)]))
    names = [layer.name for layer in ordered_layers]
    for name in names:
        if names.count(name) > 1:
            raise ValueError(f'Model \'{model_name}\': the name "{name}" is used {names.count(name)} '
                             f"times in the model. All layer names should be unique.")
    return nodes, ordered_layers
