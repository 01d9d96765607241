"""TerminateOnNaN: stop training as soon as the loss is NaN or infinite."""

from __future__ import annotations

import math
from typing import Any

from tinyvid.training.callbacks.base import Callback


class TerminateOnNaN(Callback):
    """After each batch, if the running loss is NaN or infinite: stop training (at once: `fit`
    ends after that batch), or raise.

    Args:
        raise_error: raise a RuntimeError instead of stopping quietly.
    """

    def __init__(self, raise_error: bool = False) -> None:
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(loss):
            return
        if self.raise_error:
            raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                               f"Terminating training immediately.")
        print(f"Batch {batch}: Invalid loss, terminating training")
        self.model.stop_training = True
