"""When one rank fails, end the whole MPI job instead of leaving the others in an Allreduce.

A rank that raises and exits would leave every other rank waiting for it forever: MPI's
collective calls have no timeout, and mpiexec waits for all of its processes. So, while a
DataParallel is active, an unhandled exception prints its traceback and the rank, then calls
MPI_Abort, which makes mpiexec end every rank. (A rank killed outright is noticed by mpiexec
itself; a rank that hangs, or a lost machine, by DataParallel's timeout.)
"""

from __future__ import annotations

import sys
import time
import types
from typing import Any, NoReturn

_original_excepthook = None
_FORWARD_SECONDS = 0.5


def abort(comm: Any, message: str, status: int = 1) -> NoReturn:
    """Print `message` (prefixed "tinyvid.distribution: ") on stderr and end every rank."""
    print(f"tinyvid.distribution: {message}", file=sys.stderr, flush=True)
    sys.stdout.flush()
    # Give mpiexec a moment to forward the message: Abort ends every process of the job at once,
    # and a line still in transit to mpiexec would be lost with them.
    time.sleep(_FORWARD_SECONDS)
    comm.Abort(status)
    raise SystemExit(status)  # not reached: Abort ends the process


def install_excepthook(comm: Any, rank: int, size: int) -> None:
    """Make an unhandled exception on this rank end the job with a message naming the rank."""
    global _original_excepthook
    if _original_excepthook is None:
        _original_excepthook = sys.excepthook

    def abort_the_job(kind: type[BaseException], error: BaseException,
                      traceback: types.TracebackType | None) -> None:
        if _original_excepthook is not None:
            _original_excepthook(kind, error, traceback)
        abort(comm, f"rank {rank} of {size} failed with {kind.__name__}: {error}; ending the "
                    f"job so the other ranks do not wait for it")

    sys.excepthook = abort_the_job


def uninstall_excepthook() -> None:
    """Put back the excepthook that was there before `install_excepthook`."""
    global _original_excepthook
    if _original_excepthook is not None:
        sys.excepthook = _original_excepthook
        _original_excepthook = None
_FORWARD_SECONDS = 0.5
