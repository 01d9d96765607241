"""Merge layers: several inputs in, one output out, as late fusion joins two towers.

    Add()([a, b, ...])                y = a + b + ...
    Multiply()([a, b, ...])           y = a * b * ...
    Average()([a, b, ...])            y = (a + b + ...) / k        for k inputs
    Concatenate(axis=-1)([a, b])      y = [a | b] along `axis`

Add, Multiply and Average take inputs of one shape (batch axes may differ where one is None);
Concatenate takes inputs that agree on every axis but `axis`. Each is built from the engine's
ops, so its gradient comes from theirs (Concatenate's from slicing the output gradient apart).
"""

from typing import Any

from tinyvid.autograd.tensor import Tensor
from tinyvid.layers.base import Layer
from tinyvid.nn.concatenate import concatenate


class _Merge(Layer):
    """Shared by the merge layers: takes a list of at least two inputs of one shape."""

    def build(self, input_shape: Any) -> None:
        self._check_shapes(input_shape)
        self.built = True

    def _check_shapes(self, input_shape: Any) -> None:
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) < 2 or not all(
                isinstance(shape, (list, tuple)) for shape in input_shape):
            raise ValueError(f"{self.where} should be called on a list of at least 2 inputs. "
                             f"Received: input_shape={input_shape}")
        first = tuple(input_shape[0])
        for shape in input_shape[1:]:
            if len(shape) != len(first) or any(a is not None and b is not None and a != b
                                                for a, b in zip(first[1:], tuple(shape)[1:])):
                raise ValueError(f"{self.where}: inputs must have the same shape. Received: "
                                 f"input_shape={[tuple(s) for s in input_shape]}")

    def compute_output_shape(self, input_shape: Any) -> tuple:
        shapes = [tuple(shape) for shape in input_shape]
        batch = next((shape[0] for shape in shapes if shape[0] is not None), None)
        rest = tuple(next((s[i] for s in shapes if s[i] is not None), None)
                     for i in range(1, len(shapes[0])))
        return (batch,) + rest


class Add(_Merge):
    """y = x_1 + x_2 + ... + x_k, elementwise."""

    def call(self, inputs: list[Tensor], training: bool = False) -> Tensor:
        y = inputs[0]
        for x in inputs[1:]:
            y = y + x
        return y


class Multiply(_Merge):
    """y = x_1 * x_2 * ... * x_k, elementwise."""

    def call(self, inputs: list[Tensor], training: bool = False) -> Tensor:
        y = inputs[0]
        for x in inputs[1:]:
            y = y * x
        return y


class Average(_Merge):
    """y = (x_1 + ... + x_k) / k, elementwise."""

    def call(self, inputs: list[Tensor], training: bool = False) -> Tensor:
        y = inputs[0]
        for x in inputs[1:]:
            y = y + x
        return y * (1.0 / len(inputs))


class Concatenate(_Merge):
    """Joins the inputs along `axis` (default -1, the channels or features).

    Args:
        axis: the axis to join on; the inputs must agree on every other axis.

    Shapes: `(batch, ..., d_1)`, `(batch, ..., d_2)` -> `(batch, ..., d_1 + d_2)` for axis=-1.
    """

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise self._invalid("axis", "expected an integer", axis)
        self.axis = axis

    def _check_shapes(self, input_shape: Any) -> None:
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) < 2 or not all(
                isinstance(shape, (list, tuple)) for shape in input_shape):
            raise ValueError(f"{self.where} should be called on a list of at least 2 inputs. "
                             f"Received: input_shape={input_shape}")
        shapes = [tuple(shape) for shape in input_shape]
        ndim = len(shapes[0])
        if not -ndim <= self.axis < ndim or self.axis % ndim == 0:
            raise self._invalid("axis", f"expected an axis between 1 and {ndim - 1} (or -1) for "
                                f"inputs of rank {ndim}", self.axis)
        axis = self.axis % ndim
        for shape in shapes[1:]:
            if len(shape) != ndim or any(
                    i != axis and a is not None and b is not None and a != b
                    for i, (a, b) in enumerate(zip(shapes[0], shape)) if i > 0):
                raise ValueError(
                    f"{self.where}: a `Concatenate` layer requires inputs with matching shapes "
                    f"except for the concatenation axis. Received: input_shape={shapes}")

    def call(self, inputs: list[Tensor], training: bool = False) -> Tensor:
        return concatenate(inputs, axis=self.axis)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        shapes = [tuple(shape) for shape in input_shape]
        axis = self.axis % len(shapes[0])
        output = list(_Merge.compute_output_shape(self, shapes))
        sizes = [shape[axis] for shape in shapes]
        output[axis] = None if any(size is None for size in sizes) else sum(sizes)
        return tuple(output)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}
