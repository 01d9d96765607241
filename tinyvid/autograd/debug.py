"""Debugging aids: look at the graph, and stop at the first op that makes a NaN or inf.

    >>> x = tinyvid.Tensor([[1.0, -2.0]], requires_grad=True)
    >>> print(tinyvid.debug.graph((x * 3).relu().sum()))
    Sum  shape=()  float32
    └─ ReLU  shape=(1, 2)  float32
       └─ Mul  shape=(1, 2)  float32
          ├─ leaf  shape=(1, 2)  float32  requires_grad
          └─ constant  shape=()  float32

Two more aids live on the Tensor itself: `register_hook(fn)` (see or replace a gradient as it
flows) and `retain_grad()` (keep an intermediate tensor's `.grad`). To step through a kernel in
a debugger, run with NUMBA_DISABLE_JIT=1: every kernel in tinyvid.kernels is plain Python then.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np

from tinyvid.autograd.grad_mode import switches

if TYPE_CHECKING:  # only for the annotations: tensor.py need not be imported first
    from tinyvid.autograd.tensor import Tensor

__all__ = [
    "detect_anomaly", "graph", "to_dot",
]


@contextmanager
def detect_anomaly() -> Iterator[None]:
    """Raise FloatingPointError at the first op whose forward or backward makes a NaN or inf.

    The message names the op (e.g. "Log"), the shapes, and the line of your code where the
    tensor was made. It costs a check of every array, so use it to hunt a NaN, not to train.
    NumPy's RuntimeWarnings ("invalid value encountered in log") are silenced inside: the error
    says the same, and says which op.
    """
    previous = switches.anomaly_mode
    switches.anomaly_mode = True
    try:
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            yield
    finally:
        switches.anomaly_mode = previous


def _kind(t: "Tensor") -> str:
    """'MatMul' for a tensor an op made; 'leaf' or 'constant' (with its name, if any) otherwise."""
    kind = t.op or ("leaf" if t.requires_grad else "constant")
    return f"{kind} {t.name}" if t.name else kind


def _describe(t: "Tensor") -> str:
    kind = _kind(t)
    flags = "  requires_grad" if t.requires_grad and t.op is None else ""
    return f"{kind}  shape={t.shape}  {t.dtype}{flags}"


def _inputs(t: "Tensor") -> list["Tensor"]:
    return [] if t._ctx is None else [p for p in t._ctx.inputs if p is not None]


def graph(t: "Tensor") -> str:
    """A text tree of the ops that made `t`, output at the top, each op's inputs below it.

    A tensor used by more than one op is drawn once; later uses say "(shown above)".
    """
    lines, seen = [], set()
    stack = [(t, "", "", True)]  # (tensor, prefix for its line, prefix for its children, is_root)
    while stack:
        node, line_prefix, child_prefix, _ = stack.pop()
        if id(node) in seen and node._ctx is not None:
            lines.append(f"{line_prefix}{node.op}  shape={node.shape}  (shown above)")
            continue
        seen.add(id(node))
        lines.append(line_prefix + _describe(node))
        children = _inputs(node)
        # Pushed in reverse so the first input is drawn first.
        for i in reversed(range(len(children))):
            last = i == len(children) - 1
            stack.append((children[i], child_prefix + ("└─ " if last else "├─ "),
                          child_prefix + ("   " if last else "│  "), False))
    return "\n".join(lines)


def to_dot(t: "Tensor") -> str:
    """Graphviz DOT text of the graph that made `t` (render with `dot -Tpng graph.dot`)."""
    lines = ["digraph tinyvid {", "  rankdir=BT;", '  node [shape=box, fontname="monospace"];']
    seen, stack = set(), [t]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        label = f"{_kind(node)}\\n{node.shape} {node.dtype}"
        style = "" if node.op else ", style=rounded"
        lines.append(f'  n{id(node)} [label="{label}"{style}];')
        for parent in _inputs(node):
            lines.append(f"  n{id(parent)} -> n{id(node)};")
            stack.append(parent)
    lines.append("}")
    return "\n".join(lines)
