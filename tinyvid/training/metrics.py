"""Metrics: numbers to watch during training that are not differentiated (accuracy, ...).

A metric function takes NumPy arrays `y_true` and `y_pred` and returns one value per sample;
a `Mean` accumulates them over the batches of an epoch, so the reported accuracy is the fraction
of all samples seen so far that were classified correctly (Keras's stateful metrics).

'accuracy' means one of three functions, chosen as Keras 3 chooses, from the shapes of the
labels and predictions on the first batch (which agrees with the loss in every sensible setup):

    predictions (batch, 1)                                  -> binary_accuracy (threshold 0.5)
    labels (batch,) or (batch, 1) against (batch, k > 1)    -> sparse_categorical_accuracy
    labels (batch, k) one-hot                               -> categorical_accuracy
"""

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

MetricFn = Callable[[Any, np.ndarray], np.ndarray]  # (y_true, y_pred) -> one value per sample

__all__ = [
    "categorical_accuracy", "sparse_categorical_accuracy", "binary_accuracy",
    "mean_squared_error", "mean_absolute_error", "Mean", "MeanMetric", "ALL",
    "resolve_accuracy", "get", "check_name",
]


def categorical_accuracy(y_true: ArrayLike, y_pred: np.ndarray) -> np.ndarray:
    """1 where the predicted class (argmax of y_pred) is the one-hot label's class, else 0."""
    return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(np.float32)


def sparse_categorical_accuracy(y_true: ArrayLike, y_pred: np.ndarray) -> np.ndarray:
    """1 where the predicted class (argmax of y_pred) equals the integer label, else 0."""
    labels = np.asarray(y_true)
    if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:
        labels = labels[..., 0]
    return (labels.astype(np.int64) == np.argmax(y_pred, axis=-1)).astype(np.float32)


def binary_accuracy(y_true: ArrayLike, y_pred: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """The fraction of outputs on the right side of `threshold`, per sample."""
    labels = np.asarray(y_true).reshape(y_pred.shape)
    return np.asarray(np.mean((y_pred > threshold) == (labels > threshold), axis=-1,
                              dtype=np.float32))


def mean_squared_error(y_true: ArrayLike, y_pred: np.ndarray) -> np.ndarray:
    labels = np.asarray(y_true).reshape(y_pred.shape)
    return np.asarray(np.mean(np.square(labels - y_pred), axis=-1, dtype=np.float32))


def mean_absolute_error(y_true: ArrayLike, y_pred: np.ndarray) -> np.ndarray:
    labels = np.asarray(y_true).reshape(y_pred.shape)
    return np.asarray(np.mean(np.abs(labels - y_pred), axis=-1, dtype=np.float32))


class Mean:
    """A running mean: `update(values)` adds values (or one value with a weight), `result()`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.total = 0.0
        self.count: float = 0

    def reset(self) -> None:
        self.total, self.count = 0.0, 0

    def update(self, values: ArrayLike, weight: float | None = None) -> None:
        array = np.asarray(values, dtype=np.float64)
        if weight is None:
            self.total += float(array.sum())
            self.count += array.size
        else:
            self.total += float(array) * weight
            self.count += weight

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0


class MeanMetric(Mean):
    """A metric function averaged over every sample seen since the last reset."""

    def __init__(self, fn: MetricFn, name: str) -> None:
        super().__init__(name)
        self.fn = fn

    def update_state(self, y_true: ArrayLike, y_pred: np.ndarray) -> None:
        self.update(self.fn(y_true, y_pred))


ALL: dict[str, MetricFn] = {
    "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "binary_accuracy": binary_accuracy,
    "mean_squared_error": mean_squared_error, "mse": mean_squared_error,
    "mean_absolute_error": mean_absolute_error, "mae": mean_absolute_error,
}


def resolve_accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> MetricFn:
    """Which accuracy 'accuracy' means for these shapes (Keras 3's rule, see the module docstring)."""
    labels, predictions = np.asarray(y_true), np.asarray(y_pred)
    if predictions.shape[-1] == 1:
        return binary_accuracy
    if labels.ndim < predictions.ndim or labels.shape[-1] == 1:
        return sparse_categorical_accuracy
    return categorical_accuracy


def get(identifier: Any, y_true: ArrayLike, y_pred: ArrayLike) -> MeanMetric:
    """A MeanMetric from a name ('accuracy', 'mse', ...) or a function fn(y_true, y_pred).

    `y_true` and `y_pred` (one batch) decide what 'accuracy' means. The metric is reported under
    the name it was given, as in Keras ('acc' stays 'acc').

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        return MeanMetric(resolve_accuracy(y_true, y_pred), identifier)
    if isinstance(identifier, str) and identifier in ALL:
        return MeanMetric(ALL[identifier], identifier)
    if callable(identifier) and not isinstance(identifier, str):
        return MeanMetric(identifier, getattr(identifier, "__name__", "metric"))
    raise ValueError(check_name(identifier))


def check_name(identifier: Any) -> str | None:
    """An error message for an identifier `get` would not understand, or None if it would."""
    if callable(identifier) or (isinstance(identifier, str) and (
            identifier.lower() in ("accuracy", "acc") or identifier in ALL)):
        return None
    return (f"Could not interpret metric identifier: {identifier!r}. "
            f"Known metrics: accuracy, acc, {', '.join(sorted(ALL))}")
