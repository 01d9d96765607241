"""Callback, the base class of every callback, and CallbackList, which runs them for `fit`.

`fit` calls, in this order:

    on_train_begin()
    for each epoch:   on_epoch_begin(epoch)
        for each batch:   on_train_batch_begin(batch) ... on_train_batch_end(batch, logs)
        on_epoch_end(epoch, logs)       logs: {'loss': ..., 'accuracy': ..., 'val_loss': ...}
    on_train_end()

`logs` hold the running means over the epoch so far (Keras's stateful metrics). A callback
reaches the model as `self.model`; setting `self.model.stop_training = True` ends `fit` after
the current epoch (or batch). A callback that sets `self.model._initial_epoch` in
on_train_begin makes `fit` start at that epoch (BackupAndRestore does, as in Keras).
"""

from __future__ import annotations

from collections.abc import Callable


class Callback:
    """Base class: every hook does nothing. Override the ones you need.

    Under data-parallel training (tinyvid.distribution) every rank runs the callbacks with the
    same, globally reduced logs, except those marked `chief_only = True` (they print or write
    files), which run on rank 0 alone; rank 0's `stop_training` is every rank's.
    """

    chief_only = False

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_batch_begin(self, batch, logs=None): pass
    def on_batch_end(self, batch, logs=None): pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs)  # Keras's older name, kept as the default

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs)


# --- "did the monitored quantity improve?", shared by the callbacks that watch a metric -------


def resolve_mode(monitor: str, mode: str, caller: str) -> str:
    """'min' (lower is better) or 'max'; 'auto' is 'max' for accuracies, precision, recall and
    AUC, else 'min'."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{caller}: mode must be 'auto', 'min' or 'max', received mode={mode!r}")
    if mode == "auto":
        maximized = ("acc", "accuracy", "auc", "precision", "recall")
        return "max" if monitor.endswith(maximized) else "min"
    return mode


def is_better(mode: str) -> Callable[..., bool]:
    """A function (current, best, min_delta) -> bool: did the monitored quantity improve?"""
    if mode == "max":
        return lambda current, best, delta=0.0: current - delta > best
    return lambda current, best, delta=0.0: current + delta < best
