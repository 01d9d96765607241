"""Optimizers: the step that changes the weights theta to lower the loss J (the document, 3.3).

One optimizer per file, in order of increasing complexity, as the first tinygrad sorted its
optim.py:

    base.py        Optimizer: the learning rate (or a schedule), clipping, weight decay, state
    gd.py          GD       theta <- theta - alpha * grad J(theta)   on the whole training set
    sgd.py         SGD      the same on random mini-batches (3.3.2), optionally with momentum
    rmsprop.py     RMSprop  steps divided by a running root mean square of g
    adam.py        Adam     per-weight steps from running means of g and g^2; AdamW adds
                            decoupled weight decay
    schedules.py   learning rates that follow the step count (ExponentialDecay, ...)

The model calls `optimizer.apply_gradients(zip(grads, weights))` once per batch, after
`loss.backward()` has put grad J(theta) in each weight's `.grad`. Updates happen in place on the
weights' NumPy arrays (float32 stays float32); Adam and RMSprop run as one fused Numba loop
(kernels/optim.py), because the document's model has a 14.7M-weight kernel.

Every optimizer takes `learning_rate=` (alpha), or `lr=`, the older name the source document
uses (Keras 3 itself no longer accepts `lr`).
"""

from __future__ import annotations

from typing import Any

from tinyvid.training.optimizers import schedules
from tinyvid.training.optimizers.adam import Adam, AdamW
from tinyvid.training.optimizers.base import Optimizer
from tinyvid.training.optimizers.gd import GD
from tinyvid.training.optimizers.rmsprop import RMSprop
from tinyvid.training.optimizers.sgd import SGD

__all__ = [
    "Optimizer", "GD", "SGD", "RMSprop", "Adam", "AdamW", "schedules", "ALL", "get",
    "serialize", "deserialize",
]

ALL: dict[str, type[Optimizer]] = {
    "gd": GD, "sgd": SGD, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW,
}
_BY_CLASS_NAME = {cls.__name__: cls for cls in ALL.values()}


def get(identifier: Any) -> Optimizer:
    """An optimizer from a name ('adam', 'sgd', 'rmsprop', ...; any case), an Optimizer
    (returned as is), an Optimizer class, or a serialized dict (see `deserialize`).

    Raises:
        ValueError: for anything else, listing the names tinyvid knows.
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    if isinstance(identifier, str) and identifier.lower() in ALL:
        return ALL[identifier.lower()]()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}. "
                     f"Known optimizers: {', '.join(sorted(ALL))}")


def serialize(optimizer: Optimizer) -> dict[str, Any]:
    """Keras's serialized form: `{'module': 'keras.optimizers', 'class_name': 'Adam',
    'config': optimizer.get_config(), 'registered_name': None}` (GD, which Keras lacks, under
    the module 'tinyvid.optimizers')."""
    if not isinstance(optimizer, Optimizer):
        raise ValueError(f"optimizers.serialize: expected an Optimizer, received {optimizer!r}")
    module = "tinyvid.optimizers" if isinstance(optimizer, GD) else "keras.optimizers"
    return {"module": module, "class_name": type(optimizer).__name__,
            "config": optimizer.get_config(), "registered_name": None}


def deserialize(config: dict[str, Any]) -> Optimizer:
    """An optimizer from `serialize`'s form, as Keras writes it in a .keras file's config."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"optimizers.deserialize: expected a dict with 'class_name' and "
                         f"'config', received {config!r}")
    class_name = config["class_name"]
    cls = _BY_CLASS_NAME.get(class_name) or ALL.get(str(class_name).lower())
    if cls is None:
        raise ValueError(f"optimizers.deserialize: unknown optimizer '{class_name}'. "
                         f"Known optimizers: {', '.join(sorted(_BY_CLASS_NAME))}")
    return cls.from_config(dict(config.get("config", {})))
