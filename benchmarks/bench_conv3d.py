"""Conv3D: the 3-D convolution beside this run's sgemm and PyTorch, and a whole training step of
a slow-fusion-like clip model against the same model in PyTorch.

Kernel rows (as bench_kernels.py's conv2d rows, timed in alternating blocks in one run):
    /sgemm      = tinyvid GFLOP/s / sgemm GFLOP/s     (numpy's 2048x2048 float32 a @ b)
    vs torch    = PyTorch's time / tinyvid's time     (torch.nn.functional.conv3d on the same
                                                       data, permuted to its channels-first
                                                       layout outside the timed call)
FLOPs: 2 * N * OT * OH * OW * KT * KH * KW * Cin * Cout per pass (forward, dx, dw); fwd+bwd is 3
passes, 2 for a first layer (no dx).

The training step: batch 16 of 8x64x64x3 clips through Conv3D(16) -> MaxPooling3D(1,2,2) ->
Conv3D(32) -> MaxPooling3D(2) -> Conv3D(64) -> MaxPooling3D(2) -> Flatten -> Dense(64) ->
Dense(10, softmax) (3x3x3 kernels, 'same', relu), Adam, categorical cross-entropy; PyTorch runs
the same stack in a child process of its own (common.ChildProcessFunction), as bench_train.py
does. The ratio is tinyvid's clips per second over PyTorch's (1.0 = as fast). tinyvid's side
runs after `tune_for_training()`, as `fit` does when training starts.

Run it:  python -m benchmarks.bench_conv3d [--quick]     (or python -m benchmarks --only conv3d)
"""

import numpy as np

from benchmarks.bench_kernels import SGEMM_FLOPS, _repeats, _sgemm_fn
from benchmarks.common import (
    ChildProcessFunction,
    blocked_median_times,
    optional_torch,
    standalone_main,
    torch_installed,
)
from tinyvid.kernels.conv3d import conv3d_backward, conv3d_forward
from tinyvid.kernels.geometry import conv3d_geometry

