"""Data-parallel training's price: the Allreduce of the gradients each step, on 2 MPI ranks.

Rows, from one `mpiexec -n 2` job started by this module:

    allreduce ...    one Allreduce (sum) of a float32 buffer the size of a model's gradients:
                     ms with MPI's blocking Allreduce, and ms as DataParallel does it
                     (Iallreduce polled against its timeout, tinyvid/distribution)
    step ...         the document's model's data-parallel training step, global batch 32
                     (16 frames per rank): ms per step, ms of it in average_gradients (packing
                     the flat buffer, the Allreduce, and waiting for the slower rank), and that
                     share of the step in %

    step, temporal   (with PyTorch installed, in this process alone) the training step of the
                     temporal model in PyTorch: tinyvid has no Conv3D yet, so its compute comes
                     from PyTorch for docs/scaling.md

The temporal model is a C3D-like stack assumed for docs/scaling.md (four 3x3x3 Conv3D of 32, 64,
128, 256 filters with max pooling, global average pooling, Dense(10)), on clips of 8 frames of
64x64x3, batch 8. Both ranks
run on this machine, so the Allreduce goes through shared memory, not a network; see
docs/scaling.md for what a network changes. Skips (one row saying so) without mpi4py or mpiexec.

Run it:  python -m benchmarks.bench_mpi [--quick]       (or python -m benchmarks --only mpi)
"""

import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

BATCH, FRAME, CLASSES = 32, 64, 10
REPO = pathlib.Path(__file__).resolve().parents[1]


def temporal_model_parameters(channels=(32, 64, 128, 256), classes=CLASSES):
    """Weights of the C3D-like model: 3x3x3 Conv3D kernels and biases, then Dense(classes)."""
    count, c_in = 0, 3
    for c_out in channels:
        count += 27 * c_in * c_out + c_out
        c_in = c_out
    return count + c_in * classes + classes


def torch_temporal_step_seconds(torch, steps, batch=8, frames=8, size=64):
    """Median seconds of one training step of the temporal model in PyTorch (Adam)."""
    nn = torch.nn
    torch.manual_seed(0)
    layers, c_in = [], 3
    for c_out, pool in ((32, (1, 2, 2)), (64, 2), (128, 2), (256, None)):
        layers += [nn.Conv3d(c_in, c_out, 3, padding=1), nn.ReLU()]
        layers += [nn.MaxPool3d(pool)] if pool else []
        c_in = c_out
    model = nn.Sequential(*layers, nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(c_in, CLASSES))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001, eps=1e-7)
    x = torch.rand(batch, 3, frames, size, size)
    y = torch.randint(0, CLASSES, (batch,))
    times = []
    for _ in range(steps + 1):  # the first is untimed
        started = time.perf_counter()
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        times.append(time.perf_counter() - started)
    return statistics.median(times[1:])


def _mpiexec():
    try:
        import mpi4py  # noqa: F401  (the package only: importing it does not start MPI)
    except ImportError:
        return None
    return shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or shutil.which("mpiexec")


def run(quick=False):
    """Start the 2-rank job and return its rows (one 'skipped' row without MPI)."""
    mpiexec = _mpiexec()
    if mpiexec is None:
        return [{"name": "skipped: no mpi4py or mpiexec (pip install -e '.[mpi]')"}]
    with tempfile.TemporaryDirectory() as folder:
        out = pathlib.Path(folder) / "rows.json"
        command = [mpiexec, "-n", "2", sys.executable, "-m", "benchmarks.bench_mpi", "--worker",
                   str(out)] + (["--quick"] if quick else [])
        result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            return [{"name": f"failed: {result.stderr.strip().splitlines()[-1:]}"}]
        rows = json.loads(out.read_text())
    from benchmarks.common import optional_torch, torch_installed

    if torch_installed():
        seconds = torch_temporal_step_seconds(optional_torch(), steps=1 if quick else 3)
        rows.append({"name": "step, temporal model in PyTorch, 8 clips of 8x64x64x3, 1 process",
                     "megabytes": temporal_model_parameters() * 4 / 1e6,
                     "step_ms": seconds * 1e3})
    return rows


