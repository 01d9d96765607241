"""Small helpers with Keras's names: reproducible runs, one-hot labels, fresh layer names."""

import random

import numpy as np

from tinyvid.layers.base import reset_names
from tinyvid.training import rng


def set_random_seed(seed):
    """Make runs reproducible: two runs after the same `set_random_seed(seed)` start from the same
    weights, drop the same units and shuffle the data the same way.

    Seeds tinyvid's shared generator (weight initialisers, dropout, shuffling; see
    tinyvid/training/rng.py) and, as Keras does, Python's `random` and NumPy's global generator
    (`np.random.seed`), for any code of yours that uses them.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"Expected `seed` argument to be an integer. "
                         f"Received: seed={seed!r} (of type {type(seed)})")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    rng.seed(int(seed))


def to_categorical(y, num_classes=None, dtype="float32"):
    """One-hot encode integer class labels: `to_categorical([2, 0], 3)` is `[[0, 0, 1], [1, 0, 0]]`.

    Args:
        y: integer labels, shape `(n,)` (or `(n, 1)`), values in [0, num_classes).
        num_classes: the number of classes; by default max(y) + 1.
        dtype: of the result; float32 so the labels meet the model's float32 predictions as is.

    Returns:
        An array `(n, num_classes)`.
    """
    y = np.asarray(y)
    if y.dtype.kind == "f" and np.any(y != np.round(y)):
        raise ValueError("to_categorical: labels must be integers (class indices)")
    y = y.astype(np.int64)
    shape = y.shape[:-1] if y.ndim > 1 and y.shape[-1] == 1 else y.shape
    y = y.reshape(-1)
    if num_classes is None:
        num_classes = int(y.max()) + 1 if y.size else 0
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"to_categorical: labels must lie in [0, {num_classes}), "
                         f"received values from {y.min()} to {y.max()}")
    one_hot = np.zeros((y.size, num_classes), dtype=dtype)
    one_hot[np.arange(y.size), y] = 1
    return one_hot.reshape(shape + (num_classes,))


def clear_session():
    """Restart automatic layer names, so the next Dense is 'dense' again (Keras's clear_session)."""
    reset_names()
