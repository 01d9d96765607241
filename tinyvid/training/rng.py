"""The one random generator behind everything random in tinyvid.

Weight initialisers, dropout masks and the shuffling of training data all draw from the
generator this module holds, so `tinyvid.utils.set_random_seed(seed)` makes two runs identical.
Keras does the same with its global seed generator.

    >>> from tinyvid.training import rng
    >>> rng.generator().random(3, dtype=np.float32)      # draws from the shared generator

A layer or initialiser given its own `seed=` uses a private `numpy.random.default_rng(seed)`
instead, and so does not move the shared generator.
"""

import numpy as np

_generator = np.random.default_rng()


def generator() -> np.random.Generator:
    """The shared `numpy.random.Generator`. Call this each time: `seed()` replaces it."""
    return _generator


def seed(value: int | None) -> None:
    """Restart the shared generator from `value` (an int)."""
    global _generator
    _generator = np.random.default_rng(value)


def generator_for(seed_value: int | None) -> np.random.Generator:
    """A private generator when a seed is given, otherwise the shared one."""
    return _generator if seed_value is None else np.random.default_rng(seed_value)
