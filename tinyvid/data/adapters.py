"""What `fit`, `evaluate` and `predict` accept, turned into one thing: a sequence of batches.

That one thing is Keras's PyDataset protocol, an object with

    __len__()         the number of batches per epoch
    __getitem__(i)    batch i: a tuple (x, y), or x alone for predict
    on_epoch_end()    optional: called after each epoch (a data source reshuffles here)

The video pipeline (tinyvid.datasets.FrameBatches) is such an object, so a dataset larger than
memory streams through `fit` batch by batch. NumPy arrays are wrapped in `ArrayBatches`, which
cuts them into batches the same way, so `fit` has a single loop for both.

Batches are cut lazily: a batch is sliced out of the arrays (and converted to float32 by the
first layer) only when asked for, so uint8 frames are never copied whole into float32.
"""

import math
from typing import Any

import numpy as np

from tinyvid.autograd.tensor import Tensor
from tinyvid.training import rng


class ArrayBatches:
    """NumPy arrays cut into batches, as a PyDataset.

    Args:
        x: inputs, `(n, ...)`.
        y: labels, `(n, ...)`, or None (for predict).
        batch_size: samples per batch; the last batch holds the remainder.
        shuffle: visit the samples in a new random order each epoch (drawn from tinyvid's
            shared generator, so `set_random_seed` fixes it).
    """

    def __init__(self, x: np.ndarray, y: np.ndarray | None = None, batch_size: int = 32,
                 shuffle: bool = False) -> None:
        self.x, self.y = x, y
        self.batch_size, self.shuffle = batch_size, shuffle
        self.order: np.ndarray | None = None  # None: in order, as slices (views, no copy)
        self.on_epoch_end()

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, i: int) -> Any:
        if not 0 <= i < len(self):
            raise IndexError(f"batch {i} out of range for {len(self)} batches")
        rows: Any = slice(i * self.batch_size, (i + 1) * self.batch_size)
        if self.order is not None:
            rows = self.order[rows]
        return self.x[rows] if self.y is None else (self.x[rows], self.y[rows])

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self.order = rng.generator().permutation(len(self.x))


def is_data_source(x: Any) -> bool:
    """True for a PyDataset-like object (not an array, list or Tensor)."""
    return (hasattr(x, "__getitem__") and hasattr(x, "__len__")
            and not isinstance(x, (np.ndarray, list, tuple, Tensor)))


def as_array(x: Any, what: str) -> np.ndarray:
    """A NumPy array from an array, a list or a Tensor."""
    if isinstance(x, Tensor):
        return x.data
    if x is None:
        raise ValueError(f"{what} is None; pass a NumPy array")
    return np.asarray(x)


def check_same_length(x: Any, y: Any) -> None:
    if len(x) != len(y):
        raise ValueError(
            f"Data cardinality is ambiguous: x has {len(x)} samples but y has {len(y)} samples. "
            f"Make sure x and y contain the same number of samples.")


def unpack(batch: Any, need_y: bool = True) -> tuple[Any, Any]:
    """(x, y) from a data source's batch; x alone is fine when y is not needed (predict)."""
    if isinstance(batch, tuple):
        if len(batch) == 2:
            return batch
        if len(batch) == 1:
            batch = batch[0]
        else:
            raise ValueError(f"A data source's batch must be (x, y) or x; received a tuple of "
                             f"{len(batch)} items (tinyvid does not support sample weights)")
    if need_y:
        raise ValueError("A data source's batch must be a tuple (x, y) for fit and evaluate; "
                         "received x alone")
    return batch, None


def batches_for(x: Any, y: Any, batch_size: int | None, shuffle: bool,
                need_y: bool = True) -> Any:
    """A PyDataset over what the user passed: arrays (wrapped), or a data source (as is).

    Args:
        x: arrays `(n, ...)` or a data source.
        y: labels `(n, ...)` for arrays; must be None with a data source (its batches carry y).
        batch_size: for arrays; None means 32, Keras's default. Must be None with a data source.
    """
    if is_data_source(x):
        if y is not None:
            raise ValueError("`y` must be None when `x` is a data source: its batches carry the labels")
        if batch_size is not None:
            raise ValueError("`batch_size` must be None when `x` is a data source: "
                             "the data source decides its batches")
        return x
    x = as_array(x, "x")
    if need_y:
        y = as_array(y, "y")
        check_same_length(x, y)
    if batch_size is None:
        batch_size = 32
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, received batch_size={batch_size!r}")
    if len(x) == 0:
        raise ValueError("Expected at least one sample, received x with 0 samples")
    return ArrayBatches(x, y if need_y else None, int(batch_size), shuffle)


def split_validation(x: Any, y: Any, validation_split: float) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """The last `validation_split` of the samples (before any shuffling), as Keras takes them.

    Returns:
        ((x_train, y_train), (x_val, y_val)), views into the arrays.
    """
    if not 0 < validation_split < 1:
        raise ValueError(f"validation_split must be between 0 and 1, received {validation_split}")
    if is_data_source(x):
        raise ValueError("validation_split is only supported for NumPy arrays, not for a data "
                         "source; pass validation_data= instead")
    x, y = as_array(x, "x"), as_array(y, "y")
    check_same_length(x, y)
    split_at = int(math.floor(len(x) * (1.0 - validation_split)))
    if split_at == 0 or split_at == len(x):
        raise ValueError(f"validation_split={validation_split} leaves no samples for "
                         f"{'training' if split_at == 0 else 'validation'} out of {len(x)}")
    return (x[:split_at], y[:split_at]), (x[split_at:], y[split_at:])
