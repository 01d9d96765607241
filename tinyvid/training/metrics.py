"""Metrics: numbers to watch during training that are not differentiated (accuracy, ...).

A metric function takes NumPy arrays `y_true` and `y_pred` and returns one value per sample;
a `Mean` accumulates them over the batches of an epoch, so the reported accuracy is the fraction
of all samples seen so far that were classified correctly (Keras's stateful metrics).

'accuracy' means one of three functions, chosen as Keras 3 chooses, from the shapes of the
labels and predictions on the first batch (which agrees with the loss in every sensible setup):

    predictions (batch, 1)                                  -> binary_accuracy (threshold 0.5)
    labels (batch,) or (batch, 1) against (batch, k > 1)    -> sparse_categorical_accuracy
    labels (batch, k) one-hot                               -> categorical_accuracy

Metrics that are not a mean of per-sample values are objects with Keras's `update_state`,
`result` and `reset_state`: Precision and Recall count true and false positives over the
batches. For whole-video evaluation, `confusion_matrix` counts (true class, predicted class)
pairs and `plot_confusion_matrix` draws the counts as a PNG.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "categorical_accuracy", "sparse_categorical_accuracy", "binary_accuracy",
    "mean_squared_error", "mean_absolute_error", "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy", "Mean", "MeanMetric", "Metric",
    "TopKCategoricalAccuracy", "Precision", "Recall", "confusion_matrix", "plot_confusion_matrix",
    "ALL", "resolve_accuracy", "get", "check_name",
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


def top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> np.ndarray:
    """1 where the one-hot label's class is among the k highest predictions, else 0.

    A class tied with the k-th highest score counts as in the top k (as Keras's in_top_k).
    y_true `(batch, classes)` one-hot, y_pred `(batch, classes)`; returns `(batch,)` float32.
    """
    return sparse_top_k_categorical_accuracy(np.argmax(y_true, axis=-1), y_pred, k)


def sparse_top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> np.ndarray:
    """top_k_categorical_accuracy with integer labels `(batch,)` or `(batch, 1)`."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    k = min(int(k), y_pred.shape[-1])
    kth_highest = -np.partition(-y_pred, k - 1, axis=-1)[..., k - 1]
    target = np.take_along_axis(y_pred, y_true.astype(np.int64)[..., None], axis=-1)[..., 0]
    return (target >= kth_highest).astype(np.float32)


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

    def reset_state(self) -> None:
        self.reset()


class Metric:
    """Base of the metrics that keep their own counts (Keras's `keras.metrics.Metric`):
    `update_state(y_true, y_pred)` after each batch, `result()`, `reset_state()`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.reset_state()

    def reset_state(self) -> None:
        raise NotImplementedError

    def reset(self) -> None:  # the name tinyvid's fit uses
        self.reset_state()

    def update_state(self, y_true: Any, y_pred: Any) -> None:
        raise NotImplementedError

    def result(self) -> Any:
        raise NotImplementedError

    def __call__(self, y_true: Any, y_pred: Any) -> Any:
        """Update with one batch and return the result so far, as Keras's metrics do."""
        self.update_state(y_true, y_pred)
        return self.result()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


class TopKCategoricalAccuracy(MeanMetric):
    """How often the one-hot label's class is among the k highest predictions, averaged over
    every sample seen since the last reset.

    Args:
        k: how many of the highest predictions count. Default 5.
        name: Default 'top_k_categorical_accuracy'.
    """

    def __init__(self, k: int = 5, name: str = "top_k_categorical_accuracy",
                 dtype: Any = None) -> None:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"TopKCategoricalAccuracy: invalid value for argument `k`: expected "
                             f"a positive integer. Received: k={k!r}")
        self.k = int(k)
        super().__init__(lambda y_true, y_pred: top_k_categorical_accuracy(y_true, y_pred,
                                                                           self.k), name)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": "float32", "k": self.k}


