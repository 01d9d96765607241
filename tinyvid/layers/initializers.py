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

import numpy as np

from tinyvid.training import rng

__all__ = [
    "compute_fans", "Initializer", "Zeros", "Ones", "Constant", "RandomUniform",
    "RandomNormal", "GlorotUniform", "HeUniform", "ALL", "get",
]


def compute_fans(shape):
    """(fan_in, fan_out) of a weight of `shape`, as Keras computes them.

    Args:
        shape: `(in, out)` for a Dense kernel, `(kh, kw, c_in, c_out)` for a Conv2D kernel
            (any leading axes are the receptive field), `(n,)` for a bias.
    """
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


class Initializer:
    """Base class: `initializer(shape, dtype)` returns a new NumPy array."""

    def __call__(self, shape, dtype=np.float32):
        raise NotImplementedError


class Zeros(Initializer):
    def __call__(self, shape, dtype=np.float32):
        return np.zeros(shape, dtype=dtype)


class Ones(Initializer):
    def __call__(self, shape, dtype=np.float32):
        return np.ones(shape, dtype=dtype)


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=np.float32):
        return np.full(shape, self.value, dtype=dtype)


class RandomUniform(Initializer):
    """U(minval, maxval); Keras's defaults are -0.05 and 0.05."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval, self.seed = minval, maxval, seed

    def __call__(self, shape, dtype=np.float32):
        return _uniform(shape, dtype, self.minval, self.maxval, self.seed)


class RandomNormal(Initializer):
    """N(mean, stddev^2); Keras's defaults are 0 and 0.05."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def __call__(self, shape, dtype=np.float32):
        values = rng.generator_for(self.seed).standard_normal(shape, dtype=np.dtype(dtype))
        values *= self.stddev
        values += self.mean
        return values


class GlorotUniform(Initializer):
    """U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out)). Keras's default for kernels."""

    def __init__(self, seed=None):
        self.seed = seed

    def __call__(self, shape, dtype=np.float32):
        fan_in, fan_out = compute_fans(shape)
        limit = math.sqrt(6.0 / max(1.0, fan_in + fan_out))
        return _uniform(shape, dtype, -limit, limit, self.seed)


class HeUniform(Initializer):
    """U(-limit, limit), limit = sqrt(6 / fan_in): keeps the variance through ReLU layers."""

    def __init__(self, seed=None):
        self.seed = seed

    def __call__(self, shape, dtype=np.float32):
        fan_in, _ = compute_fans(shape)
        limit = math.sqrt(6.0 / max(1.0, fan_in))
        return _uniform(shape, dtype, -limit, limit, self.seed)


def _uniform(shape, dtype, low, high, seed):
    # Draw directly in the weight's dtype and scale in place: a 14.7M-weight float32 kernel then
    # never passes through a float64 copy twice its size.
    values = rng.generator_for(seed).random(shape, dtype=np.dtype(dtype))
    values *= high - low
    values += low
    return values


ALL = {
    "zeros": Zeros, "ones": Ones, "constant": Constant, "random_uniform": RandomUniform,
    "random_normal": RandomNormal, "glorot_uniform": GlorotUniform, "he_uniform": HeUniform,
}


def get(identifier):
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
