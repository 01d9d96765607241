"""Activation functions by name, as Keras's `activation='relu'` argument takes them.

Each is a function from a Tensor to a Tensor of the same shape, built from the engine's ops,
so its gradient comes from the op's `backward`:

    linear(x)  = x
    relu(x)    = max(x, 0)
    sigmoid(x) = 1 / (1 + e^-x)
    tanh(x)    = (e^x - e^-x) / (e^x + e^-x)
    softmax(x) = e^x_i / sum_j e^x_j        along the last axis (the classes)

`get('relu')` returns the function; `get(None)` returns `linear`, as in Keras.
"""

from tinyvid import nn
from tinyvid.autograd import ops

__all__ = [
    "linear", "relu", "sigmoid", "tanh", "softmax", "ALL", "get", "serialize",
]


def linear(x):
    """The identity: Dense(activation=None) is Dense(activation='linear')."""
    return x


def relu(x):
    return x.relu()


def sigmoid(x):
    return x.sigmoid()


def tanh(x):
    return x.tanh()


def softmax(x, axis=-1):
    """Probabilities over the classes on `axis`. The output is marked with its logits
    (`y.logits`), which is how the cross-entropy losses recognise it and fuse the two into a
    stable log-softmax."""
    if x.ndim < 1:
        raise ValueError(f"softmax: the input must have at least one axis, received shape {x.shape}")
    return nn.softmax(x, axis=axis)


ALL = {"linear": linear, "relu": relu, "sigmoid": sigmoid, "tanh": tanh, "softmax": softmax}


def get(identifier):
    """An activation function from a name, a function, or None (meaning linear).

    Raises:
        ValueError: for a name tinyvid does not know, listing the names it does know.
    """
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier in ALL:
        return ALL[identifier]
    raise ValueError(
        f"Could not interpret activation function identifier: {identifier!r}. "
        f"Known activations: {', '.join(sorted(ALL))}")


def apply_to_own_output(activation, y):
    """`activation(y)` for a layer's own output, the array its op has just made (Dense, Conv2D).

    relu then writes over y instead of making a second array: y is the layer's alone, and
    relu's backward needs only its result, so the pre-activation values are not needed again.
    Without this, the graph would keep both arrays of every such layer alive until backward
    (at 128x128 frames, batch 64, the document's model holds 382 MB more). Any other
    activation is applied as it is.
    """
    if activation is relu:
        return ops.ReLU.apply(y, inplace=True)
    return activation(y)


def serialize(fn):
    """The name of an activation function ('relu'), or its __name__ for one of your own."""
    return getattr(fn, "__name__", repr(fn))
