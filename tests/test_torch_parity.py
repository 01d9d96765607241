"""Gradients of random compositions of ops equal PyTorch's (float64). Skipped without torch."""

import numpy as np
import pytest

from tinyvid import Tensor, functional

torch = pytest.importorskip("torch")

# Each composition is written once and run with both libraries: `lib` supplies softmax.
COMPOSITIONS = {
    "mlp": lambda x, w, b, lib: (lib.log_softmax((x @ w + b).tanh(), -1) * x[:, :1]).sum(),
    "elementwise": lambda x, w, b, lib: ((x.exp() / (1 + x * x)).sigmoid() * (x ** 2).relu() - x).mean(),
    "reductions": lambda x, w, b, lib: (x.max(axis=1) if lib is functional else x.amax(dim=1)).sum() + (x @ w).mean(),
    "reshape_index": lambda x, w, b, lib: (x.reshape(-1)[::2] ** 3).sum() + (x.transpose(1, 0)[1:] * 2).sum(),
    "softmax": lambda x, w, b, lib: (lib.softmax(x @ w, -1) * b).sum(),
    "log_neg_div": lambda x, w, b, lib: (-((x * x + 1).log() / (b.sum() ** 2 + 1))).sum(),
}


class TorchLib:
    log_softmax = staticmethod(lambda t, axis: torch.log_softmax(t, dim=axis))
    softmax = staticmethod(lambda t, axis: torch.softmax(t, dim=axis))


@pytest.mark.parametrize("name", COMPOSITIONS)
@pytest.mark.parametrize("seed", range(5))
def test_gradients_equal_pytorch(name, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((4, 5)), rng.standard_normal((5, 3)), rng.standard_normal(3)]
    ours = [Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = COMPOSITIONS[name](*ours, functional)
    out.backward()
    reference = COMPOSITIONS[name](*theirs, TorchLib)
    reference.backward()
    np.testing.assert_allclose(out.data, reference.detach().numpy(), rtol=1e-6)
    for mine, torch_tensor in zip(ours, theirs):
        expected = np.zeros(mine.shape) if torch_tensor.grad is None else torch_tensor.grad.numpy()
        got = np.zeros(mine.shape) if mine.grad is None else mine.grad
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-12)
