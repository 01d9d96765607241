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

Also accepted, as Keras accepts them: a Python generator or any iterable of batches `(x, y)` or
`(x, y, sample_weight)` (a list of such tuples too), walked by `EpochIterator`; and, for models
with several inputs or outputs, x and y as lists or dicts of arrays, cut alike.
"""

import math
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from tinyvid.autograd.tensor import Tensor
from tinyvid.layers.symbolic import flatten, map_structure
from tinyvid.training import rng


class ArrayBatches:
    """NumPy arrays cut into batches, as a PyDataset.

    Args:
        x: inputs, `(n, ...)`, or a list/dict of such arrays (one per model input).
        y: labels, `(n, ...)` (or a list/dict, one per output), or None (for predict).
        batch_size: samples per batch; the last batch holds the remainder.
        shuffle: visit the samples in a new random order each epoch (drawn from tinyvid's
            shared generator, so `set_random_seed` fixes it). The order is drawn when the
            epoch's first batch is asked for, so it depends only on the generator's state at
            that moment: a run that BackupAndRestore restored between epochs draws the same one.
        sample_weight: one weight per sample, `(n,)` (or a list/dict per output), cut alike;
            the batches are then `(x, y, sample_weight)`.
    """

    def __init__(self, x, y=None, batch_size=32, shuffle=False, sample_weight=None):
        self.x, self.y, self.sample_weight = x, y, sample_weight
        self.batch_size, self.shuffle = batch_size, shuffle
        self.n = num_samples(x)
        self.order = None  # None: in order, as slices (views, no copy)
        self._draw_order = shuffle

    def __len__(self):
        return math.ceil(self.n / self.batch_size)

    def __getitem__(self, i: int) -> Any:
        if not 0 <= i < len(self):
            raise IndexError(f"batch {i} out of range for {len(self)} batches")
        if self._draw_order:
            self.order, self._draw_order = rng.generator().permutation(self.n), False
        rows = slice(i * self.batch_size, (i + 1) * self.batch_size)
        if self.order is not None:
            rows = self.order[rows]
        x = map_structure(lambda a: a[rows], self.x)
        if self.y is None:
            return x
        y = map_structure(lambda a: a[rows], self.y)
        if self.sample_weight is None:
            return x, y
        return x, y, map_structure(lambda a: None if a is None else a[rows], self.sample_weight)

    def on_epoch_end(self):
        self._draw_order = self.shuffle  # a new order for the next epoch, drawn at its first batch


def num_samples(x: Any) -> int:
    """The number of samples in an array, or in the first array of a list/dict of them."""
    return len(flatten(x)[0])


class EpochIterator:
    """The batches of one epoch after another, from a PyDataset or from any iterable of batches.

    Args:
        data: a PyDataset (len and [i]), a list of batches, or a generator/iterable of batches.
        steps_per_epoch: batches per epoch. None: one pass over the data per epoch (a generator
            is then used up by the first epoch, as in Keras). Given: that many batches per epoch,
            carrying on where the last epoch stopped and starting over when the data ends (a
            generator that ends stops training with a warning, as Keras's "ran out of data").
    """

    def __init__(self, data: Any, steps_per_epoch: int | None = None) -> None:
        if steps_per_epoch is not None and (isinstance(steps_per_epoch, bool) or not isinstance(
                steps_per_epoch, (int, np.integer)) or steps_per_epoch < 1):
            raise ValueError(f"steps_per_epoch must be a positive integer or None, received "
                             f"steps_per_epoch={steps_per_epoch!r}")
        self.data, self.steps_per_epoch = data, steps_per_epoch
        self.sized = hasattr(data, "__len__") and hasattr(data, "__getitem__")
        self.one_shot = not self.sized and iter(data) is data  # a generator or an iterator
        self._iterator: Iterator[Any] | None = None
        self._position = 0  # the next batch of a sized source, when steps_per_epoch is given
        self.ran_out = False

    @property
    def steps(self) -> int | None:
        """Batches per epoch, if known."""
        if self.steps_per_epoch is not None:
            return int(self.steps_per_epoch)
        return len(self.data) if self.sized else None

    def epoch(self) -> Iterator[tuple[int, Any]]:
        """(step, batch) for each batch of the next epoch."""
        if self.sized:
            yield from self._sized_epoch()
            return
        if self.steps_per_epoch is None:
            iterator = iter(self.data)
            step = -1
            for step, batch in enumerate(iterator):
                yield step, batch
            if step < 0:
                self._run_out()
            return
        for step in range(int(self.steps_per_epoch)):
            batch = self._next_batch()
            if batch is None:
                return
            yield step, batch

    def _sized_epoch(self) -> Iterator[tuple[int, Any]]:
        count = len(self.data)
        if self.steps_per_epoch is None:
            for step in range(count):
                yield step, self.data[step]
            if hasattr(self.data, "on_epoch_end"):
                self.data.on_epoch_end()  # a new order for the next epoch
            return
        for step in range(int(self.steps_per_epoch)):
            if self._position == count:
                self._position = 0
                if hasattr(self.data, "on_epoch_end"):
                    self.data.on_epoch_end()
            yield step, self.data[self._position]
            self._position += 1

    def _next_batch(self) -> Any:
        if self._iterator is None:
            self._iterator = iter(self.data)
        try:
            return next(self._iterator)
        except StopIteration:
            if self.one_shot:
                self._run_out()
                return None
            self._iterator = iter(self.data)  # a list of batches: start it again
            return next(self._iterator, None)

    def _run_out(self) -> None:
        self.ran_out = True
        warnings.warn("Your input ran out of data; interrupting training. Make sure that your "
                      "dataset or generator can generate at least `steps_per_epoch * epochs` "
                      "batches.", stacklevel=3)


def is_data_source(x: Any) -> bool:
    """True for a PyDataset-like object (not an array, list or Tensor)."""
    return (hasattr(x, "__getitem__") and hasattr(x, "__len__")
            and not isinstance(x, (np.ndarray, list, tuple, dict, Tensor)))


def is_batch_iterable(x: Any) -> bool:
    """True for a generator, an iterator or an iterable of batches (a list of (x, y) tuples), as
    opposed to arrays (or a list/dict of arrays, one per model input)."""
    if isinstance(x, (list, tuple)):
        return len(x) > 0 and all(isinstance(item, tuple) for item in x)
    if isinstance(x, (np.ndarray, Tensor, dict, str, bytes)) or is_data_source(x):
        return False
    return isinstance(x, Iterable)


def as_array(x, what, single=False):
    """A NumPy array from an array, a list or a Tensor; or a list/dict of them, one per model
    input (output), unless `single` (a one-input model: a list of arrays is stacked, as NumPy
    would)."""
    if isinstance(x, Tensor):
        return x.data
    if x is None:
        raise ValueError(f"{what} is None; pass a NumPy array")
    if isinstance(x, dict):
        return {key: as_array(value, what) for key, value in x.items()}
    if not single and isinstance(x, (list, tuple)) and x and all(
            isinstance(item, (np.ndarray, Tensor)) for item in x):
        return [as_array(item, what) for item in x]  # one array per model input or output
    return np.asarray(x)


def check_same_length(x, y, what="y"):
    sizes_x = {len(a) for a in flatten(x)}
    sizes_y = {len(a) for a in flatten(y) if a is not None}
    if len(sizes_x | sizes_y) > 1:
        n_x = ", ".join(map(str, sorted(sizes_x)))
        n_y = ", ".join(map(str, sorted(sizes_y)))
        raise ValueError(
            f"Data cardinality is ambiguous: x has {n_x} samples but {what} has {n_y} samples. "
            f"Make sure x and {what} contain the same number of samples.")


def unpack(batch, need_y=True):
    """(x, y, sample_weight) from a batch: `(x, y)`, `(x, y, sample_weight)`, or x alone when y is
    not needed (predict)."""
    if isinstance(batch, tuple):
        if len(batch) in (2, 3):
            return batch[0], batch[1], batch[2] if len(batch) == 3 else None
        if len(batch) == 1:
            batch = batch[0]
        else:
            raise ValueError(f"A batch must be (x, y), (x, y, sample_weight) or x; received a tuple "
                             f"of {len(batch)} items")
    if need_y:
        raise ValueError("A batch must be a tuple (x, y) or (x, y, sample_weight) for fit and "
                         "evaluate; received x alone")
    return batch, None, None


def class_weights_for(y: Any, class_weight: dict[int, float]) -> np.ndarray:
    """Keras's class_weight as per-sample weights: w_i = class_weight[class of sample i], the class
    being the label (integer labels) or its argmax (one-hot labels); classes not listed weigh 1."""
    labels = np.asarray(y.data if isinstance(y, Tensor) else y)
    if labels.ndim >= 2 and labels.shape[-1] > 1:
        classes = np.argmax(labels, axis=-1)
    else:
        classes = labels.reshape(len(labels), -1)[:, 0].round().astype(np.int64)
    table = np.ones(int(max(classes.max(initial=0), max(class_weight, default=0))) + 1, np.float32)
    for label, weight in class_weight.items():
        table[int(label)] = weight
    return table[classes.reshape(-1)].reshape(classes.shape)


def batches_for(x, y, batch_size, shuffle, need_y=True, sample_weight=None, single=(False, False)):
    """Batches over what the user passed: arrays (wrapped), a data source (as is), or an
    iterable of batches (as is, walked by EpochIterator).

    Args:
        x: arrays `(n, ...)` (or a list/dict of them), a data source, or an iterable of batches.
        y: labels `(n, ...)` for arrays; must be None otherwise (the batches carry y).
        batch_size: for arrays; None means 32, Keras's default. Must be None otherwise.
        sample_weight: per-sample weights `(n,)` for arrays; None otherwise.
        single: (one input?, one output?): where true, a list of arrays is one stacked array.
    """
    if is_data_source(x) or is_batch_iterable(x):
        what = "a data source" if is_data_source(x) else "a generator or an iterable of batches"
        for name, value in (("y", y), ("batch_size", batch_size), ("sample_weight", sample_weight)):
            if value is not None:
                raise ValueError(f"`{name}` must be None when `x` is {what}: its batches carry "
                                 f"the labels (and sample weights) and decide their size")
        return x
    x = as_array(x, "x", single[0])
    if need_y:
        y = as_array(y, "y", single[1])
        check_same_length(x, y)
    if sample_weight is not None:
        sample_weight = map_structure(lambda w: None if w is None else np.asarray(w), sample_weight)
        check_same_length(x, sample_weight, "sample_weight")
    if batch_size is None:
        batch_size = 32
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, received batch_size={batch_size!r}")
    if num_samples(x) == 0:
        raise ValueError("Expected at least one sample, received x with 0 samples")
    return ArrayBatches(x, y if need_y else None, int(batch_size), shuffle, sample_weight)


def split_validation(x, y, validation_split, sample_weight=None, single=(False, False)):
    """The last `validation_split` of the samples (before any shuffling), as Keras takes them.

    Returns:
        ((x_train, y_train, sw_train), (x_val, y_val, sw_val)), views into the arrays (the
        sample weights None if none were given).
    """
    if not 0 < validation_split < 1:
        raise ValueError(f"validation_split must be between 0 and 1, received {validation_split}")
    if is_data_source(x) or is_batch_iterable(x):
        raise ValueError("validation_split is only supported for NumPy arrays, not for a data "
                         "source or a generator; pass validation_data= instead")
    x, y = as_array(x, "x", single[0]), as_array(y, "y", single[1])
    check_same_length(x, y)
    n = num_samples(x)
    split_at = int(math.floor(n * (1.0 - validation_split)))
    if split_at == 0 or split_at == n:
        raise ValueError(f"validation_split={validation_split} leaves no samples for "
                         f"{'training' if split_at == 0 else 'validation'} out of {n}")

    def cut(rows: slice) -> tuple[Any, Any, Any]:
        def take(a: Any) -> Any:
            return None if a is None else np.asarray(a)[rows]
        return (map_structure(take, x), map_structure(take, y),
                None if sample_weight is None else map_structure(take, sample_weight))

    return cut(slice(None, split_at)), cut(slice(split_at, None))
