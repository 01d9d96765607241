"""Callbacks: code `fit` runs at fixed points of training, with Keras's hooks and names.

`fit` calls, in this order:

    on_train_begin()
    for each epoch:   on_epoch_begin(epoch)
        for each batch:   on_train_batch_begin(batch) ... on_train_batch_end(batch, logs)
        on_epoch_end(epoch, logs)       logs: {'loss': ..., 'accuracy': ..., 'val_loss': ...}
    on_train_end()

`logs` hold the running means over the epoch so far (Keras's stateful metrics). A callback
reaches the model as `self.model`; setting `self.model.stop_training = True` ends `fit` after
the current epoch. `fit` always adds a `History` (returned by fit) and, unless verbose=0, a
`ProgbarLogger` (the progress bar).

Under data-parallel training (tinyvid.distribution) every rank runs the callbacks with the same,
globally reduced logs, except those marked `chief_only = True` (ProgbarLogger, ModelCheckpoint:
they print or write files), which run on rank 0 alone; rank 0's `stop_training` is every rank's.
"""

import math
import sys
import time
import warnings

from tinyvid import distribution

__all__ = [
    "Callback", "CallbackList", "History", "Progbar", "ProgbarLogger", "EarlyStopping",
    "ModelCheckpoint",
]


class Callback:
    """Base class: every hook does nothing. Override the ones you need."""

    # True for a callback that prints or writes files: under tinyvid.distribution it runs on
    # rank 0 only (the other ranks would print the same lines and write the same files).
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
        if not distribution.is_chief():  # distribution: rank 0 alone prints and writes files
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


# --- the progress bar ----------------------------------------------------------------------------


class Progbar:
    """Keras's progress line, e.g.

        12/12 ━━━━━━━━━━━━━━━━━━━━ 3s 250ms/step - accuracy: 0.5000 - loss: 1.2000


    verbose=1 on a terminal redraws the line in place (with '\\r') as batches finish; when stdout
    is not a terminal (a log file, CI) the line is printed once, when complete. verbose=2 prints
    only the complete line, in Keras's shorter form (`12/12 - 3s - 250ms/step - ...`).
    """

    def __init__(self, target, verbose=1, width=20, interval=0.05):
        self.target, self.verbose, self.width, self.interval = target, verbose, width, interval
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self._interactive = hasattr(sys.stdout, "isatty") and sys.stdout.isatty()
        self._silent = not distribution.is_chief()  # distribution: rank 0 alone prints

    def update(self, current, values=(), finalize=False):
        if self._silent:
            return
        now = time.perf_counter()
        elapsed = now - self.start
        per_step = elapsed / max(current, 1)
        metrics = "".join(f" - {name}: {_format_value(value)}" for name, value in values)
        count = f"{current:>{len(str(self.target))}}/{self.target}"
        if self.verbose == 2:
            if finalize:
                print(f"{count} - {elapsed:.0f}s - {_format_per_step(per_step)}{metrics}", flush=True)
            return
        if not finalize and (not self._interactive or now - self._last_draw < self.interval):
            return
        done = int(self.width * current / self.target) if self.target else self.width
        bar = "━" * done + ("─" if self._interactive else "━") * (self.width - done)
        clock = f"{elapsed:.0f}s" if finalize else _format_eta(per_step * (self.target - current))
        line = f"{count} {bar} {clock} {_format_per_step(per_step)}{metrics}"
        if self._interactive:
            # \r returns to the start of the line; \x1b[K clears what a longer line left behind
            print("\r" + line + "\x1b[K", end="\n" if finalize else "", flush=True)
        else:
            print(line, flush=True)
        self._last_draw = now


def _format_value(value):
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


def _format_per_step(seconds):
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


def _format_eta(seconds):
    if seconds > 3600:
        return f"{seconds // 3600:.0f}:{(seconds % 3600) // 60:02.0f}:{seconds % 60:02.0f}"
    if seconds > 60:
        return f"{seconds // 60:.0f}:{seconds % 60:02.0f}"
    return f"{seconds:.0f}s"


class ProgbarLogger(Callback):
    """Prints `Epoch 1/10` and the progress bar, with the running loss and metrics."""

    chief_only = True

    def on_epoch_begin(self, epoch, logs=None):
        if self.params["epochs"] > 1:
            print(f"Epoch {epoch + 1}/{self.params['epochs']}", flush=True)
        self.progbar = Progbar(self.params["steps"], verbose=self.params["verbose"])

    def on_train_batch_end(self, batch, logs=None):
        self.progbar.update(batch + 1, sorted((logs or {}).items()))

    def on_epoch_end(self, epoch, logs=None):
        items = sorted((logs or {}).items(), key=lambda kv: (kv[0].startswith("val_"), kv[0]))
        self.progbar.update(self.params["steps"], items, finalize=True)


# --- stopping early and saving the best weights --------------------------------------------------


def _resolve_mode(monitor, mode, caller):
    """'min' (lower is better) or 'max'; 'auto' is 'max' for accuracies, else 'min'."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{caller}: mode must be 'auto', 'min' or 'max', received mode={mode!r}")
    if mode == "auto":
        return "max" if monitor.endswith(("acc", "accuracy", "auc")) else "min"
    return mode


def _is_better(mode):
    """A function (current, best, min_delta) -> bool: did the monitored quantity improve?"""
    if mode == "max":
        return lambda current, best, delta=0.0: current - delta > best
    return lambda current, best, delta=0.0: current + delta < best


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
        self._better = _is_better(_resolve_mode(monitor, mode, "EarlyStopping"))

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
        verbose = self.verbose and distribution.is_chief()  # distribution: rank 0 alone prints
        if self.stopped_epoch > 0 and verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if verbose:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the model's weights after each epoch (with `model.save_weights`, an .npz file).

    Args:
        filepath: where to save; may contain `{epoch}` (1-based, as in Keras) and any key of the
            logs, e.g. 'ckpt-{epoch:02d}-{val_loss:.2f}.weights.npz'.
        monitor: the quantity that decides "best", e.g. 'val_loss'.
        save_best_only: save only when `monitor` improved on the best so far.
        mode: 'min', 'max' or 'auto' (max for accuracies, else min).
        verbose: 1 prints a line for each save.

    Under tinyvid.distribution only rank 0 saves (the weights are the same on every rank).
    """

    chief_only = True

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, mode="auto"):
        super().__init__()
        self.filepath, self.monitor, self.verbose = str(filepath), monitor, verbose
        self.save_best_only = save_best_only
        self.mode = _resolve_mode(monitor, mode, "ModelCheckpoint")
        self._better = _is_better(self.mode)
        self.best = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(f"Can save best model only with {self.monitor} available, skipping.",
                              stacklevel=2)
                return
            if self.best is not None and not self._better(current, self.best):
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
        self.model.save_weights(path)
