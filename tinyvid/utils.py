"""Small helpers with Keras's names: reproducible runs, one-hot labels, fresh layer names."""

import random
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from tinyvid.layers.base import reset_names
from tinyvid.training import rng


def set_random_seed(seed: int) -> None:
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


def to_categorical(y: ArrayLike, num_classes: int | None = None,
                   dtype: DTypeLike = "float32") -> np.ndarray:
    """One-hot encode integer class labels: `to_categorical([2, 0], 3)` is `[[0, 0, 1], [1, 0, 0]]`.

    Args:
        y: integer labels, shape `(n,)` (or `(n, 1)`), values in [0, num_classes).
        num_classes: the number of classes; by default max(y) + 1.
        dtype: of the result; float32 so the labels meet the model's float32 predictions as is.

    Returns:
        An array `(n, num_classes)`.
    """
    labels: Any = np.asarray(y)
    if labels.dtype.kind == "f" and np.any(labels != np.round(labels)):
        raise ValueError("to_categorical: labels must be integers (class indices)")
    labels = labels.astype(np.int64)
    shape = labels.shape[:-1] if labels.ndim > 1 and labels.shape[-1] == 1 else labels.shape
    labels = labels.reshape(-1)
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"to_categorical: labels must lie in [0, {num_classes}), "
                         f"received values from {labels.min()} to {labels.max()}")
    one_hot = np.zeros((labels.size, num_classes), dtype=dtype)
    one_hot[np.arange(labels.size), labels] = 1
    return one_hot.reshape(shape + (num_classes,))


def clear_session() -> None:
    """Restart automatic layer names, so the next Dense is 'dense' again (Keras's clear_session)."""
    reset_names()
