"""What the training loop calls at each point of a data-parallel step.

    fit:        on_train_begin(model, batches)      weights from rank 0, batch size checked
    each step:  x, y = local_batch(batches, step)   this rank's rows of the global batch
                forward -> loss -> backward
                average_gradients(weights, n)       ONE Allreduce of every gradient
                optimizer step                      identical on every rank
                logs = reduce_logs(trackers, logs)  global means of the loss and metrics
    each epoch: stop = stop_flag(stop)              rank 0 decides
    anywhere:   is_chief()                          only rank 0 prints and writes files

Without a distribution (or with one rank) every hook returns what it was given and makes no
MPI call, so training is exactly as without this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinyvid.distribution import faults
from tinyvid.distribution.data_parallel import DataParallel, distribution

__all__ = [
    "is_chief", "is_parallel", "shard", "shard_bounds", "on_train_begin", "prepare_epoch",
    "local_batch", "local_rows", "average_gradients", "reduce_logs", "step_without_samples",
    "stop_flag", "sum_over_ranks", "abort_if_parallel",
]


def _active() -> DataParallel | None:
    """The DataParallel in use when it spans more than one rank, else None."""
    current = distribution()
    return current if current is not None and current.num_processes > 1 else None


def is_parallel() -> bool:
    """True while a DataParallel over more than one rank is in force."""
    return _active() is not None


def is_chief() -> bool:
    """True on rank 0, and always without a distribution: the process that prints and saves."""
    current = _active()
    return current is None or current.rank == 0


def shard() -> tuple[int, int]:
    """(rank, number of ranks) of this process: (0, 1) without a distribution."""
    current = _active()
    return (0, 1) if current is None else (current.rank, current.num_processes)


def shard_bounds(n: int, rank: int, size: int) -> tuple[int, int]:
    """Rank `rank`'s rows [start, stop) of a batch of n: contiguous, in rank order, so the
    shards put back together are the batch; the first n % size ranks get one row more (so rank
    0, which prints, always has one)."""
    base, extra = divmod(n, size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def on_train_begin(model: Any, batches: Any) -> None:
    """Check the batch size and give every rank rank 0's weights (all of them, trainable or not).

    Args:
        model: a model with `built`, `build(input_shape)` and `weights` (Tensors).
        batches: the training data source (its `batch_size`, when it has one, is checked).
    """
    current = _active()
    if current is None:
        return
    batch_size = getattr(batches, "batch_size", None)
    if batch_size is not None and batch_size < current.num_processes:
        raise ValueError(f"DataParallel over {current.num_processes} ranks: batch_size is the "
                         f"global batch and must give every rank a sample; received "
                         f"batch_size={batch_size}")
    if not model.built:  # weights are made from the first batch's shape: make them now
        from tinyvid.data.adapters import unpack

        x = unpack(batches[0])[0]
        model.build((None,) + tuple(np.shape(x))[1:])
    for weight in model.weights:
        current.broadcast(weight.data, "the broadcast of the weights from rank 0")


def local_batch(batches: Any, step: int) -> tuple[Any, Any]:
    """This rank's share `(x, y)` of global batch `step` of a data source.

    A source that reads only its own share (FrameBatches, whose `reads_own_shard` is True) is
    passed through; from any other the whole batch is read and this rank's rows are cut out.
    Shuffled arrays use rank 0's order, shared when it changes (each epoch), so that ranks whose
    random generators drifted apart (dropout on shares of different sizes) still agree.
    """
    from tinyvid.data.adapters import ArrayBatches, unpack  # data imports this package

    current = _active()
    if current is None:
        return unpack(batches[step])[:2]
    if isinstance(batches, ArrayBatches) and batches.order is not None \
            and getattr(batches, "_shared_order", None) is not batches.order:
        order = np.ascontiguousarray(batches.order, dtype=np.int64)
        batches.order = current.broadcast(order, "the broadcast of the sample order")
        batches._shared_order = batches.order  # type: ignore[attr-defined]
    x, y, _ = unpack(batches[step])  # (x, y, sample_weight): the trainer uses local_rows
    if getattr(batches, "reads_own_shard", False):
        return x, y
    start, stop = shard_bounds(len(x), current.rank, current.num_processes)
    return x[start:stop], y[start:stop]


def prepare_epoch(batches: Any) -> None:
    """Before an epoch's first batch: shuffled arrays take rank 0's order of the samples, so
    that ranks whose random generators drifted apart (dropout on shares of different sizes)
    still cut the same global batches."""
    from tinyvid.data.adapters import ArrayBatches  # data imports this package

    current = _active()
    if current is None or not isinstance(batches, ArrayBatches) or not batches.shuffle:
        return
    if getattr(batches, "_draw_order", False):  # drawn lazily at the first batch: draw it now
        batches[0]
    order = np.ascontiguousarray(batches.order, dtype=np.int64)
    batches.order = current.broadcast(order, "the broadcast of the sample order")


def local_rows(batches: Any, batch: tuple[Any, ...]) -> tuple[Any, ...]:
    """This rank's rows of a global batch `(x, y, sample_weight)` (arrays, or lists / dicts of
    arrays for several inputs); a source that reads only its own share (FrameBatches with
    `reads_own_shard`) gives them already."""
    from tinyvid.layers.symbolic import map_structure

    current = _active()
    if current is None or getattr(batches, "reads_own_shard", False):
        return batch
    first = batch[0]
    while isinstance(first, (list, tuple, dict)):
        first = next(iter(first.values())) if isinstance(first, dict) else first[0]
    start, stop = shard_bounds(len(first), current.rank, current.num_processes)
    return tuple(None if part is None else map_structure(lambda a: a[start:stop], part)
                 for part in batch)


def average_gradients(weights: Sequence[Any], num_samples: int) -> None:
    """Replace each weight's `.grad` by its average over the ranks, weighted by samples.

    One Allreduce of one flat buffer holding every gradient times this rank's sample count n_r,
    one flag per weight (did it get a gradient here?) and n_r itself; afterwards

        grad = sum_r n_r grad_r / sum_r n_r

    and a weight no rank had a gradient for keeps `.grad = None`.

    Args:
        weights: the trainable weights (Tensors), in the same order on every rank.
        num_samples: the samples of this rank's share of the batch (0 when it had none).
    """
    current = _active()
    if current is None:
        return
    sizes = [weight.data.size for weight in weights]
    total = sum(sizes)
    dtype = np.result_type(*(weight.data.dtype for weight in weights))
    buffer = current.gradient_buffer(total + len(weights) + 1, dtype)
    flags = buffer[total:total + len(weights)]
    offset = 0
    for i, (weight, size) in enumerate(zip(weights, sizes)):
        part = buffer[offset:offset + size]
        if weight.grad is None or num_samples == 0:
            part[:] = 0
            flags[i] = 0
        else:
            np.multiply(np.ravel(weight.grad), num_samples, out=part)
            flags[i] = 1
        offset += size
    buffer[-1] = num_samples
    current.allreduce_sum(buffer, "the Allreduce of the gradients")
    buffer[:total] /= buffer[-1]
    offset = 0
    for i, (weight, size) in enumerate(zip(weights, sizes)):
        had_gradient = flags[i] > 0
        weight.grad = buffer[offset:offset + size].reshape(weight.data.shape) if had_gradient \
            else None
        offset += size


def reduce_logs(trackers: Sequence[Any], logs: dict[str, float]) -> dict[str, float]:
    """The global means of the loss and metrics: each tracker's running total of per-sample
    values and its count of samples are summed over the ranks (one small Allreduce), and each
    mean is total / count. Without a distribution, `logs` as given.

    Args:
        trackers: running means with `name`, `total` and `count` (the loss's first).
        logs: this rank's own logs, returned unchanged without a distribution.
    """
    current = _active()
    if current is None:
        return logs
    trackers = [t for t in trackers if hasattr(t, "total") and hasattr(t, "count")]
    sums = np.array([t.total for t in trackers] + [t.count for t in trackers], dtype=np.float64)
    current.allreduce_sum(sums, "the Allreduce of the loss and metrics")
    totals, counts = sums[:len(trackers)], sums[len(trackers):]
    reduced = {t.name: float(total / count) if count else 0.0
               for t, total, count in zip(trackers, totals, counts)}
    return {**logs, **reduced}  # a metric without a running total keeps this rank's value


def step_without_samples(optimizer: Any, weights: Sequence[Any],
                         trackers: Sequence[Any]) -> dict[str, float]:
    """The step of a rank whose share of a short last batch is empty: it joins the Allreduce
    with nothing to add and takes the same optimizer step as the others."""
    average_gradients(weights, 0)
    optimizer.apply_gradients([(weight.grad, weight) for weight in weights])
    for weight in weights:
        weight.grad = None
    return reduce_logs(trackers, {})


def stop_flag(stop: bool) -> bool:
    """Rank 0's `stop_training`, on every rank: the decision to stop is taken there."""
    current = _active()
    if current is None:
        return stop
    flag = np.array([1 if stop else 0], dtype=np.int64)
    return bool(current.broadcast(flag, "the broadcast of stop_training")[0])


def sum_over_ranks(values: Sequence[float]) -> list[float]:
    """Each value summed over the ranks (the values themselves without a distribution)."""
    current = _active()
    if current is None:
        return list(values)
    sums = np.array(values, dtype=np.float64)
    return current.allreduce_sum(sums, "the Allreduce of a count").tolist()


def abort_if_parallel(message: str, status: int = 1) -> None:
    """End every rank of the job, printing `message` and this rank, when a distribution is
    active: a rank that returns an error and exits would leave the others waiting for it."""
    current = _active()
    if current is not None:
        faults.abort(current.comm, f"rank {current.rank} of {current.num_processes}: {message}",
                     status)