BATCH, FRAMES, FRAME, CLASSES = 16, 8, 64, 10
# The three convolutions of the step's model, as (x shape, w shape), all 3x3x3 'same'.
CONV3D_LAYERS = [
    ((BATCH, FRAMES, FRAME, FRAME, 3), (3, 3, 3, 3, 16)),
    ((BATCH, FRAMES, FRAME // 2, FRAME // 2, 16), (3, 3, 3, 16, 32)),
    ((BATCH, FRAMES // 2, FRAME // 4, FRAME // 4, 32), (3, 3, 3, 32, 64)),
]
HEADLINE = "conv3d 16->32 fwd+bwd"
"""The row whose ratios the summary reports."""


def conv3d_flops(x_shape, w_shape, padding="same"):
    """2 * N * OT * OH * OW * prod(w.shape): the multiply-adds of one pass."""
    g = conv3d_geometry(x_shape, w_shape, 1, padding)
    return 2 * x_shape[0] * g.out_t * g.out_h * g.out_w * int(np.prod(w_shape))


def _torch_conv3d(torch, x, w, b, need_dx):
    F = torch.nn.functional
    tx = torch.from_numpy(x).permute(0, 4, 1, 2, 3).contiguous().requires_grad_(need_dx)
    tw = torch.from_numpy(w).permute(4, 3, 0, 1, 2).contiguous().requires_grad_(True)
    tb = torch.from_numpy(b).requires_grad_(True)
    dy = torch.randn(F.conv3d(tx, tw, tb, padding="same").shape)

    def fwd_bwd():
        tx.grad = tw.grad = tb.grad = None
        F.conv3d(tx, tw, tb, padding="same").backward(dy)
    return fwd_bwd


def bench_conv3d(x_shape, w_shape, need_dx=True, quick=False, name=None):
    """conv3d 'same', stride 1, float32, forward + backward (dx if need_dx, dw, db)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape, dtype=np.float32)
    w = (rng.standard_normal(w_shape, dtype=np.float32) * 0.1).astype(np.float32)
    b = np.zeros(w_shape[4], dtype=np.float32)
    dy = rng.standard_normal(conv3d_forward(x, w, b, 1, "same").shape, dtype=np.float32)

    def ours():
        conv3d_forward(x, w, b, 1, "same")
        return conv3d_backward(dy, x, w, 1, "same", need_dx=need_dx)

    torch = optional_torch()
    fns = {"tinyvid": ours, "sgemm": _sgemm_fn()}
    if torch is not None:
        fns["torch"] = _torch_conv3d(torch, x, w, b, need_dx)
    times = blocked_median_times(fns, **_repeats(quick))
    flops = (3 if need_dx else 2) * conv3d_flops(x_shape, w_shape)
    sgemm_gflops = SGEMM_FLOPS / times["sgemm"] / 1e9
    row = dict(name=name, shape=f"x{x_shape} w{w_shape}", ms=times["tinyvid"] * 1e3,
               gflops=flops / times["tinyvid"] / 1e9, sgemm_gflops=sgemm_gflops,
               torch_ms=None, torch_gflops=None, vs_torch=None)
    row["ratio"] = row["gflops"] / sgemm_gflops
    if torch is not None:
        row.update(torch_ms=times["torch"] * 1e3, torch_gflops=flops / times["torch"] / 1e9,
                   vs_torch=times["torch"] / times["tinyvid"])
    return row


def tinyvid_model():
    """The slow-fusion-like stack of the training step, in tinyvid (compiled)."""
    from tinyvid import layers
    from tinyvid.models import Sequential
    from tinyvid.optimizers import Adam

    stack = [layers.Input(shape=(FRAMES, FRAME, FRAME, 3))]
    for filters, pool in ((16, (1, 2, 2)), (32, 2), (64, 2)):
        stack += [layers.Conv3D(filters, 3, padding="same", activation="relu"),
                  layers.MaxPooling3D(pool)]
    stack += [layers.Flatten(), layers.Dense(64, activation="relu"),
              layers.Dense(CLASSES, activation="softmax")]
    model = Sequential(stack)
    model.compile(optimizer=Adam(learning_rate=0.001), loss="categorical_crossentropy")
    return model


def tinyvid_step(seed=0):
    """A function running one training step of the clip model in tinyvid."""
    rng = np.random.default_rng(seed)
    x = rng.random((BATCH, FRAMES, FRAME, FRAME, 3), dtype=np.float32)
    y = np.eye(CLASSES, dtype=np.float32)[rng.integers(0, CLASSES, BATCH)]
    model = tinyvid_model()
    return lambda: model.train_on_batch(x, y)


def torch_model(torch):
    """The same stack in PyTorch, channels-first (its fastest CPU layout), ending in logits."""
    nn = torch.nn
    return nn.Sequential(
        nn.Conv3d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool3d((1, 2, 2)),
        nn.Conv3d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool3d(2),
        nn.Conv3d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool3d(2), nn.Flatten(),
        nn.Linear(64 * (FRAMES // 4) * (FRAME // 8) ** 2, 64), nn.ReLU(), nn.Linear(64, CLASSES),
    )


def torch_step(torch, seed=0):
    """The same step in PyTorch (logits + CrossEntropyLoss is softmax + categorical
    cross-entropy; Adam with Keras's epsilon)."""
    nn = torch.nn
    torch.manual_seed(seed)
    model = torch_model(torch)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(BATCH, 3, FRAMES, FRAME, FRAME)
    y = torch.randint(0, CLASSES, (BATCH,))

    def step():
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()

    return step


TORCH_IN_CHILD = """
import torch
from benchmarks.bench_conv3d import torch_step
fn = torch_step(torch)
"""


def bench_step(quick=False):
    """Clips per second of a training step, tinyvid and (if installed) PyTorch apart."""
    from tinyvid.kernels import process

    process.tune_for_training()  # what fit does when training starts
    steps = {"tinyvid": tinyvid_step()}
    child = None
    if torch_installed():
        steps["torch"] = child = ChildProcessFunction(TORCH_IN_CHILD)
    try:
        times = blocked_median_times(steps, rounds=2 if quick else 4, per_block=2, warmup=1)
    finally:
        if child is not None:
            child.close()
    row = dict(name=f"training step, batch {BATCH} clips", shape=f"{FRAMES}x{FRAME}x{FRAME}x3",
               ms=times["tinyvid"] * 1e3, clips=BATCH / times["tinyvid"], torch_ms=None,
               torch_clips=None, vs_torch=None)
    if "torch" in times:
        row.update(torch_ms=times["torch"] * 1e3, torch_clips=BATCH / times["torch"],
                   vs_torch=times["torch"] / times["tinyvid"])
    return row


def run(quick=False):
    """The conv3d rows (the middle layer only with --quick), then the training step."""
    names = ["conv3d 3->16 fwd+bwd (no dx)", HEADLINE, "conv3d 32->64 fwd+bwd"]
    rows = []
    for i, ((x_shape, w_shape), name) in enumerate(zip(CONV3D_LAYERS, names)):
        if quick and name != HEADLINE:
            continue
        rows.append(bench_conv3d(x_shape, w_shape, need_dx=i > 0, quick=quick, name=name))
    rows.append(bench_step(quick))
    return rows


TITLE = (f"Conv3D (float32, 3x3x3 'same'; batch {BATCH} of {FRAMES}x{FRAME}x{FRAME}x3 clips) "
         f"and a slow-fusion-like training step")
COLUMNS = [
    ("name", "kernel / step", "{}"), ("shape", "shape", "{}"), ("ms", "ms", "{:.1f}"),
    ("gflops", "GFLOP/s", "{:.0f}"), ("sgemm_gflops", "sgemm GF/s", "{:.0f}"),
    ("ratio", "/sgemm", "{:.2f}"), ("clips", "clips/s", "{:.1f}"),
    ("torch_ms", "torch ms", "{:.1f}"), ("torch_clips", "torch clips/s", "{:.1f}"),
    ("vs_torch", "vs torch", "{:.2f}"),
]


if __name__ == "__main__":
    import sys

    standalone_main(sys.modules[__name__])
