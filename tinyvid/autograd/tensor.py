"""The autograd engine: a Tensor that remembers the op that made it, and a backward walk.

Reverse-mode automatic differentiation in three ideas:

1. Every op is a `Function` with a `forward` (NumPy arrays in, an array out) and a `backward`
   (the gradient of the output in, one gradient per input out). See `tinyvid/autograd/ops.py`.
2. `Function.apply` runs `forward` and, when gradients are wanted, keeps the Function instance
   (`ctx`) on the output Tensor, so every Tensor knows the op and the inputs that made it.
3. `Tensor.backward` sorts that graph so each node comes after everything that uses it, then
   walks it backwards applying the chain rule, one node at a time.

This file is deliberately small (micrograd-sized): Function is in function.py, the ops
themselves in ops.py.
"""

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from tinyvid.autograd.function import Function, Released, _check_finite
from tinyvid.autograd.grad_mode import is_grad_enabled, no_grad, switches

# Function, no_grad and is_grad_enabled lived in this module before the engine was split up;
# `from tinyvid.tensor import Function, no_grad` keeps working through these names.
__all__ = ["Tensor", "Function", "no_grad", "is_grad_enabled"]

Operand = Any  # what an operator takes beside a Tensor: a Tensor, an array or a number
Axis = int | tuple[int, ...] | None  # the axes a reduction runs over; None: all of them


def _to_array(data: Any, dtype: DTypeLike | None = None) -> np.ndarray:
    """Python numbers, lists and integer/bool arrays become float32; float arrays keep their dtype.

    Keeping float64 as float64 matters: gradient checks need float64 from end to end.
    """
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        return np.asarray(data, dtype=dtype)
    if isinstance(data, (np.ndarray, np.generic)):
        array = np.asarray(data)
        if array.dtype.kind == "f":
            return array
        if array.dtype.kind in "biu":
            return array.astype(np.float32)
        raise TypeError(f"Tensor: cannot hold data of dtype {array.dtype}; expected numbers")
    return np.asarray(data, dtype=np.float32)