class _ConfusionCounts(Metric):
    """Counts of true positives, false positives and false negatives per threshold, summed over
    every element of every batch (or one class with class_id), as Keras's Precision/Recall."""

    def __init__(self, thresholds: float | Sequence[float] | None = None,
                 top_k: int | None = None, class_id: int | None = None,
                 name: str | None = None, dtype: Any = None) -> None:
        owner = type(self).__name__
        self._given_thresholds = thresholds
        if thresholds is None:
            thresholds = 0.5 if top_k is None else -np.inf  # top_k alone: every kept prediction
        self._single = np.ndim(thresholds) == 0
        self.thresholds = np.atleast_1d(np.asarray(thresholds, dtype=np.float64))
        if np.any(self.thresholds > 1) or np.any(np.isnan(self.thresholds)):
            raise ValueError(f"{owner}: invalid value for argument `thresholds`: expected values "
                             f"in [0, 1]. Received: thresholds={thresholds!r}")
        for label, value in (("top_k", top_k), ("class_id", class_id)):
            if value is not None and (isinstance(value, bool) or not isinstance(
                    value, (int, np.integer)) or value < (1 if label == "top_k" else 0)):
                raise ValueError(f"{owner}: invalid value for argument `{label}`: expected "
                                 f"{'a positive' if label == 'top_k' else 'a non-negative'} "
                                 f"integer. Received: {label}={value!r}")
        self.top_k, self.class_id = top_k, class_id
        super().__init__(name or ("precision" if owner == "Precision" else "recall"))

    def reset_state(self) -> None:
        n = len(self.thresholds)
        self.true_positives, self.false_positives = np.zeros(n), np.zeros(n)
        self.false_negatives = np.zeros(n)

    def update_state(self, y_true: Any, y_pred: Any) -> None:
        y_pred = np.asarray(y_pred, dtype=np.float64)
        y_true = np.asarray(y_true).reshape(y_pred.shape).astype(bool)
        if self.top_k is not None:  # keep each sample's k highest predictions, drop the rest
            k = min(self.top_k, y_pred.shape[-1])
            kth = -np.partition(-y_pred, k - 1, axis=-1)[..., k - 1:k]
            y_pred = np.where(y_pred >= kth, y_pred, -np.inf)
        if self.class_id is not None:
            y_true, y_pred = y_true[..., self.class_id], y_pred[..., self.class_id]
        predicted = y_pred.reshape(1, -1) > self.thresholds[:, None]  # (thresholds, elements)
        actual = y_true.reshape(1, -1)
        self.true_positives += np.sum(predicted & actual, axis=1)
        self.false_positives += np.sum(predicted & ~actual, axis=1)
        self.false_negatives += np.sum(~predicted & actual, axis=1)

    def _ratio(self, hits: np.ndarray, misses: np.ndarray) -> float | list[float]:
        total = hits + misses
        values = np.divide(hits, total, out=np.zeros_like(hits), where=total > 0)
        return float(values[0]) if self._single else [float(v) for v in values]

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": "float32", "thresholds": self._given_thresholds,
                "top_k": self.top_k, "class_id": self.class_id}


class Precision(_ConfusionCounts):
    """TP / (TP + FP) over every batch since the last reset: of the predictions above the
    threshold, the fraction whose label is 1 (0 when nothing was predicted positive).

    Args:
        thresholds: a prediction counts as positive when > threshold. Default 0.5; a list gives
            one result per threshold.
        top_k: count only each sample's k highest predictions.
        class_id: count only this class (the last axis's index).
        name: Default 'precision'.
    """

    def result(self) -> float | list[float]:
        return self._ratio(self.true_positives, self.false_positives)


class Recall(_ConfusionCounts):
    """TP / (TP + FN) over every batch since the last reset: of the labels that are 1, the
    fraction predicted above the threshold (0 when no label was 1).

    Args: as Precision; name default 'recall'.
    """

    def result(self) -> float | list[float]:
        return self._ratio(self.true_positives, self.false_negatives)


