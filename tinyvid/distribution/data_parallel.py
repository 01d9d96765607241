"""DataParallel: one copy of the model on every MPI rank, each rank training on its share.

    mpiexec -n 2 python train.py          # train.py calls set_distribution(DataParallel())

The engine is MPI (through mpi4py, which hands NumPy buffers to MPI without pickling). mpi4py
is imported only when a DataParallel is made, never when tinyvid is imported: importing mpi4py
initialises MPI.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from tinyvid.distribution import faults

__all__ = ["DataParallel", "set_distribution", "distribution", "list_devices"]

INSTALL_HINT = 'pip install -e ".[mpi]"  (mpi4py and the mpich wheel)'

# The variables MPI launchers give each process: MPICH's and Intel MPI's hydra (and Slurm's
# PMI), Open MPI, MVAPICH. They say "launched by mpiexec" without importing mpi4py.
_LAUNCHER_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")


def launched_size() -> int | None:
    """The number of processes mpiexec started, read from the launcher's environment
    variables (PMI_SIZE for MPICH, OMPI_COMM_WORLD_SIZE for Open MPI), or None when this
    process was not started by an MPI launcher. Does not import mpi4py."""
    for name in _LAUNCHER_SIZE_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return None


def _import_mpi() -> Any:
    """mpi4py's MPI module (initialising MPI), or an ImportError saying how to install it."""
    try:
        import mpi4py  # noqa: F401
    except ImportError as error:
        raise ImportError(f"tinyvid.distribution.DataParallel needs mpi4py and an MPI library: "
                          f"{INSTALL_HINT}") from error
    try:
        from mpi4py import MPI
    except RuntimeError as error:
        # mpi4py looks for libmpi under sys.prefix; a venv that borrows another environment's
        # site-packages has the mpich wheel's libmpi beside that environment's mpiexec instead.
        library = _libmpi_beside_mpiexec()
        if library is None or "MPI4PY_LIBMPI" in os.environ:
            raise ImportError(f"mpi4py could not load an MPI library ({error}); "
                              f"{INSTALL_HINT}") from error
        os.environ["MPI4PY_LIBMPI"] = library
        from mpi4py import MPI
    return MPI


def _libmpi_beside_mpiexec() -> str | None:
    mpiexec = (shutil.which("mpiexec", path=os.path.dirname(sys.executable))
               or shutil.which("mpiexec"))
    if mpiexec is None:
        return None
    library_folder = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(mpiexec))), "lib")
    for name in ("libmpi.so.12", "libmpi.so.40", "libmpi.dylib"):  # MPICH's, Open MPI's, macOS
        if os.path.isfile(os.path.join(library_folder, name)):
            return os.path.join(library_folder, name)
    return None


def list_devices(device_type: str | None = None) -> list[str]:
    """The devices a distribution can use, as Keras names them: one "cpu:<rank>" per MPI rank.

    Without an MPI launcher (or with one process) that is ["cpu:0"], and mpi4py is not imported.

    Args:
        device_type: None or "cpu"; tinyvid has no other devices, so "gpu" and "tpu" give [].
    """
    if device_type is not None and device_type.lower() not in ("cpu", "gpu", "tpu"):
        raise ValueError(f"list_devices: invalid value for argument `device_type`: expected "
                         f"None, 'cpu', 'gpu' or 'tpu', received {device_type!r}")
    if device_type is not None and device_type.lower() != "cpu":
        return []
    if (launched_size() or 1) == 1 and "mpi4py.MPI" not in sys.modules:
        return ["cpu:0"]
    size = _import_mpi().COMM_WORLD.Get_size()
    return [f"cpu:{rank}" for rank in range(size)]


