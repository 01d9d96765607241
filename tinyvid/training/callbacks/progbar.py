"""The progress bar: Progbar draws Keras's progress line; ProgbarLogger is the callback `fit`
adds unless verbose=0."""

from __future__ import annotations

import sys
import time

from tinyvid.training.callbacks.base import Callback


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

    def update(self, current, values=(), finalize=False):
        now = time.perf_counter()
        target = current if self.target is None else self.target  # None: a generator's epoch
        elapsed = now - self.start
        per_step = elapsed / max(current, 1)
        metrics = "".join(f" - {name}: {_format_value(value)}" for name, value in values)
        count = f"{current:>{len(str(target))}}/{target}"
        if self.verbose == 2:
            if finalize:
                print(f"{count} - {elapsed:.0f}s - {_format_per_step(per_step)}{metrics}", flush=True)
            return
        if not finalize and (not self._interactive or now - self._last_draw < self.interval):
            return
        done = int(self.width * current / target) if target else self.width
        bar = "━" * done + ("─" if self._interactive else "━") * (self.width - done)
        clock = f"{elapsed:.0f}s" if finalize else _format_eta(per_step * (target - current))
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

    def on_epoch_begin(self, epoch, logs=None):
        if self.params["epochs"] > 1:
            print(f"Epoch {epoch + 1}/{self.params['epochs']}", flush=True)
        self.progbar = Progbar(self.params["steps"], verbose=self.params["verbose"])

    def on_train_batch_end(self, batch, logs=None):
        self.seen = batch + 1
        self.progbar.update(batch + 1, sorted((logs or {}).items()))

    def on_epoch_end(self, epoch, logs=None):
        items = sorted((logs or {}).items(), key=lambda kv: (kv[0].startswith("val_"), kv[0]))
        self.progbar.update(self.params["steps"] or getattr(self, "seen", 0), items, finalize=True)