class Tensor:
    """An n-dimensional array that records the ops applied to it, so gradients can flow back.

    Args:
        data: a NumPy array, a Python number or a (nested) list. Numbers, lists and integer arrays
            become float32; float arrays keep their dtype (float64 stays float64).
        requires_grad: if True, `backward()` fills `.grad` for this tensor.
        dtype: force a dtype, e.g. `np.float64`.
        name: an optional label shown by repr and tinyvid.debug.graph (layers name their
            weights "conv2d/kernel", "dense/bias", ...).

    Attributes:
        data: the values, a NumPy array.
        grad: after `backward()`, a NumPy array of `data`'s shape (None before). Only leaves
            (tensors you made, not ones an op made) keep `.grad`, as in PyTorch; call
            `retain_grad()` on an intermediate tensor to keep its gradient too.
    """

    # Make NumPy hand `ndarray + Tensor` over to Tensor.__radd__ instead of looping elementwise.
    __array_ufunc__ = None

    def __init__(self, data: Any, requires_grad: bool = False, dtype: DTypeLike | None = None,
                 name: str | None = None) -> None:
        self.data = _to_array(data, dtype)
        self.name = name
        self.grad: np.ndarray | None = None
        self.requires_grad = bool(requires_grad)
        self._ctx: Function | Released | None = None  # the Function (with its inputs) that produced this tensor; None for leaves
        self._hooks: list[Callable[[np.ndarray], Any]] = []
        self._retains_grad = False
        self._created_at: str | None = None  # filled in only under detect_anomaly(), where it is worth the cost
        # Set by softmax and sigmoid on their output y = activation(logits), as Keras marks its
        # logits: the cross-entropy losses then work from the logits, stably (see nn/softmax.py).
        self.logits: Tensor | None = None
        self.activation: str | None = None

    # --- plain properties -------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def op(self) -> str | None:
        """Name of the Function that made this tensor ('MatMul', 'ReLU', ...), or None for a leaf."""
        if self._ctx is None:
            return None
        return self._ctx.op_name if isinstance(self._ctx, Released) else type(self._ctx).__name__

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        op = f", op={self.op}" if self.op else ""
        grad = ", requires_grad=True" if self.requires_grad and self._ctx is None else ""
        grad += f", name={self.name!r}" if self.name else ""
        values = np.array2string(self.data, precision=4, threshold=8, separator=", ")
        values = values if self.size <= 8 else "..."
        return f"Tensor({values}, shape={self.shape}, dtype={self.dtype}{op}{grad})"

    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (the same array, not a copy)."""
        return self.data

    def item(self) -> float:
        """The value of a one-element tensor as a Python number."""
        if self.size != 1:
            raise ValueError(f"item(): only a one-element tensor has one value, got shape {self.shape}")
        return self.data.item()

    def detach(self) -> "Tensor":
        """A new leaf tensor sharing this one's data, cut off from the graph."""
        return Tensor(self.data)

    def zero_grad(self) -> None:
        self.grad = None

    # --- debugging aids ---------------------------------------------------------------------

    def register_hook(self, fn: Callable[[np.ndarray], Any]) -> Any:
        """Call `fn(grad)` when this tensor's gradient has been computed during `backward()`.

        If `fn` returns an array, it replaces the gradient that flows on (PyTorch's semantics).
        Works on intermediate tensors too. Returns a handle with `.remove()`.
        """
        if not self.requires_grad:
            raise RuntimeError("register_hook: this tensor does not require grad, so no gradient will reach it")
        self._hooks.append(fn)
        hooks = self._hooks

        class _Handle:
            @staticmethod
            def remove() -> None:
                if fn in hooks:
                    hooks.remove(fn)

        return _Handle()

    def retain_grad(self) -> "Tensor":
        """Keep `.grad` on this intermediate tensor after `backward()` (leaves always keep it).

        Intermediates drop their gradient by default, as in PyTorch: a training step would
        otherwise hold one gradient per activation in memory long after it is needed.
        """
        self._retains_grad = True
        return self

    # --- the backward pass ------------------------------------------------------------------

    def backward(self, grad: ArrayLike | None = None, retain_graph: bool = True) -> None:
        """Compute the gradient of this tensor with respect to every tensor that made it.

        Args:
            grad: the gradient of some final scalar with respect to this tensor, of this tensor's
                shape. May be left out when this tensor holds a single value (a loss).
            retain_graph: True (tinyvid's default) keeps the graph, so backward can run through
                it again. False lets go of each op, and the arrays it saved, as soon as its
                backward has run, as PyTorch does by default: the activations of the layers
                already passed are freed during the walk instead of after it, which lowers the
                step's peak memory. `fit` passes False. A second backward through a graph let go
                of raises an error naming the op.

        Gradients accumulate: calling `backward()` twice adds the second gradient to `.grad`,
        as PyTorch does. Call `zero_grad()` (or the optimizer's) between steps.
        """
        owned = grad is None  # the engine made the seed gradient, so it may write into it
        if grad is None:
            if self.size != 1:
                raise RuntimeError(
                    f"backward(): grad can be left out only for a one-element tensor (a loss), "
                    f"but this tensor has shape {self.shape}; pass grad= of that shape")
            grad = np.ones_like(self.data)
        else:
            grad = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=self.dtype)
            if grad.shape != self.shape:
                raise ValueError(f"backward(): grad has shape {grad.shape} but the tensor has shape {self.shape}")

        # Gradients in flight, keyed by id(tensor): a node's entry is complete once every node
        # that used it has been visited, which the topological order guarantees. `owned_ids`
        # holds the ids of those no one else can see (see _owned_gradients): they may be
        # overwritten, and `owned` says so for the node being visited.
        grads = {id(self): grad}
        owned_ids = {id(self)} if owned else set()
        order = _topological_order(self)
        while order:
            node = order.pop()  # popped, not indexed: a node let go of is then freed
            grad = grads.pop(id(node), None)
            if grad is None:
                continue  # no path from this node to the output (a branch that was cut)
            owned = id(node) in owned_ids
            owned_ids.discard(id(node))
            for hook in node._hooks:
                owned = False  # a hook may keep the array it was shown
                replaced = hook(grad)
                if replaced is not None:
                    grad = _checked_gradient(np.asarray(replaced, dtype=node.dtype), node, "a hook")
            if node._ctx is None:  # a leaf: its gradient ends here
                if node.grad is not None:
                    node.grad = node.grad + grad
                else:  # a leaf keeps an owned gradient as it is: no copy of a big weight's
                    node.grad = grad if owned else grad.copy()
                continue
            if node._retains_grad:
                node.grad = grad.copy() if node.grad is None else node.grad + grad

            # Go one op at a time and apply the chain rule: the op turns the gradient of its
            # output into the gradient of each of its inputs.
            ctx = node._ctx
            ctx.grad_output_writable = owned  # backward may write its result into grad_output
            input_grads = type(ctx).backward(ctx, grad)
            ctx.grad_output_writable = False
            if not isinstance(input_grads, tuple):
                input_grads = (input_grads,)
            if len(input_grads) != len(ctx.inputs):
                raise RuntimeError(
                    f"{type(ctx).__name__}.backward returned {len(input_grads)} gradients "
                    f"for {len(ctx.inputs)} inputs")
            checked: list[np.ndarray | None] = []
            for parent, parent_grad in zip(ctx.inputs, input_grads):
                if parent is None or not parent.requires_grad or parent_grad is None:
                    checked.append(None)
                    continue
                checked.append(_checked_gradient(np.asarray(parent_grad), parent, type(ctx).__name__))
            fresh = _owned_gradients(ctx, grad, owned, checked)
            for i, (parent, parent_grad) in enumerate(zip(ctx.inputs, checked)):
                if parent_grad is None:
                    continue
                if switches.anomaly_mode:
                    _check_finite(parent_grad, type(ctx).__name__, "backward", node, ctx.inputs, i)
                previous = grads.get(id(parent))
                if previous is None:
                    grads[id(parent)] = parent_grad
                    if fresh[i]:
                        owned_ids.add(id(parent))
                elif id(parent) in owned_ids:  # add into the array the engine already owns
                    np.add(previous, parent_grad, out=previous)
                else:
                    grads[id(parent)] = np.asarray(previous + parent_grad)  # 0-d stays an array
                    owned_ids.add(id(parent))
            if not retain_graph:  # the op's saved arrays, and its hold on its inputs, go now
                node._ctx = Released(type(ctx).__name__)

    # --- operators and methods: each calls one Function from ops.py by name ----------------

    def __add__(self, other: Operand) -> "Tensor": return ops.Add.apply(self, other)
    def __radd__(self, other: Operand) -> "Tensor": return ops.Add.apply(other, self)
    def __sub__(self, other: Operand) -> "Tensor": return ops.Sub.apply(self, other)
    def __rsub__(self, other: Operand) -> "Tensor": return ops.Sub.apply(other, self)
    def __mul__(self, other: Operand) -> "Tensor": return ops.Mul.apply(self, other)
    def __rmul__(self, other: Operand) -> "Tensor": return ops.Mul.apply(other, self)
    def __truediv__(self, other: Operand) -> "Tensor": return ops.Div.apply(self, other)
    def __rtruediv__(self, other: Operand) -> "Tensor": return ops.Div.apply(other, self)
    def __pow__(self, other: Operand) -> "Tensor": return ops.Pow.apply(self, other)
    def __rpow__(self, other: Operand) -> "Tensor": return ops.Pow.apply(other, self)
    def __matmul__(self, other: Operand) -> "Tensor": return ops.MatMul.apply(self, other)
    def __rmatmul__(self, other: Operand) -> "Tensor": return ops.MatMul.apply(other, self)
    def __neg__(self) -> "Tensor": return ops.Neg.apply(self)
    def __getitem__(self, index: Any) -> "Tensor": return ops.GetItem.apply(self, index=index)

    def sum(self, axis: Axis = None, keepdims: bool = False) -> "Tensor": return ops.Sum.apply(self, axis=axis, keepdims=keepdims)
    def mean(self, axis: Axis = None, keepdims: bool = False) -> "Tensor": return ops.Mean.apply(self, axis=axis, keepdims=keepdims)
    def max(self, axis: Axis = None, keepdims: bool = False) -> "Tensor": return ops.Max.apply(self, axis=axis, keepdims=keepdims)
    def exp(self) -> "Tensor": return ops.Exp.apply(self)
    def log(self) -> "Tensor": return ops.Log.apply(self)
    def relu(self) -> "Tensor": return ops.ReLU.apply(self)
    def sigmoid(self) -> "Tensor":
        y = ops.Sigmoid.apply(self)
        y.logits, y.activation = self, "sigmoid"  # for binary cross-entropy, as softmax does
        return y

    def tanh(self) -> "Tensor": return ops.Tanh.apply(self)
    def clip(self, low: float, high: float) -> "Tensor": return ops.Clip.apply(self, low=low, high=high)

    def reshape(self, *shape: Any) -> "Tensor":
        """`t.reshape(2, 3)` or `t.reshape((2, 3))`; one dimension may be -1."""
        dims = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return ops.Reshape.apply(self, shape=tuple(dims))

    def transpose(self, *axes: Any) -> "Tensor":
        """Permute the axes; with none given, reverse them (as NumPy does)."""
        order = axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        return ops.Transpose.apply(self, axes=tuple(order) if order else None)

    @property
    def T(self) -> "Tensor":
        return self.transpose()

    def flatten(self, start_axis: int = 0) -> "Tensor":
        """Merge the axes from `start_axis` on into one (`flatten(1)` keeps the batch axis)."""
        return self.reshape(*self.shape[:start_axis], -1)


