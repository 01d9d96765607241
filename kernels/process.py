"""The two process-wide settings that make training fast, applied only when asked for.

Importing tinyvid changes nothing outside tinyvid. Training goes faster with two settings that
hold for the whole process, so `fit`, the `tinyvid` command and the benchmarks ask for them when
training starts, through `tune_for_training()`:

1. numba's threading layer 'workqueue' for the `parallel=True` kernels (pooling, Adam). numba's
   default, 'omp' when an OpenMP library is found, runs them on libgomp's pool, whose idle
   threads spin; PyTorch loads the same libgomp, so after `import torch` they fight OpenBLAS's
   threads for the cores. workqueue parks idle threads instead. It takes effect only if no
   parallel numba kernel has run yet in this process, and it is skipped if you chose a layer
   yourself (NUMBA_THREADING_LAYER).
2. glibc's malloc keeps freed big arrays for the next step (memory.py) instead of handing them
   back and taking page faults for fresh ones. Freed memory then stays with the process.

Turn both off for this process with `set_training_tuning(False)` before training; `fit` then
changes nothing process-wide. docs/performance.md has the measurements behind both.
"""

import os

import numba

from .memory import keep_freed_memory

_enabled = True
_applied: dict[str, str] | None = None


def set_training_tuning(enabled: bool) -> None:
    """Allow (True, the default) or forbid `tune_for_training()` to change this process."""
    global _enabled
    _enabled = bool(enabled)


def training_tuning_enabled() -> bool:
    """True unless `set_training_tuning(False)` was called."""
    return _enabled


def is_tuned() -> bool:
    """True once `tune_for_training()` has changed this process."""
    return _applied is not None


def tune_for_training() -> dict[str, str]:
    """Apply the two settings above, once per process; return what was done, by setting.

    Returns:
        `{}` when tuning is turned off; else `{'threading_layer': ..., 'malloc': ...}`, each
        value saying what happened ("workqueue", "yours: omp", "kept freed memory", ...).
    """
    global _applied
    if not _enabled:
        return {}
    if _applied is not None:
        return dict(_applied)
    applied = {}
    chosen = os.environ.get("NUMBA_THREADING_LAYER")
    if chosen:
        applied["threading_layer"] = f"yours: {chosen}"
    else:
        os.environ["NUMBA_THREADING_LAYER"] = "workqueue"  # numba re-reads it on each compile
        # and a cached kernel's first launch reads this (numba.config is filled in at run time)
        numba.config.THREADING_LAYER = "workqueue"  # type: ignore[attr-defined]
        applied["threading_layer"] = "workqueue"
    kept = keep_freed_memory()
    applied["malloc"] = "keeps freed memory" if kept else "defaults (not glibc, or opted out)"
    _applied = applied
    return dict(applied)


def describe_tuning(applied: dict[str, str]) -> str:
    """One line for `fit`'s verbose output, saying what `tune_for_training` changed."""
    if not applied:
        return "tinyvid: training tuning is off: the process keeps numba's and malloc's defaults"
    return (f"tinyvid: tuned this process for training (numba threading layer: "
            f"{applied['threading_layer']}; malloc: {applied['malloc']}); "
            f"tinyvid.kernels.set_training_tuning(False) turns this off")
