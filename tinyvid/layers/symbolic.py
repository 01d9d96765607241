"""Symbolic tensors and nodes: how calling layers on `Input(...)` records a graph, as in Keras.

    x = Input(shape=(16, 16, 3))      # a KerasTensor: shape (None, 16, 16, 3), no data
    y = Conv2D(4, 3)(x)               # builds the layer from x's shape, records a Node
    model = Model(x, y)               # walks the nodes back from y to x

A `KerasTensor` has a shape (None for the batch), a dtype, and `_keras_history`: (the layer that
made it, which call of that layer (node index), which of its outputs (tensor index)). A `Node` is
one call of a layer: its input KerasTensors and its output KerasTensors. A layer called twice
has two nodes and one set of weights (a shared layer).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from tinyvid.layers.base import Layer


class KerasHistory(NamedTuple):
    """Where a KerasTensor came from: `layer._inbound_nodes[node_index].outputs[tensor_index]`."""

    layer: Layer
    node_index: int
    tensor_index: int


class KerasTensor:
    """A placeholder for a tensor in a graph: shape `(None, ...)`, dtype, and the layer that made it.

    Args:
        shape: the full shape, batch axis first (None where unknown).
        dtype: the dtype the data will have, e.g. "float32".
        name: the tensor's name (an Input's name, or "keras_tensor").
    """

    def __init__(self, shape: tuple[int | None, ...], dtype: Any = "float32",
                 name: str = "keras_tensor") -> None:
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.name = name
        self._keras_history: Any = None  # a KerasHistory once a layer (or Input) made it

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        made_by = f", made by layer '{self._keras_history.layer.name}'" if self._keras_history else ""
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}{made_by}>"

    def __array__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        raise ValueError(
            f"A KerasTensor ({self.name}, shape {self.shape}) is symbolic: it has no values. "
            f"Use it to build a model, tinyvid.Model(inputs, outputs), and call the model on data")


class Node:
    """One call of a layer in a graph: `outputs = layer(inputs)` or `layer(inputs, mask=mask)`,
    with inputs a KerasTensor or a list of them. Creating a node appends it to
    `layer._inbound_nodes` and marks each output with its history, so the graph can be walked
    back from any output. A `mask` KerasTensor is one more input of the node (the graph walks
    back through it too), kept apart from `arguments` so that running the node can pass it as
    the layer's `mask=`."""

    def __init__(self, layer: Layer, inputs: Any, outputs: KerasTensor,
                 mask: KerasTensor | None = None) -> None:
        self.layer = layer
        self.arguments = inputs  # the structure the layer was called with (a tensor or a list)
        self.mask = mask
        self.input_tensors: list[KerasTensor] = flatten(inputs) + ([mask] if mask is not None
                                                                     else [])
        self.outputs = [outputs]
        self.is_input = not self.input_tensors
        node_index = len(layer._inbound_nodes)
        layer._inbound_nodes.append(self)
        outputs._keras_history = KerasHistory(layer, node_index, 0)

    @property
    def parent_nodes(self) -> list[Node]:
        """The nodes that made this node's inputs."""
        return [t._keras_history.layer._inbound_nodes[t._keras_history.node_index]
                for t in self.input_tensors if t._keras_history is not None]


# --- nested structures (a tensor, or a list/tuple/dict of them) ---------------------------------


def flatten(structure: Any) -> list[Any]:
    """The leaves of a tensor, a list/tuple, or a dict (in key order as given), as a list."""
    if isinstance(structure, dict):
        return [leaf for value in structure.values() for leaf in flatten(value)]
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    return [structure]


def map_structure(fn: Callable[[Any], Any], structure: Any) -> Any:
    """`structure` with `fn` applied to every leaf (lists stay lists, dicts stay dicts)."""
    if isinstance(structure, dict):
        return {key: map_structure(fn, value) for key, value in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(map_structure(fn, item) for item in structure)
    return fn(structure)


def is_symbolic(structure: Any) -> bool:
    """True if any leaf of `structure` is a KerasTensor."""
    return any(isinstance(leaf, KerasTensor) for leaf in flatten(structure))
