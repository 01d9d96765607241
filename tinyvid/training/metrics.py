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

import numpy as np

__all__ = [
    "categorical_accuracy", "sparse_categorical_accuracy", "binary_accuracy",
    "mean_squared_error", "mean_absolute_error", "Mean", "MeanMetric", "ALL",
    "resolve_accuracy", "get", "check_name",
]


def categorical_accuracy(y_true, y_pred):
    """1 where the predicted class (argmax of y_pred) is the one-hot label's class, else 0."""
    return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(np.float32)


def sparse_categorical_accuracy(y_true, y_pred):
    """1 where the predicted class (argmax of y_pred) equals the integer label, else 0."""
    y_true = np.asarray(y_true)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    return (y_true.astype(np.int64) == np.argmax(y_pred, axis=-1)).astype(np.float32)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """The fraction of outputs on the right side of `threshold`, per sample."""
    y_true = np.asarray(y_true).reshape(y_pred.shape)
    return np.mean((y_pred > threshold) == (y_true > threshold), axis=-1, dtype=np.float32)


def mean_squared_error(y_true, y_pred):
    y_true = np.asarray(y_true).reshape(y_pred.shape)
    return np.mean(np.square(y_true - y_pred), axis=-1, dtype=np.float32)


def mean_absolute_error(y_true, y_pred):
    y_true = np.asarray(y_true).reshape(y_pred.shape)
    return np.mean(np.abs(y_true - y_pred), axis=-1, dtype=np.float32)


class Mean:
    """A running mean: `update(values)` adds values (or one value with a weight), `result()`."""

    def __init__(self, name):
        self.name = name
        self.reset()

    def reset(self):
        self.total, self.count = 0.0, 0

    def update(self, values, weight=None):
        values = np.asarray(values, dtype=np.float64)
        if weight is None:
            self.total += float(values.sum())
            self.count += values.size
        else:
            self.total += float(values) * weight
            self.count += weight

    def result(self):
        return self.total / self.count if self.count else 0.0


class MeanMetric(Mean):
    """A metric function averaged over every sample seen since the last reset."""

    def __init__(self, fn, name):
        super().__init__(name)
        self.fn = fn

    def update_state(self, y_true, y_pred):
        self.update(self.fn(y_true, y_pred))


ALL = {
    "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "binary_accuracy": binary_accuracy,
    "mean_squared_error": mean_squared_error, "mse": mean_squared_error,
    "mean_absolute_error": mean_absolute_error, "mae": mean_absolute_error,
}


def resolve_accuracy(y_true, y_pred):
    """Which accuracy 'accuracy' means for these shapes (Keras 3's rule, see the module docstring)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_pred.shape[-1] == 1:
        return binary_accuracy
    if y_true.ndim < y_pred.ndim or y_true.shape[-1] == 1:
        return sparse_categorical_accuracy
    return categorical_accuracy


def get(identifier, y_true, y_pred):
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


def check_name(identifier):
    """An error message for an identifier `get` would not understand, or None if it would."""
    if callable(identifier) or (isinstance(identifier, str) and (
            identifier.lower() in ("accuracy", "acc") or identifier in ALL)):
        return None
    return (f"Could not interpret metric identifier: {identifier!r}. "
            f"Known metrics: accuracy, acc, {', '.join(sorted(ALL))}")
