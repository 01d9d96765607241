"""Loss functions: how far the predictions y_hat are from the labels y (the source document, 3.2).

Two levels, as in Keras:

- functions (`mean_squared_error(y_true, y_pred)`, ...) return one loss per sample, shape
  `(batch,)` (the mean over the last axis where a sample has several outputs);
- classes (`MeanSquaredError()`, ...) and the names `compile` accepts ('mse', ...) return the
  mean of those over the batch: Keras's "sum over batch size" reduction. That mean is the
  document's 1/n sum_{i=1}^{n} with n the batch size.

`y_true` is a NumPy array (labels never need a gradient); `y_pred` is the model's output Tensor.
"""

from collections.abc import Callable
from typing import Any

import numpy as np

from tinyvid import nn
from tinyvid.autograd.tensor import Tensor

__all__ = [
    "EPSILON", "mean_squared_error", "binary_crossentropy", "categorical_crossentropy",
    "sparse_categorical_crossentropy", "Loss", "MeanSquaredError", "BinaryCrossentropy",
    "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "ALL", "get",
]

LossFn = Callable[..., Tensor]  # (y_true, y_pred, **options) -> one loss per sample

EPSILON = 1e-7  # Keras's backend.epsilon(): probabilities are clipped to [eps, 1 - eps] before log


# --- the document's two losses -----------------------------------------------------------------


def mean_squared_error(y_true: Any, y_pred: Any) -> Tensor:
    """Mean squared error per sample (the document, section 3.2.1):

        MSE = \\frac{1}{n} \\sum_{i=1}^{n} (y_i - \\hat{y}_i)^2

    Args:
        y_true: targets, `(batch, d)` (or `(batch,)` against predictions `(batch, 1)`).
        y_pred: predictions, a Tensor `(batch, d)`.

    Returns:
        A Tensor `(batch,)`: the mean over the d outputs of each sample.
    """
    y_pred, y_true = _prepare(y_true, y_pred, "mean_squared_error")
    diff = y_pred - y_true
    return (diff * diff).mean(axis=-1)


def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False) -> Tensor:
    """Binary cross-entropy per sample (the document, section 3.2.2):

        CE = -\\frac{1}{n} \\sum_{i=1}^{n} [y_i \\log(\\hat{y}_i) + (1 - y_i) \\log(1 - \\hat{y}_i)]

    with y_hat clipped to [eps, 1 - eps] (Keras's eps = 1e-7) so that log never sees 0.

    When y_pred came out of a sigmoid (marked `y_pred.activation == 'sigmoid'`), or `from_logits=True`, the loss
    is computed from the logits z instead, as max(z, 0) - z y + log(1 + e^-|z|): the same value
    where both are finite, but exact (no clipping) and without NaN for saturated outputs.

    Args:
        y_true: labels in {0, 1} (or probabilities), `(batch, d)` or `(batch,)`.
        y_pred: probabilities (or logits with from_logits=True), a Tensor `(batch, d)`.

    Returns:
        A Tensor `(batch,)`: the mean over the d outputs of each sample.
    """
    y_pred, y_true = _prepare(y_true, y_pred, "binary_crossentropy")
    if not from_logits and y_pred.activation == "sigmoid" and y_pred.logits is not None:
        y_pred, from_logits = y_pred.logits, True  # see _logits_of_softmax below
    if from_logits:
        return nn.sigmoid_cross_entropy_with_logits(y_pred, y_true.data).mean(axis=-1)
    p = y_pred.clip(EPSILON, 1 - EPSILON)
    return -(y_true * p.log() + (1 - y_true) * (1 - p).log()).mean(axis=-1)


def categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False) -> Tensor:
    """Categorical cross-entropy per sample: the document's cross-entropy (section 3.2.2) for k
    classes, with one-hot labels y:

        CE = -\\frac{1}{n} \\sum_{i=1}^{n} \\sum_{j=1}^{k} y_{ij} \\log(\\hat{y}_{ij})

    Probabilities are first normalised to sum to 1 and clipped to [eps, 1 - eps] (Keras's rule).
    When y_pred came out of a softmax (or from_logits=True), log(softmax(z)) is computed as one
    stable log-softmax of the logits z instead: exact, and finite even for saturated outputs.

    Args:
        y_true: one-hot labels, `(batch, k)`. For integer labels `(batch,)` use
            sparse_categorical_crossentropy.
        y_pred: probabilities (or logits with from_logits=True), a Tensor `(batch, k)`.

    Returns:
        A Tensor `(batch,)`.
    """
    y_pred = _as_tensor(y_pred)
    y_true = _as_labels(y_true, y_pred.dtype)
    if y_true.shape != y_pred.shape:
        raise ValueError(_categorical_label_error(y_true.data, y_pred.shape))
    return -(y_true * _log_probabilities(y_pred, from_logits)).sum(axis=-1)