def _allreduce_rows(data_parallel, sizes, repeats):
    comm, mpi = data_parallel.comm, data_parallel._mpi
    rows = []
    for name, count in sizes:
        buffer = np.ones(count, dtype=np.float32)
        blocking, polled = [], []
        for _ in range(repeats):
            comm.Barrier()
            started = time.perf_counter()
            comm.Allreduce(mpi.IN_PLACE, buffer, op=mpi.SUM)
            blocking.append(time.perf_counter() - started)
            comm.Barrier()
            started = time.perf_counter()
            data_parallel.allreduce_sum(buffer, "the benchmark's Allreduce")
            polled.append(time.perf_counter() - started)
        rows.append({"name": f"allreduce, {name}", "megabytes": buffer.nbytes / 1e6,
                     "blocking_ms": statistics.median(blocking) * 1e3,
                     "tinyvid_ms": statistics.median(polled) * 1e3})
    return rows


def _step_row(steps):
    import tinyvid.distribution as distribution
    from tinyvid.cli import build_model
    from tinyvid.data.adapters import ArrayBatches
    from tinyvid.optimizers import Adam

    rng = np.random.default_rng(0)
    x = rng.random((BATCH, FRAME, FRAME, 3), dtype=np.float32)
    y = np.eye(CLASSES, dtype=np.float32)[rng.integers(0, CLASSES, BATCH)]
    model = build_model(CLASSES, FRAME)
    model.compile(optimizer=Adam(learning_rate=0.001), loss="categorical_crossentropy")
    batches = ArrayBatches(x, y, BATCH)
    distribution.on_train_begin(model, batches)
    x_local, y_local = distribution.local_batch(batches, 0)

    averaging = []
    average_gradients = distribution.average_gradients

    def timed_average_gradients(weights, num_samples):
        started = time.perf_counter()
        average_gradients(weights, num_samples)
        averaging.append(time.perf_counter() - started)

    distribution.average_gradients = timed_average_gradients  # what Sequential.train_step calls
    model.train_step(x_local, y_local)  # untimed: compiles the kernels
    averaging.clear()
    step_times = []
    for _ in range(steps):
        started = time.perf_counter()
        model.train_step(x_local, y_local)
        step_times.append(time.perf_counter() - started)
    distribution.average_gradients = average_gradients
    step, spent = statistics.median(step_times), statistics.median(averaging)
    params = sum(w.data.size for w in model.trainable_weights)
    return {"name": f"step, document's model, batch {BATCH} on 2 ranks",
            "megabytes": params * 4 / 1e6, "step_ms": step * 1e3, "averaging_ms": spent * 1e3,
            "overhead_percent": 100 * spent / step}


def worker(out, quick):
    from tinyvid.cli import build_model
    from tinyvid.distribution import DataParallel, set_distribution

    data_parallel = DataParallel()
    set_distribution(data_parallel)
    document = build_model(CLASSES, FRAME).count_params()
    sizes = [("document's model gradients", document),
             ("its Dense kernel alone (230,400 x 64)", 230_400 * 64),
             ("temporal model gradients (C3D-like)", temporal_model_parameters()),
             ("loss and metrics (4 floats)", 4)]
    rows = _allreduce_rows(data_parallel, sizes, repeats=3 if quick else 10)
    rows.append(_step_row(steps=2 if quick else 6))
    if data_parallel.rank == 0:
        pathlib.Path(out).write_text(json.dumps(rows))


TITLE = "Data-parallel overhead on 2 MPI ranks (one machine, shared memory)"
COLUMNS = [("name", "what", "{}"), ("megabytes", "MB", "{:.1f}"),
           ("blocking_ms", "Allreduce ms", "{:.2f}"), ("tinyvid_ms", "DataParallel ms", "{:.2f}"),
           ("step_ms", "step ms", "{:.0f}"), ("averaging_ms", "averaging ms", "{:.1f}"),
           ("overhead_percent", "overhead %", "{:.1f}")]


if __name__ == "__main__":
    if "--worker" in sys.argv:
        worker(sys.argv[sys.argv.index("--worker") + 1], "--quick" in sys.argv)
    else:
        from benchmarks.common import standalone_main

        standalone_main(sys.modules[__name__])
