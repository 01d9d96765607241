"""ReduceLROnPlateau: lower the learning rate when a monitored quantity stops improving."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from tinyvid.training.callbacks.base import Callback, is_better, resolve_mode


class ReduceLROnPlateau(Callback):
    """After `patience` epochs without improvement of `monitor`, alpha <- max(alpha * factor,
    min_lr); then wait `cooldown` epochs before counting again (Keras's rule).

    Args:
        monitor: a key of the epoch logs. Default 'val_loss'.
        factor: the multiplier, < 1. Default 0.1.
        patience: epochs without improvement before reducing. Default 10.
        verbose: 1 prints each reduction.
        mode: 'min', 'max' or 'auto'.
        min_delta: a change smaller than this is no improvement. Default 1e-4.
        cooldown: epochs to wait after a reduction before counting again. Default 0.
        min_lr: the learning rate never goes below this. Default 0.

    The epoch logs get a 'learning_rate' entry, as in Keras.
    """

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10,
                 verbose: int = 0, mode: str = "auto", min_delta: float = 1e-4,
                 cooldown: int = 0, min_lr: float = 0.0) -> None:
        super().__init__()
        if not factor < 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0. "
                             f"Received factor={factor}")
        for argument, value in (("patience", patience), ("cooldown", cooldown)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"ReduceLROnPlateau: invalid value for argument `{argument}`: "
                                 f"expected a number of epochs >= 0. Received: "
                                 f"{argument}={value!r}")
        if not min_lr >= 0:
            raise ValueError(f"ReduceLROnPlateau: invalid value for argument `min_lr`: expected "
                             f"a learning rate >= 0. Received: min_lr={min_lr!r}")
        self.monitor, self.factor, self.patience, self.verbose = monitor, factor, patience, verbose
        self.min_delta, self.cooldown, self.min_lr = abs(min_delta), cooldown, min_lr
        self.mode = resolve_mode(monitor, mode, "ReduceLROnPlateau")
        self._better = is_better(self.mode)
        self._reset()

    def _reset(self) -> None:
        self.best: float | None = None
        self.cooldown_counter, self.wait = 0, 0

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._reset()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = float(optimizer.learning_rate)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Learning rate reduction is conditioned on metric `{self.monitor}` "
                          f"which is not available. Available metrics are: "
                          f"{','.join(logs)}.", stacklevel=2)
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self.best is None or self._better(current, self.best, self.min_delta):
            self.best, self.wait = current, 0
            return
        if self.in_cooldown():
            return
        self.wait += 1
        if self.wait < self.patience:
            return
        old_lr = float(optimizer.learning_rate)
        if old_lr > np.float32(self.min_lr):
            new_lr = max(old_lr * self.factor, self.min_lr)
            optimizer.learning_rate = new_lr
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.")
            self.cooldown_counter, self.wait = self.cooldown, 0