def sparse_categorical_crossentropy(y_true: Any, y_pred: Any,
                                    from_logits: bool = False) -> Tensor:
    """Categorical cross-entropy with integer labels (the class index of each sample):

        CE = -\\frac{1}{n} \\sum_{i=1}^{n} \\log(\\hat{y}_{i, y_i})

    the same as categorical_crossentropy with the labels one-hot encoded, which is how it is
    computed here.

    Args:
        y_true: class indices in [0, k), `(batch,)` or `(batch, 1)`.
        y_pred: probabilities (or logits with from_logits=True), a Tensor `(batch, k)`.

    Returns:
        A Tensor `(batch,)`.
    """
    y_pred = _as_tensor(y_pred)
    labels = np.asarray(y_true.data if isinstance(y_true, Tensor) else y_true)
    k = y_pred.shape[-1]
    if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:
        labels = labels[..., 0]
    if labels.shape != y_pred.shape[:-1]:
        hint = (f"these look like one-hot labels: use categorical_crossentropy, or integer labels "
                f"y.argmax(axis=-1) of shape {y_pred.shape[:-1]}" if labels.shape == y_pred.shape
                else f"expected integer labels of shape {y_pred.shape[:-1]}")
        raise ValueError(f"sparse_categorical_crossentropy: received labels of shape {labels.shape} "
                         f"for predictions of shape {y_pred.shape}; {hint}")
    if labels.dtype.kind == "f" and np.any(labels != np.round(labels)):
        raise ValueError("sparse_categorical_crossentropy: labels must be integer class indices; "
                         "for probabilities use categorical_crossentropy")
    labels = labels.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(f"sparse_categorical_crossentropy: labels must lie in [0, {k}) for {k} "
                         f"classes, received values from {labels.min()} to {labels.max()}")
    one_hot = np.eye(k, dtype=y_pred.dtype)[labels]
    return -(one_hot * _log_probabilities(y_pred, from_logits)).sum(axis=-1)


# --- how the cross-entropies take logarithms -------------------------------------------------


def _log_probabilities(y_pred: Tensor, from_logits: bool) -> Tensor:
    """log(y_hat) along the last axis, from probabilities or from logits."""
    logits = y_pred if from_logits else _logits_of_softmax(y_pred)
    if logits is not None:
        return nn.log_softmax(logits, axis=-1)
    p = y_pred / y_pred.sum(axis=-1, keepdims=True)  # Keras's rule for arbitrary probabilities
    return p.clip(EPSILON, 1 - EPSILON).log()


def _logits_of_softmax(y_pred: Tensor) -> Tensor | None:
    """The logits z if y_pred = softmax(z) over the last axis, else None.

    `nn.softmax` marks its output with its input (`y_pred.logits`, `y_pred.activation ==
    'softmax'`), as Keras marks a softmax's output with its logits. If the model ended in a
    softmax, we skip it and take the log-softmax of its input: log(softmax(z)) = z - log(sum e^z)
    never takes log(0), where log(clip(softmax(z))) does once a probability underflows. The
    Softmax node is then not on the loss's path, so backward goes straight from the loss to z.
    """
    return y_pred.logits if y_pred.activation == "softmax" else None


# --- checking and shaping the inputs ------------------------------------------------------------


def _as_tensor(y_pred: Any) -> Tensor:
    return y_pred if isinstance(y_pred, Tensor) else Tensor(y_pred)


def _as_labels(y_true: Any, dtype: np.dtype) -> Tensor:
    """Labels as a constant Tensor of the predictions' dtype (float32 stays float32)."""
    data = y_true.data if isinstance(y_true, Tensor) else y_true
    return Tensor(np.asarray(data, dtype=dtype))


def _prepare(y_true: Any, y_pred: Any, name: str) -> tuple[Tensor, Tensor]:
    """Tensors of matching shape; labels `(batch,)` against predictions `(batch, 1)` get the 1."""
    y_pred = _as_tensor(y_pred)
    y_true = _as_labels(y_true, y_pred.dtype)
    if y_true.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
        y_true = y_true.reshape(*y_true.shape, 1)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{name}: labels of shape {y_true.shape} do not match predictions of "
                         f"shape {y_pred.shape}")
    return y_pred, y_true


