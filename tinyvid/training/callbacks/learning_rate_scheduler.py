"""LearningRateScheduler: set the optimizer's learning rate at the start of each epoch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tinyvid.training.callbacks.base import Callback


class LearningRateScheduler(Callback):
    """At the start of each epoch, alpha <- schedule(epoch, alpha) (or schedule(epoch)).

    Args:
        schedule: a function (epoch, learning_rate) -> new learning rate (a float), epoch
            counted from 0; a function of the epoch alone works too (Keras's older form).
        verbose: 1 prints the new learning rate each epoch.

    The epoch logs get a 'learning_rate' entry, as in Keras.
    """

    def __init__(self, schedule: Callable[..., float], verbose: int = 0) -> None:
        super().__init__()
        if not callable(schedule):
            raise ValueError(f"LearningRateScheduler: invalid value for argument `schedule`: "
                             f"expected a function (epoch, learning_rate) -> float. "
                             f"Received: schedule={schedule!r}")
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        optimizer = self.model.optimizer
        try:
            learning_rate = self.schedule(epoch, float(optimizer.learning_rate))
        except TypeError:  # a schedule of the epoch alone
            learning_rate = self.schedule(epoch)
        if isinstance(learning_rate, bool) or not isinstance(
                learning_rate, (float, int, np.floating, np.integer)):
            raise ValueError(f"LearningRateScheduler: the output of the `schedule` function should "
                             f"be a float. Got: {learning_rate!r}")
        optimizer.learning_rate = float(learning_rate)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                  f"{float(learning_rate)}.")

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)
