"""Weight initialisers: the starting values of a layer's weights, with Keras's defaults.

An initialiser is called with a shape and a dtype and returns a NumPy array:

    GlorotUniform()((3, 3, 32, 64), np.float32)    # a Conv2D kernel, values in [-limit, limit]

Keras's defaults, which tinyvid follows: kernels start from `glorot_uniform`, biases from `zeros`.

Glorot (Xavier) uniform draws from U(-limit, limit) with

    limit = sqrt(6 / (fan_in + fan_out))

where, as Keras computes them (`compute_fans`),

    Dense kernel  (in, out):               fan_in = in,                fan_out = out
    Conv2D kernel (kh, kw, c_in, c_out):   fan_in = kh * kw * c_in,    fan_out = kh * kw * c_out

so the variance of a layer's outputs roughly matches that of its inputs, going forward and back.

Unseeded initialisers draw from tinyvid's shared generator (tinyvid/training/rng.py), which
`tinyvid.utils.set_random_seed` seeds; `seed=` gives an initialiser its own generator.
"""

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from tinyvid.training import rng

__all__ = [
    "compute_fans", "Initializer", "Zeros", "Ones", "Constant", "RandomUniform",
    "RandomNormal", "GlorotUniform", "HeUniform", "ALL", "get",
]


def compute_fans(shape: Sequence[int]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of `shape`, as Keras computes them.

    Args:
        shape: `(in, out)` for a Dense kernel, `(kh, kw, c_in, c_out)` for a Conv2D kernel
            (any leading axes are the receptive field), `(n,)` for a bias.
    """
    dims = tuple(shape)
    if len(dims) == 0:
        return 1, 1
    if len(dims) == 1:
        return dims[0], dims[0]
    receptive_field = math.prod(dims[:-2])
    return dims[-2] * receptive_field, dims[-1] * receptive_field


class Initializer:
    """Base class: `initializer(shape, dtype)` returns a new NumPy array."""

    def __call__(self, shape: Sequence[int], dtype: DTypeLike = np.float32) -> np.ndarray:
        raise NotImplementedError


class Zeros(Initializer):
    def __call__(self, shape: Sequence[int], dtype: DTypeLike = np.float32) -> np.ndarray:
        return np.zeros(shape, dtype=dtype)


class Ones(Initializer):
    def __call__(self, shape: Sequence[int], dtype: DTypeLike = np.float32) -> np.ndarray:
        return np.ones(shape, dtype=dtype)


class Constant(Initializer):
    def __init__(self, value: float = 0.0) -> None:
        self.value = value

    def __call__(self, shape: Sequence[int], dtype: DTypeLike = np.float32) -> np.ndarray:
        return np.full(shape, self.value, dtype=dtype)


class RandomUniform(Initializer):
    """U(minval, maxval); Keras's defaults are -0.05 and 0.05."""

    def __init__(self, minval: float = -0.05, maxval: float = 0.05,
                 seed: int | None = None) -> None:
        self.minval, self.maxval, self.seed = minval, maxval, seed

    def __call__(self, shape: Sequence[int], dtype: DTypeLike = np.float32) -> np.ndarray:
        return _uniform(shape, dtype, self.minval, self.maxval, self.seed)


class RandomNormal(Initializer):
    """N(mean, stddev^2); Keras's defaults are 0 and 0.05."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05,
                 seed: int | None = None) -> None:
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def __call__(self, shape: Sequence[int], dtype: DTypeLike = np.float32) -> np.ndarray:
        float_dtype: Any = np.dtype(dtype)  # float32 or float64, which numpy's stubs spell out
        values = rng.generator_for(self.seed).standard_normal(shape, dtype=float_dtype)
        values *= self.stddev
        values += self.mean
        return values


class GlorotUniform(Initializer):
    """U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out)). Keras's default for kernels."""

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed

    def __call__(self, shape: Sequence[int], dtype: DTypeLike = np.float32) -> np.ndarray:
        fan_in, fan_out = compute_fans(shape)
        limit = math.sqrt(6.0 / max(1.0, fan_in + fan_out))
        return _uniform(shape, dtype, -limit, limit, self.seed)


class HeUniform(Initializer):
    """U(-limit, limit), limit = sqrt(6 / fan_in): keeps the variance through ReLU layers."""

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed

    def __call__(self, shape: Sequence[int], dtype: DTypeLike = np.float32) -> np.ndarray:
        fan_in, _ = compute_fans(shape)
        limit = math.sqrt(6.0 / max(1.0, fan_in))
        return _uniform(shape, dtype, -limit, limit, self.seed)


def _uniform(shape: Sequence[int], dtype: DTypeLike, low: float, high: float,
             seed: int | None) -> np.ndarray:
    # Draw directly in the weight's dtype and scale in place: a 14.7M-weight float32 kernel then
    # never passes through a float64 copy twice its size.
    float_dtype: Any = np.dtype(dtype)  # float32 or float64, which numpy's stubs spell out
    values = rng.generator_for(seed).random(shape, dtype=float_dtype)
    values *= high - low
    values += low
    return values


ALL = {
    "zeros": Zeros, "ones": Ones, "constant": Constant, "random_uniform": RandomUniform,
    "random_normal": RandomNormal, "glorot_uniform": GlorotUniform, "he_uniform": HeUniform,
}


def get(identifier: Any) -> Callable[..., np.ndarray]:
    """An initialiser from a name ('glorot_uniform'), an Initializer, or any callable(shape, dtype).

    Raises:
        ValueError: for a name tinyvid does not know, listing the names it does know.
    """
    if isinstance(identifier, str) and identifier in ALL:
        return ALL[identifier]()
    if callable(identifier) and not isinstance(identifier, str):
        return identifier() if isinstance(identifier, type) else identifier
    raise ValueError(
        f"Could not interpret initializer identifier: {identifier!r}. "
        f"Known initializers: {', '.join(sorted(ALL))}")