def _categorical_label_error(labels: np.ndarray, pred_shape: tuple[int, ...]) -> str:
    message = (f"categorical_crossentropy: received labels of shape {labels.shape} for predictions "
               f"of shape {pred_shape}; ")
    looks_sparse = labels.shape == pred_shape[:-1] or labels.shape == pred_shape[:-1] + (1,)
    if looks_sparse:
        return message + (f"these look like integer class labels: use sparse_categorical_crossentropy "
                          f"or one-hot labels of shape {pred_shape} "
                          f"(tinyvid.utils.to_categorical(y, {pred_shape[-1]}))")
    return message + f"expected one-hot labels of shape {pred_shape}"


# --- classes: the per-sample loss averaged over the batch ----------------------------------------


class Loss:
    """A loss as `compile` uses it: `loss(y_true, y_pred)` is a scalar Tensor, the mean over the
    batch of the per-sample losses l_i (Keras's default reduction, "sum_over_batch_size").

    With per-sample weights w_i (`sample_weight`, shape `(batch,)`), Keras's same reduction:

        J = \\frac{1}{n} \\sum_{i=1}^{n} w_i l_i        (n the batch size, not the sum of the w_i)
    """

    name = "loss"

    def __init__(self, fn: LossFn | None = None, name: str | None = None, **kwargs: Any) -> None:
        self.fn, self.kwargs = fn, kwargs
        self.name = name or str(getattr(fn, "__name__", self.name))

    def call(self, y_true: Any, y_pred: Any) -> Tensor:
        if self.fn is None:
            raise NotImplementedError(f"{type(self).__name__}: give a loss function or override call")
        return self.fn(y_true, y_pred, **self.kwargs)

    def __call__(self, y_true, y_pred, sample_weight=None):
        values = self.call(y_true, y_pred)  # l_i, shape (batch,)
        if sample_weight is None:
            return values.mean()
        weights = np.asarray(sample_weight.data if isinstance(sample_weight, Tensor) else sample_weight,
                             dtype=values.dtype)
        if weights.ndim == values.ndim + 1 and weights.shape[-1] == 1:
            weights = weights[..., 0]  # (batch, 1) -> (batch,)
        if weights.shape != values.shape:
            raise ValueError(f"{self.name}: sample_weight of shape {weights.shape} does not match the "
                             f"per-sample losses of shape {values.shape}; expected one weight per "
                             f"sample")
        return (values * weights).sum() * (1.0 / values.size)  # sum(w_i l_i) / n

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class MeanSquaredError(Loss):
    def __init__(self, name: str = "mean_squared_error") -> None:
        super().__init__(mean_squared_error, name)


class BinaryCrossentropy(Loss):
    def __init__(self, from_logits: bool = False, name: str = "binary_crossentropy") -> None:
        super().__init__(binary_crossentropy, name, from_logits=from_logits)


class CategoricalCrossentropy(Loss):
    def __init__(self, from_logits: bool = False,
                 name: str = "categorical_crossentropy") -> None:
        super().__init__(categorical_crossentropy, name, from_logits=from_logits)


class SparseCategoricalCrossentropy(Loss):
    def __init__(self, from_logits: bool = False,
                 name: str = "sparse_categorical_crossentropy") -> None:
        super().__init__(sparse_categorical_crossentropy, name, from_logits=from_logits)


ALL: dict[str, type[Loss]] = {
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "MeanSquaredError": MeanSquaredError,
    "binary_crossentropy": BinaryCrossentropy, "BinaryCrossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "CategoricalCrossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "SparseCategoricalCrossentropy": SparseCategoricalCrossentropy,
}


def get(identifier: Any) -> Loss:
    """A Loss from a name ('mse', 'categorical_crossentropy', ...), a Loss, or a function
    `fn(y_true, y_pred)` returning per-sample losses (wrapped to average over the batch).

    Raises:
        ValueError: for anything else, listing the names tinyvid knows.
    """
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str) and identifier in ALL:
        return ALL[identifier]()
    if callable(identifier) and not isinstance(identifier, str):
        if isinstance(identifier, type) and issubclass(identifier, Loss):
            return identifier()
        return Loss(identifier)
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}. "
                     f"Known losses: {', '.join(sorted(ALL))}")
