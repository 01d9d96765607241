"""The engine's two switches: graph recording (`no_grad`) and the NaN/inf checks (`detect_anomaly`).

Both are per thread, as PyTorch's are: one thread predicting under `no_grad()` must not stop
another thread's training from recording its graph.
"""

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _Switches(threading.local):
    """Each thread starts with recording on and the anomaly checks off."""

    grad_enabled = True
    anomaly_mode = False


switches = _Switches()


class no_grad:
    """Context manager (and decorator) under which no op records a graph, in this thread.

    Use it for inference and for optimizer updates: outputs have `requires_grad=False` and no
    `ctx`, so nothing is kept alive for a backward pass that will never come.

        with tinyvid.no_grad():
            y = model(x)
    """

    def __enter__(self) -> None:
        self._previous = switches.grad_enabled
        switches.grad_enabled = False

    def __exit__(self, *exc_info: object) -> None:
        switches.grad_enabled = self._previous

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with no_grad():
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def is_grad_enabled() -> bool:
    """True unless this thread is inside a `no_grad()` block."""
    return switches.grad_enabled


def is_anomaly_enabled() -> bool:
    """True inside `tinyvid.debug.detect_anomaly()` (in this thread)."""
    return switches.anomaly_mode
