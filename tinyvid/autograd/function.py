"""Function: one differentiable op, the node the backward walk visits.

An op subclasses Function and writes `forward` (NumPy arrays in, an array out) and `backward`
(the gradient of the output in, one gradient per input out) side by side; see ops.py.
`Function.apply` runs `forward` on Tensors and, when gradients are wanted, keeps the Function
instance (the `ctx`) on the output Tensor, so every Tensor knows the op and inputs that made it.
"""

import os
import traceback
from typing import TYPE_CHECKING, Any

import numpy as np

from tinyvid.autograd.grad_mode import switches

if TYPE_CHECKING:  # for the annotations only: tensor.py imports this module
    from tinyvid.autograd.tensor import Tensor


class Function:
    """One differentiable op. Subclasses write `forward` and `backward` as static methods.

    The Function instance is the `ctx` both methods receive: `forward` stores what `backward`
    needs with `ctx.save_for_backward(...)` (or as attributes), `backward` reads it back from
    `ctx.saved_tensors`. `ctx.needs_input_grad[i]` says whether input i wants a gradient, so a
    backward can skip work nobody will use.
    """

    def __init__(self, inputs: tuple["Tensor | None", ...]) -> None:
        self.inputs = inputs  # Tensors (or None); the graph's edges point from here to them
        self.needs_input_grad = tuple(t is not None and t.requires_grad for t in inputs)
        self.saved_tensors: tuple[Any, ...] = ()
        # Set by the backward walk for each call of backward: True when grad_output is an array
        # only the engine holds, so backward may overwrite it instead of allocating its result.
        self.grad_output_writable = False

    def save_for_backward(self, *arrays: Any) -> None:
        self.saved_tensors = arrays

    @staticmethod
    def forward(ctx: Any, *inputs: Any, **params: Any) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Any, grad_output: np.ndarray) -> Any:
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Any, **params: Any) -> "Tensor":
        """Run the op on Tensors, arrays or numbers; keyword `params` are not differentiated.

        Numbers and lists take the dtype of the first Tensor input, so `x * 2` keeps x's dtype.
        """
        from tinyvid.autograd.tensor import Tensor  # at call time: tensor.py imports this module

        like = next((x.dtype for x in inputs if isinstance(x, Tensor)), np.dtype(np.float32))
        tensors = tuple(_as_input(x, like) for x in inputs)
        ctx = cls(tensors)
        data = cls.forward(ctx, *(None if t is None else t.data for t in tensors), **params)
        requires_grad = switches.grad_enabled and any(ctx.needs_input_grad)
        out = Tensor(data, requires_grad=requires_grad)
        if requires_grad:
            out._ctx = ctx
        if switches.anomaly_mode:
            out._created_at = _user_frame()
            _check_finite(out.data, cls.__name__, "forward", out, tensors)
        return out


class Released:
    """What an op's node holds once `backward(retain_graph=False)` has run through it: only the
    op's name. Its saved arrays and its inputs are let go of; running backward through it again
    is an error that names the op. (Not a Function: it is no op and has no gradient.)"""

    def __init__(self, op_name: str) -> None:
        self.op_name = op_name
        self.inputs: tuple = ()
        self.saved_tensors: tuple = ()
        self.needs_input_grad: tuple = ()
        self.grad_output_writable = False

    @staticmethod
    def backward(ctx: Any, grad_output: np.ndarray) -> Any:
        raise RuntimeError(
            f"backward through {ctx.op_name} a second time: its saved arrays were freed by the "
            f"first backward(retain_graph=False); run the forward pass again, or pass "
            f"retain_graph=True (the default) to the first backward")


def _as_input(x: Any, like_dtype: np.dtype) -> "Tensor | None":
    from tinyvid.autograd.tensor import Tensor

    if x is None or isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        return Tensor(x)
    return Tensor(x, dtype=like_dtype)


# The installed package's own folder (tinyvid/), to tell its frames from the user's. Not a test
# for "/tinyvid/" in the path: a clone of the repository is usually a folder called tinyvid too.
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _user_frame() -> str:
    """'file.py:line in function' of the innermost caller outside the tinyvid package."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        if not os.path.abspath(frame.filename).startswith(_PACKAGE_DIR):
            return f"{frame.filename}:{frame.lineno} in {frame.name}"
    return "unknown"


def _check_finite(array: np.ndarray, op_name: str, phase: str, out: "Tensor",
                  inputs: tuple["Tensor | None", ...], which: int | None = None) -> None:
    """Raise FloatingPointError if `array` holds a NaN or inf: the output `out` of an op (forward),
    or the gradient its backward sent to input number `which`."""
    if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
        bad = "nan" if np.isnan(array).any() else "inf"
        what = "" if which is None else f" in the gradient of input {which}"
        shapes = ", ".join(str(t.shape) for t in inputs if t is not None)
        where = out._created_at or "an unknown line (it was made outside detect_anomaly())"
        raise FloatingPointError(
            f"{op_name} {phase} produced {bad}{what} (output shape {out.shape}, input shapes "
            f"{shapes}); the tensor was created at {where}")
