"""One optimizer step on the source document's largest weight (the 230400 x 64 Dense kernel,
14.7M float32): tinyvid's fused Numba loops against the same update written as in-place NumPy
expressions, and against PyTorch's optimizer step, timed in alternating blocks in one run.

    python -m benchmarks.bench_optimizers

Not part of `python -m benchmarks` yet; it answers one question: does a fused kernel pay for
RMSprop as it does for Adam (see docs/performance.md, "Optimizer kernels")?
"""

import numpy as np

from benchmarks.common import blocked_median_times, torch_installed
from tinyvid.optimizers import Adam, RMSprop
from tinyvid.tensor import Tensor

N = 230_400 * 64


def numpy_rmsprop(theta, g, v, scratch, rho=0.9, lr=0.001, epsilon=1e-7):
    """RMSprop as in-place NumPy expressions: six passes over arrays of the weight's size."""
    f = np.float32
    np.multiply(v, f(rho), out=v)
    np.multiply(g, g, out=scratch)
    np.multiply(scratch, f(1 - rho), out=scratch)
    np.add(v, scratch, out=v)  # v <- rho v + (1 - rho) g^2
    np.add(v, f(epsilon), out=scratch)
    np.sqrt(scratch, out=scratch)
    np.divide(g, scratch, out=scratch)
    np.multiply(scratch, f(lr), out=scratch)
    np.subtract(theta, scratch, out=theta)  # theta <- theta - lr g / sqrt(v + eps)


def main():
    g = np.random.default_rng(0).standard_normal(N).astype(np.float32)
    fns = {}
    for name, optimizer in (("tinyvid RMSprop (fused)", RMSprop()), ("tinyvid Adam (fused)", Adam())):
        weight = Tensor(np.zeros(N, np.float32), requires_grad=True)
        fns[name] = lambda o=optimizer, w=weight: o.apply_gradients([(g, w)])
    arrays = [np.zeros(N, np.float32) for _ in range(3)]
    fns["NumPy RMSprop (expressions)"] = lambda: numpy_rmsprop(arrays[0], g, arrays[1], arrays[2])
    if torch_installed():
        import torch

        for name, cls, kwargs in (("PyTorch RMSprop", torch.optim.RMSprop, dict(alpha=0.9)),
                                  ("PyTorch Adam", torch.optim.Adam, {})):
            p = torch.zeros(N, requires_grad=True)
            p.grad = torch.from_numpy(g)
            fns[name] = cls([p], lr=0.001, eps=1e-7, **kwargs).step
    times = blocked_median_times(fns, rounds=3, per_block=3)
    for name, seconds in times.items():
        print(f"{name:<30} {seconds * 1e3:8.1f} ms")


if __name__ == "__main__":
    main()
