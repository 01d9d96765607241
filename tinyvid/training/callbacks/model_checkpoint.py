"""ModelCheckpoint: save the model (or its weights) every epoch or every few batches."""

from __future__ import annotations

import math
import os
import warnings
from typing import Any

from tinyvid.training.callbacks.base import Callback, is_better, resolve_mode
from tinyvid.training.checks import MissingLogKeyError, format_log_path

FilepathFormatError = MissingLogKeyError  # the name this module gave it first


def check_save_freq(save_freq: Any, caller: str) -> None:
    if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int)
                                 or save_freq < 1):
        raise ValueError(f"{caller}: invalid value for argument `save_freq`: expected 'epoch' or "
                         f"a positive number of batches. Received: save_freq={save_freq!r}")


class ModelCheckpoint(Callback):
    """Save the model after each epoch, or every `save_freq` batches.

    Args:
        filepath: where to save; may contain `{epoch}` (1-based, as in Keras), `{batch}` (1-based,
            with an integer save_freq) and any key of the logs, e.g.
            'ckpt-{epoch:02d}-{val_loss:.2f}.weights.npz'. A key the logs lack raises an error
            naming it.
        monitor: the quantity that decides "best", e.g. 'val_loss'.
        verbose: 1 prints a line for each save.
        save_best_only: save only when `monitor` improved on the best so far.
        save_weights_only: True saves the weights alone (`model.save_weights`). False (the
            default) saves the whole model with `model.save` when the path ends in '.keras';
            any other path gets the weights (Keras would refuse it).
        mode: 'min', 'max' or 'auto' (max for accuracies, else min).
        save_freq: 'epoch' (after every epoch), or an integer: after every that many batches.
        initial_value_threshold: with save_best_only, the value to beat at first.
    """

    chief_only = True  # under DataParallel rank 0 alone writes (the weights agree)

    def __init__(self, filepath: str | os.PathLike[str], monitor: str = "val_loss",
                 verbose: int = 0, save_best_only: bool = False, save_weights_only: bool = False,
                 mode: str = "auto", save_freq: str | int = "epoch",
                 initial_value_threshold: float | None = None) -> None:
        super().__init__()
        self.filepath, self.monitor, self.verbose = os.fspath(filepath), monitor, verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        check_save_freq(save_freq, "ModelCheckpoint")
        self.save_freq = save_freq
        self.mode = resolve_mode(monitor, mode, "ModelCheckpoint")
        self._better = is_better(self.mode)
        self.best = initial_value_threshold
        self._current_epoch = 0
        self._batches_since_save = 0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._current_epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self.save_freq == "epoch":
            return
        self._batches_since_save += 1
        if isinstance(self.save_freq, int) and self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._current_epoch, batch, logs or {})

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.save_freq == "epoch":
            self._save(epoch, None, logs or {})

    def format_path(self, epoch: int, batch: int | None, logs: dict[str, Any]) -> str:
        """The filepath with its keys filled in from `epoch`, `batch` and the logs."""
        values = dict(logs)
        if batch is not None and "batch" not in logs:
            values["batch"] = batch + 1
        return format_log_path(self.filepath, epoch + 1, values, "ModelCheckpoint")

    def _save(self, epoch: int, batch: int | None, logs: dict[str, Any]) -> None:
        path = self.format_path(epoch, batch, logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(f"Can save best model only with {self.monitor} available, "
                              f"skipping.", stacklevel=2)
                return
            if self.best is not None and not self._better(current, self.best):
                if self.verbose:
                    print(f"Epoch {epoch + 1}: {self.monitor} did not improve from "
                          f"{self.best:.5f}")
                return
            if self.verbose:
                previous = self.best
                if previous is None:
                    previous = -math.inf if self.mode == "max" else math.inf
                print(f"Epoch {epoch + 1}: {self.monitor} improved from {previous:.5f} to "
                      f"{current:.5f}, saving model to {path}")
            self.best = current
        elif self.verbose:
            print(f"Epoch {epoch + 1}: saving model to {path}")
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only or not path.endswith(".keras"):
            self.model.save_weights(path)
        elif hasattr(self.model, "save"):
            self.model.save(path)
        else:
            raise ValueError(f"ModelCheckpoint: '{path}' is a whole-model (.keras) file, but this "
                             f"model has no `save`; use save_weights_only=True and a weights file")
