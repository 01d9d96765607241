"""Using every core: split a kernel's work into parts, one per core, and run them side by side.

The big kernels (conv2d, dense) are loops of our own (im2col, col2im: Numba) around matrix
products (BLAS). Each part is one core's share of the batch (conv2d) or of the long axis of a
matrix (dense): it runs the loops and the products of its share alone, in its own thread, with
BLAS single-threaded meanwhile. The threads need no lock: numpy releases Python's GIL inside
BLAS, and the Numba loops are compiled with `nogil=True`.

    def work(part):                           # e.g. images [lo, hi) of the batch
        ... im2col, matrix product, ...       # one core's share, start to finish
    run_parts(work, parts)                    # part 0 here, parts 1.. in pool threads

Why not let BLAS spread each product over the cores, as numpy does by default? OpenBLAS splits
each product between its threads, which then wait for each other by spinning, many times per
product; when another program takes a core, the waits stall the whole step. Split by us, each
thread finishes its own share whatever the other does, there is no hand-over between Numba's
threads and BLAS's at every chunk, and each core keeps its own images in its own cache.

One thing can still slow the shares down: BLAS threads of your own. After a product numpy ran on
several threads (your own `a @ b` on big arrays), OpenBLAS's idle threads spin for a while before
they sleep, taking cores from the shares. tinyvid's own products never wake them: big ones run
here on one thread. docs/performance.md has the measurements behind all of this.

Small work stays in the calling thread as one part (a hand-over to a thread costs more than it
saves), and so does everything when the kernels run as plain Python (`jit=False` or
NUMBA_DISABLE_JIT=1): the same parts, one after the other, so a debugger steps through them and
the numbers are the same. The parts never depend on the number of threads, only on `NUM_CORES`.
"""

import contextlib
import multiprocessing
import multiprocessing.context
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numba

NUM_CORES: int = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]
"""How many parts big work is split into: numba's thread count (NUMBA_NUM_THREADS, by default the
number of CPUs)."""

MIN_PART_FLOPS = 20_000_000
"""Work of fewer floating-point operations than this per part is not split: handing it to a
thread would cost about as much as it saves."""

PARALLEL_LAUNCH = threading.Lock()
"""Held while a `parallel=True` kernel (pooling, Adam) runs. Numba's workqueue threading layer,
which tinyvid picks for training (process.py), aborts the whole process when two Python threads
launch parallel kernels at once (say, two models predicting in a web server's threads); with
this lock the second launch waits for the first instead. The kernels that run_parts spreads over
threads (im2col, col2im) are serial `nogil` loops and need no lock."""

T = TypeVar("T")

_pool: ThreadPoolExecutor | None = None
_pool_pid: int | None = None
_blas: Any = None
_blas_lock = threading.Lock()  # guards the three names below
_blas_users = 0  # threads inside run_parts with BLAS limited to one thread
_blas_limiter: Any = None  # threadpoolctl's record of the limits to restore, while users > 0


def num_parts(flops: int, items: int) -> int:
    """How many parts to split `items` (images, rows) worth `flops` in all into: 1 .. NUM_CORES."""
    return int(max(1, min(NUM_CORES, items, flops // MIN_PART_FLOPS)))


def bounds(n: int, parts: int) -> list[tuple[int, int]]:
    """`parts` contiguous ranges (lo, hi) covering range(n), as equal as can be."""
    return [(n * p // parts, n * (p + 1) // parts) for p in range(parts)]


def run_parts(work: Callable[[int], T], parts: int, jit: bool = True) -> list[T]:
    """Call `work(p)` for p in range(parts) and return the results in order.

    Side by side, one thread per part with BLAS single-threaded, when jit and parts > 1 (and
    BLAS's thread count can be set, through threadpoolctl); otherwise one after the other in
    this thread, with BLAS using its own threads.
    """
    if parts == 1 or not jit or os.environ.get("NUMBA_DISABLE_JIT") == "1":
        return [work(p) for p in range(parts)]
    blas = _blas_controller()
    if blas is None:  # a BLAS we cannot limit: let it use the cores, one part after the other
        return [work(p) for p in range(parts)]
    with _single_threaded_blas(blas):
        others = [_thread_pool().submit(work, p) for p in range(1, parts)]
        first = work(0)  # this thread takes part 0 instead of waiting idle
        return [first] + [future.result() for future in others]


@contextlib.contextmanager
def _single_threaded_blas(blas: Any) -> Iterator[None]:
    """BLAS on one thread while any thread is inside, the user's setting back when the last leaves.

    BLAS's thread count is one setting for the whole process, so nested `with blas.limit(...)`
    blocks from several threads would restore in the wrong order: thread A saves 2 and sets 1,
    B saves 1, A leaves (2), B leaves (1), and BLAS stays on one thread for good. Counting the
    threads inside instead, the first one in saves the setting and the last one out restores it.
    """
    global _blas_users, _blas_limiter
    with _blas_lock:
        if _blas_users == 0:
            _release_blas_control()
            _blas_limiter = blas.limit(limits=1)
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0:
                _release_blas_control()
                _blas_limiter.restore_original_limits()
                _release_blas_control()
                _blas_limiter = None


def _release_blas_control() -> None:
    """Let this thread set OpenBLAS's thread count, whichever thread set it last.

    threadpoolctl 3.8 lets only the thread that last changed OpenBLAS's limit (while it lives)
    change it again; a change from any other thread is silently skipped. Here the first thread
    in sets the limit and the last one out restores it, which may be another thread: without
    this, BLAS could stay on one thread for good. The lock above keeps these steps together;
    older threadpoolctl versions have no such rule (and no such method).
    """
    try:
        from threadpoolctl import OpenBLASController
    except ImportError:
        return
    clear = getattr(OpenBLASController, "clear_controlling_thread", None)
    if clear is not None:
        clear(force=True)


def process_context() -> multiprocessing.context.BaseContext:
    """How tinyvid starts processes of its own (data-loading workers): "forkserver" where the
    platform has it, else "spawn"; never a plain fork.

    Forking copies only the thread that forks. If another thread is inside a multi-threaded BLAS
    product at that moment (or holds BLAS's or malloc's locks), the child inherits locks nobody
    will release, and OpenBLAS's fork handler waits for its threads: parent and child can hang
    for good (plain NumPy does the same). A forkserver or spawned child starts from a fresh
    interpreter instead. Use it as `process_context().Process(...)` or `.Pool(...)`.
    """
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _thread_pool():
    """The pool of NUM_CORES - 1 threads, made on first use, and made again in a forked child
    process (a fork copies the pool but not its threads: work sent to it would wait forever)."""
    global _pool, _pool_pid
    if _pool is None or _pool_pid != os.getpid():
        _pool = ThreadPoolExecutor(max_workers=max(1, NUM_CORES - 1),
                                   thread_name_prefix="tinyvid-core")
        _pool_pid = os.getpid()
    return _pool


def _blas_controller() -> Any:
    """threadpoolctl's handle on the BLAS numpy loaded, or None if there is none it can set."""
    global _blas
    with _blas_lock:
        if _blas is None:
            try:
                from threadpoolctl import ThreadpoolController
            except ImportError:
                return None
            _blas = ThreadpoolController().select(user_api="blas")  # numpy is imported by now
    return _blas if _blas.lib_controllers else None
