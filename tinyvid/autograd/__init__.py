"""The engine: tensors that record the ops applied to them, and the backward walk.

    grad_mode.py    no_grad, is_grad_enabled: the per-thread switches
    function.py     Function: one op, forward and backward; Function.apply records it
    tensor.py       Tensor: data, grad, the op that made it; backward() sorts and walks the graph
    ops.py          the elementwise, reduction and shape ops, one Function class each
    gradcheck.py    gradients against finite differences
    debug.py        graph, to_dot, detect_anomaly
"""

from tinyvid.autograd.function import Function
from tinyvid.autograd.grad_mode import is_grad_enabled, no_grad
from tinyvid.autograd.tensor import Tensor

__all__ = ["Function", "Tensor", "no_grad", "is_grad_enabled"]
