"""Training on several processes or machines, shaped like Keras 3's `keras.distribution`.

    from tinyvid.distribution import DataParallel, set_distribution
    set_distribution(DataParallel())      # then model.fit(...) as always
    # run with: mpiexec -n 4 python train.py

    DataParallel(devices=None)      one model copy per MPI rank, each training on its share
    set_distribution(d), distribution()   set and get the distribution fit uses
    list_devices()                  "cpu:0", "cpu:1", ...: one device per MPI rank

The engine is MPI through mpi4py (`pip install -e ".[mpi]"`); importing this package does not
import mpi4py (that would initialise MPI). Without mpiexec, or with one rank, training is
exactly as without a distribution. `tinyvid train` turns DataParallel on by itself when it is
started by mpiexec with more than one rank.

hooks.py holds what the training loop calls at each point of a step (on_train_begin,
local_batch, average_gradients, reduce_logs, stop_flag, is_chief); faults.py ends the job when a
rank fails.
"""

from tinyvid.distribution.data_parallel import (
    INSTALL_HINT,
    DataParallel,
    distribution,
    launched_size,
    list_devices,
    set_distribution,
)
from tinyvid.distribution.hooks import (
    abort_if_parallel,
    average_gradients,
    is_chief,
    is_parallel,
    local_batch,
    local_rows,
    on_train_begin,
    prepare_epoch,
    reduce_logs,
    shard,
    shard_bounds,
    step_without_samples,
    stop_flag,
    sum_over_ranks,
)

__all__ = [
    "DataParallel", "set_distribution", "distribution", "list_devices", "launched_size",
    "INSTALL_HINT",
    "is_chief", "is_parallel", "shard", "shard_bounds", "on_train_begin", "prepare_epoch",
    "local_batch", "local_rows", "average_gradients", "reduce_logs", "step_without_samples",
    "stop_flag", "sum_over_ranks", "abort_if_parallel",
]
