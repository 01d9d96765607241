"""Checks on what a user hands to training: each one small, called once where the data comes in.

    check_epochs(epochs)              an integer >= 0, or a ValueError
    check_finite(x, "x")              no NaN or inf in an array, or a ValueError with the index
    check_fit_arrays(train, val)      fit's NumPy arrays, whole, before the first step
    check_source_batch(...)           a data source's batch as it comes: not empty, finite
    check_epochs, format_log_path     fit's `epochs`; ModelCheckpoint's file names
    warn_if_non_finite(x, "x")        predict: NaN in, NaN out; say so once per call
    warn_if_single_class(n, where)    a classifier of one class learns nothing

NaN or inf in the inputs or the labels make every later loss and weight NaN without a word,
so `fit` refuses them before the first step (NumPy arrays: checked whole, in slices, so the
check needs little memory; data sources: each batch, when it comes). Integer arrays (uint8
frames) are always finite and cost nothing to check.
"""

import numbers
import warnings
from typing import Any

import numpy as np

from tinyvid.autograd.tensor import Tensor
from tinyvid.data.adapters import ArrayBatches

_CHECK_ROWS_BYTES = 16 * 1024 * 1024  # check big arrays in slices of about this size


def check_epochs(epochs: Any, caller: str = "fit") -> int:
    """`epochs` as an int, refusing floats (2.5), bools and negative numbers."""
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral):
        raise ValueError(f"{caller}: invalid value for argument `epochs`: expected an integer "
                         f">= 0, received epochs={epochs!r} (of type {type(epochs).__name__})")
    if epochs < 0:
        raise ValueError(f"{caller}: invalid value for argument `epochs`: expected an integer "
                         f">= 0, received epochs={epochs}")
    return int(epochs)


def first_non_finite(array: np.ndarray) -> tuple[int, ...] | None:
    """The index of the first NaN or inf in `array` (C order), or None when all are finite."""
    if array.dtype.kind not in "fc" or array.size == 0:
        return None  # integers and bools are always finite
    rows = max(1, _CHECK_ROWS_BYTES // max(1, array[0].nbytes)) if array.ndim else 1
    flat = array.reshape(1, -1) if array.ndim == 0 else array
    for start in range(0, len(flat), rows):
        finite = np.isfinite(flat[start:start + rows])
        if not finite.all():
            index = np.argwhere(~finite)[0]
            index[0] += start
            return () if array.ndim == 0 else tuple(int(i) for i in index)
    return None


def check_finite(array: Any, name: str, caller: str = "fit") -> None:
    """Refuse NaN and inf in `array`, naming it and the first bad index."""
    array = _as_array(array)
    index = first_non_finite(array)
    if index is not None:
        raise ValueError(f"{caller}: `{name}` holds a non-finite value ({array[index]}) at index "
                         f"{index}; NaN or inf in the data would make the loss and then every "
                         f"weight NaN. Remove or replace such values before training")


def check_fit_arrays(train: Any, validation: Any) -> None:
    """fit on NumPy arrays: the whole x and y of the training and validation data, up front.

    Data sources (anything but `ArrayBatches`) are checked batch by batch instead, in
    `check_source_batch`, as their batches come.
    """
    for batches, prefix in ((train, ""), (validation, "validation ")):
        if isinstance(batches, ArrayBatches):
            for name, structure in (("x", batches.x), ("y", batches.y)):
                for key, array in _leaves(structure, f"{prefix}{name}"):
                    check_finite(array, key)


def _leaves(structure: Any, name: str) -> list[tuple[str, Any]]:
    """(name, array) of each array in an array, or a list, tuple or dict of them."""
    if isinstance(structure, dict):
        return [(f"{name}[{key!r}]", value) for key, value in structure.items()]
    if isinstance(structure, (list, tuple)):
        return [(f"{name}[{i}]", value) for i, value in enumerate(structure)]
    return [] if structure is None else [(name, structure)]


def check_source_batch(batches: Any, x: Any, y: Any, step: int) -> None:
    """fit on a data source: batch `step` as it comes (arrays were checked whole before)."""
    if not isinstance(batches, ArrayBatches) and is_single_array(x) and is_single_array(y):
        check_batch(x, y, f"batch {step} of the training data")


def is_single_array(x: Any) -> bool:
    """True for one array or Tensor (the checks here leave several inputs, in a list, tuple or
    dict, to the model's own input checks)."""
    return isinstance(x, (np.ndarray, Tensor))


def check_batch(x: Any, y: Any, where: str, caller: str = "fit") -> None:
    """One batch: not empty, x and y of one length, and no NaN or inf in either."""
    x, y = _as_array(x), _as_array(y)
    if x.ndim == 0 or len(x) == 0:
        raise ValueError(f"{caller}: {where} holds 0 samples (x of shape {x.shape}); a "
                         f"training step needs at least one")
    if y.ndim == 0 or len(y) != len(x):
        raise ValueError(f"{caller}: {where} has {len(x)} samples in x but y of shape {y.shape}")
    for array, name in ((x, "x"), (y, "y")):
        index = first_non_finite(array)
        if index is not None:
            raise ValueError(f"{caller}: {where}: `{name}` holds a non-finite value "
                             f"({array[index]}) at index {index} of the batch; NaN or inf in "
                             f"the data would make the loss and then every weight NaN")


def warn_if_non_finite(x: Any, name: str = "x", caller: str = "predict") -> bool:
    """Warn (once; returns True when it did) that NaN or inf inputs give NaN outputs."""
    if not is_single_array(x):
        return False
    array = _as_array(x)
    index = first_non_finite(array)
    if index is None:
        return False
    warnings.warn(f"{caller}: `{name}` holds a non-finite value ({array[index]}) at index "
                  f"{index}; the outputs for such samples are NaN", RuntimeWarning, stacklevel=3)
    return True


def warn_if_single_class(num_classes: int, where: str) -> None:
    """A classifier with one class predicts it with certainty: the loss is 0 from the start."""
    if num_classes == 1:
        warnings.warn(f"{where}: only one class, so a classifier trained on it always predicts "
                      f"that class and learns nothing (its loss is 0 from the start); add a "
                      f"folder of videos for each other class", UserWarning, stacklevel=3)


def _as_array(x: Any) -> np.ndarray:
    return x.data if isinstance(x, Tensor) else np.asarray(x)


class MissingLogKeyError(KeyError, ValueError):
    """A callback's file name asks for a key the logs do not have (e.g. 'val_loss' without
    validation data): a KeyError, as in Keras, and a ValueError, as every tinyvid error is."""

    def __str__(self) -> str:
        return str(self.args[0])


def format_log_path(filepath: str, epoch: int, logs: dict[str, Any], caller: str) -> str:
    """`filepath.format(epoch=epoch, **logs)`, or an error naming the missing key."""
    try:
        return filepath.format(epoch=epoch, **logs)
    except KeyError as error:
        key = error.args[0]
        hint = " (val_ keys need validation_data= or validation_split= in fit)" if str(
            key).startswith("val_") else ""
        raise MissingLogKeyError(
            f"{caller}: the filepath '{filepath}' uses the key '{key}', which the logs of epoch "
            f"{epoch} do not have; they have: {', '.join(['epoch', *logs])}{hint}") from None
