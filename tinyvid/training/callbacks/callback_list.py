"""CallbackList: the callbacks of one `fit`, run in order, with History and the progress bar."""

from __future__ import annotations

from tinyvid import distribution
from tinyvid.training.callbacks.base import Callback
from tinyvid.training.callbacks.history import History
from tinyvid.training.callbacks.progbar import ProgbarLogger


class CallbackList(Callback):
    """Runs a list of callbacks in order, adding History (and a ProgbarLogger unless verbose=0)."""

    def __init__(self, callbacks, model, verbose, epochs, steps):
        super().__init__()
        self.callbacks = list(callbacks or [])
        for callback in self.callbacks:
            if not isinstance(callback, Callback):
                raise ValueError(f"callbacks must be tinyvid.callbacks.Callback instances, "
                                 f"received {callback!r}")
        if verbose:
            self.callbacks.insert(0, ProgbarLogger())
        if not distribution.is_chief():  # rank 0 alone prints and writes files
            self.callbacks = [callback for callback in self.callbacks if not callback.chief_only]
        self.history = History()
        self.callbacks.append(self.history)
        for callback in self.callbacks:
            callback.set_model(model)
            callback.set_params({"verbose": verbose, "epochs": epochs, "steps": steps})

    def on_train_begin(self, logs=None):
        for callback in self.callbacks:
            callback.on_train_begin(logs)

    def on_train_end(self, logs=None):
        for callback in self.callbacks:
            callback.on_train_end(logs)

    def on_epoch_begin(self, epoch, logs=None):
        for callback in self.callbacks:
            callback.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        for callback in self.callbacks:
            callback.on_epoch_end(epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        for callback in self.callbacks:
            callback.on_train_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        for callback in self.callbacks:
            callback.on_train_batch_end(batch, logs)
