"""EarlyStopping: stop training when a monitored quantity has stopped improving."""

from __future__ import annotations

import warnings

from tinyvid import distribution
from tinyvid.training.callbacks.base import Callback, is_better, resolve_mode


class EarlyStopping(Callback):
    """Stop training when `monitor` has stopped improving for `patience` epochs.

    Args:
        monitor: a key of the epoch logs, e.g. 'val_loss' (the default) or 'val_accuracy'.
        min_delta: a change smaller than this does not count as an improvement.
        patience: epochs without improvement to wait before stopping.
        mode: 'min' (lower is better), 'max', or 'auto' (max for accuracies, else min).
        restore_best_weights: at the end of training, put back the weights of the best epoch
            (as current Keras does, whether or not training stopped early).
        verbose: 1 prints when it stops and restores.
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 restore_best_weights=False):
        super().__init__()
        self.monitor, self.min_delta, self.patience = monitor, abs(min_delta), patience
        self.verbose, self.restore_best_weights = verbose, restore_best_weights
        self._better = is_better(resolve_mode(monitor, mode, "EarlyStopping"))

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best, self.best_epoch = 0, 0, None, 0
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(f"Early stopping conditioned on metric `{self.monitor}`, which is not "
                          f"available. Available metrics are: {', '.join(logs or {})}", stacklevel=2)
            return
        self.wait += 1
        if self.best is None or self._better(current, self.best, self.min_delta):
            self.best, self.best_epoch, self.wait = current, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        verbose = self.verbose and distribution.is_chief()  # rank 0 alone prints
        if self.stopped_epoch > 0 and verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if verbose:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


