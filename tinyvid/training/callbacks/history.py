"""History: the callback `fit` always adds; it records each epoch's logs and `fit` returns it."""

from __future__ import annotations

from tinyvid.training.callbacks.base import Callback


class History(Callback):
    """Records each epoch's logs: `history.history` is `{'loss': [...], 'accuracy': [...], ...}`,
    one value per epoch; `history.epoch` lists the epoch indices. `fit` returns it."""

    def __init__(self):
        super().__init__()
        self.history, self.epoch = {}, []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self


