"""LambdaCallback: a callback made of plain functions, one per hook."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tinyvid.training.callbacks.base import Callback


class LambdaCallback(Callback):
    """A callback from functions: `on_epoch_begin(epoch, logs)`, `on_epoch_end(epoch, logs)`,
    `on_train_begin(logs)`, `on_train_end(logs)`, `on_train_batch_begin(batch, logs)`,
    `on_train_batch_end(batch, logs)`; the hooks not given do nothing.

        LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs["loss"]))
    """

    def __init__(self, on_epoch_begin: Callable[..., Any] | None = None,
                 on_epoch_end: Callable[..., Any] | None = None,
                 on_train_begin: Callable[..., Any] | None = None,
                 on_train_end: Callable[..., Any] | None = None,
                 on_train_batch_begin: Callable[..., Any] | None = None,
                 on_train_batch_end: Callable[..., Any] | None = None, **kwargs: Any) -> None:
        super().__init__()
        self.__dict__.update(kwargs)  # Keras keeps extra keyword arguments as attributes
        hooks = {"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end,
                 "on_train_begin": on_train_begin, "on_train_end": on_train_end,
                 "on_train_batch_begin": on_train_batch_begin,
                 "on_train_batch_end": on_train_batch_end}
        for hook, function in hooks.items():
            if function is not None:
                if not callable(function):
                    raise ValueError(f"LambdaCallback: invalid value for argument `{hook}`: "
                                     f"expected a function. Received: {hook}={function!r}")
                setattr(self, hook, function)