# --- the confusion matrix, for video-level evaluation -------------------------------------------


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int) -> np.ndarray:
    """Counts of (true class, predicted class) pairs: `matrix[i, j]` is how many samples of
    class i were predicted as class j, so the diagonal holds the correct ones.

    Args:
        y_true: labels `(n,)` as integers, or one-hot `(n, num_classes)`.
        y_pred: predicted labels `(n,)`, or scores `(n, num_classes)` (their argmax is taken).
        num_classes: the number of classes.

    Returns:
        An int64 array `(num_classes, num_classes)`, rows the true classes.
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or (
            num_classes < 1):
        raise ValueError(f"confusion_matrix: invalid value for argument `num_classes`: expected a "
                         f"positive integer. Received: num_classes={num_classes!r}")
    labels = []
    for argument, values in (("y_true", y_true), ("y_pred", y_pred)):
        values = np.asarray(values)
        if values.ndim == 2 and values.shape[1] > 1:
            values = np.argmax(values, axis=-1)
        values = values.reshape(-1)
        if values.size and (not np.all(values == np.round(values)) or values.min() < 0
                            or values.max() >= num_classes):
            raise ValueError(f"confusion_matrix: `{argument}` must hold class indices in "
                             f"[0, {num_classes}); received values from {values.min()} to "
                             f"{values.max()}")
        labels.append(values.astype(np.int64))
    if len(labels[0]) != len(labels[1]):
        raise ValueError(f"confusion_matrix: y_true has {len(labels[0])} labels but y_pred has "
                         f"{len(labels[1])}")
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels[0], labels[1]), 1)
    return matrix


def plot_confusion_matrix(matrix: Any, classes: Sequence[str], path: str | os.PathLike[str]
                          ) -> str | None:
    """Draw a confusion matrix as a PNG: true classes down, predicted across, each cell with
    its count, the shade its share of the row. Written atomically (a temporary file renamed).

    Args:
        matrix: `(k, k)` counts, as `confusion_matrix` returns.
        classes: the k class names, in index order.
        path: the PNG to write.

    Returns:
        The path written, or None when matplotlib is not installed (nothing is written then).
    """
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or len(classes) != len(matrix):
        raise ValueError(f"plot_confusion_matrix: expected a square matrix with one row per class "
                         f"name; received a matrix of shape {matrix.shape} and {len(classes)} "
                         f"class names")
    try:  # the object API: no pyplot, so no process-wide backend or figure state
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    k = len(classes)
    rows = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, rows, out=np.zeros(matrix.shape), where=rows > 0)
    size = 1.5 + 0.6 * k
    figure = Figure(figsize=(size + 1, size))
    FigureCanvasAgg(figure)
    axis = figure.add_subplot()
    image = axis.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=axis, label="share of the true class")
    for i in range(k):
        for j in range(k):
            axis.text(j, i, str(matrix[i, j]), ha="center", va="center",
                      color="white" if shares[i, j] > 0.5 else "black")
    axis.set_xticks(range(k), list(classes), rotation=45, ha="right")
    axis.set_yticks(range(k), list(classes))
    axis.set_xlabel("predicted class")
    axis.set_ylabel("true class")
    axis.set_title("Confusion matrix")
    figure.tight_layout()
    path = os.fspath(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".png",
                                         dir=os.path.dirname(os.path.abspath(path)))
    os.close(handle)
    try:
        figure.savefig(temporary, dpi=100, format="png")
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    return path


ALL = {
    "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "binary_accuracy": binary_accuracy,
    "mean_squared_error": mean_squared_error, "mse": mean_squared_error,
    "mean_absolute_error": mean_absolute_error, "mae": mean_absolute_error,
    "top_k_categorical_accuracy": top_k_categorical_accuracy,
    "sparse_top_k_categorical_accuracy": sparse_top_k_categorical_accuracy,
}
_METRIC_CLASSES = {"precision": Precision, "recall": Recall}


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
    if isinstance(identifier, (Metric, MeanMetric)):
        identifier.reset()
        return identifier
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        return MeanMetric(resolve_accuracy(y_true, y_pred), identifier)
    if isinstance(identifier, str) and identifier in _METRIC_CLASSES:
        return _METRIC_CLASSES[identifier]()
    if isinstance(identifier, str) and identifier in ALL:
        return MeanMetric(ALL[identifier], identifier)
    if callable(identifier) and not isinstance(identifier, str):
        return MeanMetric(identifier, getattr(identifier, "__name__", "metric"))
    raise ValueError(check_name(identifier))


def check_name(identifier):
    """An error message for an identifier `get` would not understand, or None if it would."""
    if callable(identifier) or isinstance(identifier, (Metric, MeanMetric)) or (
            isinstance(identifier, str) and (identifier.lower() in ("accuracy", "acc")
                                             or identifier in ALL or identifier in _METRIC_CLASSES)):
        return None
    return (f"Could not interpret metric identifier: {identifier!r}. "
            f"Known metrics: accuracy, acc, {', '.join(sorted([*ALL, *_METRIC_CLASSES]))}")
