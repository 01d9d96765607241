"""A whole training step of the source document's model, tinyvid beside PyTorch.

The model (section 4.2): Conv2D(32, 3x3, relu) -> Conv2D(64, 3x3, relu) -> Flatten ->
Dense(64, relu) -> Dense(10, softmax), on a batch of 32 frames of 64x64x3, Adam, categorical
cross-entropy. One step = forward, loss, backward, optimizer update. The two libraries' steps
are timed in alternating blocks in one run (common.blocked_median_times: an untimed step, then 3
timed ones, of one library, then of the other, and again), so drift on a shared machine hits
both alike. The ratio is tinyvid's frames per second over PyTorch's (1.0 = as fast).

The step is timed as `fit` runs it: after `tinyvid.kernels.tune_for_training()` has set
numba's threading layer and glibc's malloc keeping freed memory (kernels/process.py), which
importing tinyvid does not do. PyTorch runs in a child process of its own
(common.ChildProcessFunction), as its users run it: in this process it would share those
process-wide settings, and the malloc one makes PyTorch's step faster too. The full run adds a
row with PyTorch in this process, to show by how much.

Run it:  python -m benchmarks.bench_train [--quick]       (or python -m benchmarks)
"""

import numpy as np

from benchmarks.common import (
    ChildProcessFunction,
    blocked_median_times,
    optional_torch,
    standalone_main,
    torch_installed,
)
from tinyvid.kernels import tune_for_training

BATCH, FRAME, CLASSES = 32, 64, 10


def tinyvid_step(seed=0):
    """A function running one training step of the document's model in tinyvid."""
    from tinyvid.cli import build_model  # the document's model, as `tinyvid demo` trains it
    from tinyvid.optimizers import Adam

    rng = np.random.default_rng(seed)
    x = rng.random((BATCH, FRAME, FRAME, 3), dtype=np.float32)
    y = np.eye(CLASSES, dtype=np.float32)[rng.integers(0, CLASSES, BATCH)]
    model = build_model(CLASSES, FRAME)
    model.compile(optimizer=Adam(learning_rate=0.001), loss="categorical_crossentropy")
    return lambda: model.train_on_batch(x, y)


def torch_step(torch, seed=0):
    """The same step in PyTorch (channels-first, its fastest CPU layout; logits + CrossEntropyLoss
    is softmax + categorical cross-entropy; Adam with Keras's epsilon)."""
    nn = torch.nn
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(3, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.Flatten(),
        nn.Linear(64 * (FRAME - 4) ** 2, 64), nn.ReLU(), nn.Linear(64, CLASSES),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(BATCH, 3, FRAME, FRAME)
    y = torch.randint(0, CLASSES, (BATCH,))

    def step():
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()

    return step


TORCH_IN_CHILD = """
import torch
from benchmarks.bench_train import torch_step
fn = torch_step(torch)
"""


def run(quick=False):
    """Frames per second of a training step for tinyvid and (if installed) PyTorch, and the ratio.

    Returns one row (PyTorch in its own process), and in the full run a second one with PyTorch
    in this process; the tinyvid figures of both rows are the same measurement.
    """
    tune_for_training()  # as fit does: importing tinyvid no longer changes the process
    steps = {"tinyvid": tinyvid_step()}
    child = None
    if torch_installed():
        steps["torch"] = child = ChildProcessFunction(TORCH_IN_CHILD)
        if not quick:
            steps["torch here"] = torch_step(optional_torch())
    try:
        times = blocked_median_times(steps, rounds=2 if quick else 5, per_block=3, warmup=1)
    finally:
        if child is not None:
            child.close()
    rows = []
    for key, name in (("torch", f"training step, batch {BATCH}"),
                      ("torch here", "  the same, PyTorch in tinyvid's process")):
        if key not in times and rows:
            continue
        row = {"name": name, "tinyvid_ms": times["tinyvid"] * 1e3,
               "tinyvid_fps": BATCH / times["tinyvid"], "torch_ms": None, "torch_fps": None,
               "ratio_vs_torch": None}
        if key in times:
            row.update(torch_ms=times[key] * 1e3, torch_fps=BATCH / times[key],
                       ratio_vs_torch=times[key] / times["tinyvid"])
        rows.append(row)
    return rows


TITLE = (f"Training step of the document's model ({FRAME}x{FRAME}x3 frames, {CLASSES} classes, "
         f"Adam, categorical cross-entropy)")
COLUMNS = [("name", "step", "{}"), ("tinyvid_ms", "tinyvid ms", "{:.1f}"),
           ("tinyvid_fps", "tinyvid frames/s", "{:.0f}"), ("torch_ms", "torch ms", "{:.1f}"),
           ("torch_fps", "torch frames/s", "{:.0f}"),
           ("ratio_vs_torch", "tinyvid / torch", "{:.2f}x")]


if __name__ == "__main__":
    import sys

    standalone_main(sys.modules[__name__])
