"""gradcheck: compare the engine's gradients with finite differences.

The analytic gradient (what `backward()` computes) must match the numeric one:

    dL/dx_i  ~  (L(x + eps e_i) - L(x - eps e_i)) / (2 eps)        (central differences)

where L = sum(fn(*inputs) * v) for a fixed random v. Projecting the output onto a random v
checks the whole Jacobian with one backward pass: a wrong entry anywhere changes dL/dx for
almost every v. Run it in float64: in float32 the rounding error of the difference quotient is
as large as the tolerance.

Example, checking an op of your own:

    >>> import numpy as np, tinyvid
    >>> x = tinyvid.Tensor(np.random.rand(3, 4), requires_grad=True)   # float64
    >>> tinyvid.gradcheck(lambda x: (x * x).sum(axis=1), [x])
    True
"""

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinyvid.autograd.grad_mode import no_grad
from tinyvid.autograd.tensor import Tensor


class GradcheckError(ValueError):
    """The analytic gradient of some input disagrees with finite differences."""


def gradcheck(fn: Callable[..., Tensor], inputs: Sequence[Any], eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3, seed: int = 0) -> bool:
    """Check `fn`'s gradients with respect to every input that requires grad.

    Args:
        fn: a function of the input Tensors returning a Tensor (any shape).
        inputs: a list of Tensors; those with `requires_grad=True` are checked and must be float64.
        eps: the finite-difference step.
        atol, rtol: an element passes when |analytic - numeric| <= atol + rtol * |numeric|.
        seed: seeds the random projection vector v.

    Returns:
        True when every gradient matches.

    Raises:
        GradcheckError: naming the input index, the element, the numeric and the analytic value;
            also when the cheap checks fail (gradient shape, zero upstream gradient giving
            non-zero gradients, two backward passes disagreeing).
    """
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True, so there is nothing to check")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise ValueError(
                f"gradcheck: input {i} is {inputs[i].dtype}; use float64 "
                f"(Tensor(x, dtype=np.float64, requires_grad=True)), float32 is too coarse for finite differences")

    out = fn(*inputs)
    v = np.random.default_rng(seed).standard_normal(out.shape)

    def projected(*args: Any) -> float:
        return float(np.sum(fn(*args).data * v))

    analytic = _analytic_gradients(fn, inputs, checked, v)

    # Cheap checks first (as PyTorch's gradcheck does): shapes, zero in -> zero out, repeatable.
    for i in checked:
        if analytic[i].shape != inputs[i].shape:
            raise GradcheckError(f"input {i}: gradient has shape {analytic[i].shape}, expected {inputs[i].shape}")
    for i, grad in _analytic_gradients(fn, inputs, checked, np.zeros_like(v)).items():
        if np.any(grad != 0):
            raise GradcheckError(f"input {i}: a zero upstream gradient gave a non-zero gradient (max |{np.abs(grad).max()}|)")
    for i, grad in _analytic_gradients(fn, inputs, checked, v).items():
        if not np.array_equal(grad, analytic[i]):
            raise GradcheckError(f"input {i}: two backward passes gave different gradients (not reproducible)")

    # The numeric gradient, one element at a time: nudge it up and down, restore it.
    with no_grad():
        for i in checked:
            x = inputs[i].data
            for index in np.ndindex(x.shape):
                original = x[index]
                x[index] = original + eps
                up = projected(*inputs)
                x[index] = original - eps
                down = projected(*inputs)
                x[index] = original
                numeric = (up - down) / (2 * eps)
                value = analytic[i][index]
                if not abs(value - numeric) <= atol + rtol * abs(numeric):
                    raise GradcheckError(
                        f"input {i}, element {index}: numeric gradient {numeric:.8g} but "
                        f"analytic (backward) gradient {value:.8g}")
    return True


def _analytic_gradients(fn: Callable[..., Tensor], inputs: Sequence[Any], checked: list[int],
                        v: np.ndarray) -> dict[int, np.ndarray]:
    """{input index: dL/dinput} from one backward pass of L = sum(fn(inputs) * v)."""
    saved = {i: inputs[i].grad for i in checked}
    for i in checked:
        inputs[i].grad = None
    fn(*inputs).backward(v.astype(np.float64))
    grads = {i: (inputs[i].grad if inputs[i].grad is not None else np.zeros(inputs[i].shape)) for i in checked}
    for i in checked:
        inputs[i].grad = saved[i]
    return grads