class DataParallel:
    """Data parallelism over the MPI ranks, with the semantics of Keras 3's DataParallel.

    Every rank holds the whole model. In `fit`:

    - `batch_size` stays the global batch: rank r of N computes its B / N contiguous rows of
      each batch of B (a VideoFolder's FrameBatches reads only those frames);
    - the weights are broadcast from rank 0 when training starts;
    - after backward() the gradients are averaged over the ranks with one Allreduce of one
      flat buffer per step, each rank's mean gradient weighted by its sample count n_r:

          g = sum_r n_r g_r / sum_r n_r        (= the gradient of the global batch's mean loss)

      so every rank takes the same optimizer step and the weights stay identical unsent;
    - the loss and metrics are reduced as sums of per-sample values and counts, so the progress
      bar, callbacks and History see the global means;
    - only rank 0 prints, saves checkpoints and writes files; EarlyStopping's (and any
      callback's) `stop_training` is taken from rank 0.

    BatchNormalization's statistics are the rank's own (as in Keras and PyTorch without
    SyncBatchNorm): in training each rank normalises by the mean and variance of its own share,
    and updates its own moving averages from them; rank 0's moving averages are the ones
    checkpoints save. One step on N ranks then equals the mean of N one-process gradients, one
    per share, not one gradient of the whole batch.

    While active, an unhandled exception on any rank prints the rank and ends the whole job
    (MPI_Abort), and a rank waiting longer than `timeout` seconds for the others in a collective
    call aborts the job too, so no rank hangs when another has died.

    Args:
        devices: None for every rank, or the list `list_devices()` gives (a subset of ranks
            cannot train alone: all ranks of the job take part).
        timeout: seconds a rank waits in one collective call before it decides another rank has
            died and aborts the job; None waits forever (with MPI's blocking calls, which
            can be a little faster). It must cover the slowest rank's step, including its
            first, which compiles the kernels.
    """

    def __init__(self, devices: list[str] | None = None, timeout: float | None = 600.0) -> None:
        if timeout is not None and (isinstance(timeout, bool) or not timeout > 0):
            raise ValueError(f"DataParallel: invalid value for argument `timeout`: expected a "
                             f"positive number of seconds or None, received {timeout!r}")
        self._mpi = _import_mpi()
        self.comm = self._mpi.COMM_WORLD
        self.rank: int = self.comm.Get_rank()
        self.num_processes: int = self.comm.Get_size()
        every_device = [f"cpu:{rank}" for rank in range(self.num_processes)]
        if devices is not None and sorted(devices) != sorted(every_device):
            raise ValueError(f"DataParallel: invalid value for argument `devices`: expected None "
                             f"or all {self.num_processes} ranks of the job {every_device}, "
                             f"received {devices!r}")
        self.devices = every_device
        self.batch_dim_name = "batch"
        self.timeout = timeout
        self._buffer: np.ndarray | None = None  # the flat gradient buffer, reused every step

    def __repr__(self) -> str:
        return f"<DataParallel rank {self.rank} of {self.num_processes}>"

    @contextlib.contextmanager
    def scope(self) -> Iterator[DataParallel]:
        """`with DataParallel().scope():` makes it the distribution inside the block."""
        previous = _current
        set_distribution(self)
        try:
            yield self
        finally:
            set_distribution(previous)

    # --- the collective calls, each with a deadline -----------------------------------------

    def allreduce_sum(self, buffer: np.ndarray, what: str) -> np.ndarray:
        """Sum `buffer` over the ranks, in place (every rank ends with the sum). With a timeout
        this is a nonblocking Iallreduce polled against it; without, MPI's blocking Allreduce
        (MPICH's blocking algorithms can be faster than its nonblocking ones)."""
        if self.timeout is None:
            self.comm.Allreduce(self._mpi.IN_PLACE, buffer, op=self._mpi.SUM)
        else:
            self._wait(self.comm.Iallreduce(self._mpi.IN_PLACE, buffer, op=self._mpi.SUM), what)
        return buffer

    def broadcast(self, buffer: np.ndarray, what: str) -> np.ndarray:
        """Overwrite `buffer` on every rank with rank 0's, in place."""
        if self.timeout is None:
            self.comm.Bcast(buffer, root=0)
        else:
            self._wait(self.comm.Ibcast(buffer, root=0), what)
        return buffer

    def gradient_buffer(self, size: int, dtype: np.dtype) -> np.ndarray:
        """A flat buffer of `size` elements, allocated once and reused while size and dtype hold."""
        if self._buffer is None or self._buffer.size != size or self._buffer.dtype != dtype:
            self._buffer = np.empty(size, dtype=dtype)
        return self._buffer

    def _wait(self, request: Any, what: str) -> None:
        timeout = self.timeout if self.timeout is not None else float("inf")
        # MPI has no timeout of its own: poll the nonblocking call (Test also drives its
        # progress). Poll without pause at first, as MPI's blocking calls do: a sleep on a busy
        # machine can cost milliseconds, and a big message moves on only while it is polled.
        # After that, sleep a little between polls, leaving the cores to ranks still computing.
        now = time.monotonic()
        deadline, spin_until = now + timeout, now + _SPIN_SECONDS
        pause = 0.0
        while not request.Test():
            now = time.monotonic()
            if now < spin_until:
                continue
            if now > deadline:
                faults.abort(self.comm, f"rank {self.rank} of {self.num_processes}: {what} got no "
                             f"answer from the other ranks within {timeout:g} s: a rank has "
                             f"died or hangs; ending the job")
            time.sleep(pause)
            pause = min(2 * pause or 1e-5, 1e-4)


_SPIN_SECONDS = 0.1  # how long a collective call is polled without sleeping
_current: DataParallel | None = None


def set_distribution(value: DataParallel | None) -> None:
    """Make `value` the distribution `fit` uses (None: train in this process alone, as without
    MPI). While a DataParallel over more than one rank is set, an unhandled exception on any
    rank ends the whole job, naming the rank."""
    global _current
    if value is not None and not isinstance(value, DataParallel):
        raise ValueError(f"set_distribution: expected a tinyvid.distribution.DataParallel or "
                         f"None, received {value!r}")
    _current = value
    if value is not None and value.num_processes > 1:
        faults.install_excepthook(value.comm, value.rank, value.num_processes)
    else:
        faults.uninstall_excepthook()


def distribution() -> DataParallel | None:
    """The distribution set by `set_distribution`, or None."""
    return _current