def _topological_order(root: Tensor) -> list[Tensor]:
    """Every tensor that `root` depends on (and that requires grad), each after its inputs.

    Iterative depth-first search: a recursive one overflows Python's stack past ~1000 ops.
    Each stack entry is (tensor, inputs_done): a tensor is emitted only on its second visit,
    after everything it depends on has been emitted.
    """
    order: list[Tensor] = []
    visited: set[int] = set()
    stack = [(root, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        if node._ctx is not None:
            for parent in node._ctx.inputs:
                if parent is not None and parent.requires_grad and id(parent) not in visited:
                    stack.append((parent, False))
    return order


def _owned_gradients(ctx: "Function | Released", grad_output: np.ndarray, grad_output_owned: bool,
                     grads: list[np.ndarray | None]) -> list[bool]:
    """For each gradient a backward returned: True when no one but the engine can hold it.

    Only such a gradient may later be overwritten in place (ReLU's backward writes into its
    grad_output when `ctx.grad_output_writable`), or kept as a leaf's `.grad` without a copy.
    A gradient is not owned when it shares memory with another one returned here (Add hands
    grad_output to both inputs), with an array the op saved or holds as an attribute, with an
    input's data, or with a grad_output the engine does not own, or is read-only (a broadcast
    view). `np.may_share_memory` compares
    only the arrays' address ranges: quick, and when unsure it says "shared", which costs a
    copy, never a wrong gradient.
    """
    held = [t.data for t in ctx.inputs if t is not None]
    for value in (*ctx.saved_tensors, *vars(ctx).values()):  # arrays, and lists of arrays
        items = value if isinstance(value, (list, tuple)) else (value,)
        held += [a for a in items if isinstance(a, np.ndarray)]
    if not grad_output_owned:
        held.append(grad_output)
    owned = []
    for i, g in enumerate(grads):
        others = [o for j, o in enumerate(grads) if j != i and o is not None]
        owned.append(g is not None and g.flags.writeable  # not a broadcast view
                     and not any(np.may_share_memory(g, a) for a in held + others))
    return owned


def _checked_gradient(grad: np.ndarray, tensor: Tensor, op_name: str) -> np.ndarray:
    """Sum a broadcast gradient back to the tensor's shape, and check that it then fits.

    This is the one place where broadcasting is undone: an op like Add may have stretched a
    (3,) bias over a (4, 3) batch, so its gradient arrives as (4, 3) and is summed over axis 0.
    """
    shape = tensor.shape
    if grad.shape != shape:
        try:
            stretched = np.broadcast_shapes(shape, grad.shape) == grad.shape
        except ValueError:
            stretched = False
        if not stretched:
            raise ValueError(
                f"{op_name}.backward returned a gradient of shape {grad.shape} for an input of "
                f"shape {shape}; a gradient must have its input's shape")
        leading = grad.ndim - len(shape)
        grad = grad.sum(axis=tuple(range(leading)))
        stretched_axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
        if stretched_axes:
            grad = grad.sum(axis=stretched_axes, keepdims=True)
    if grad.dtype != tensor.dtype:
        grad = grad.astype(tensor.dtype)
    return grad


# The operators above call the ops by name (`ops.Add.apply`). ops.py imports function.py, which
# imports nothing of this module at import time, so this is no import cycle.
from tinyvid.autograd import ops  # noqa: E402
