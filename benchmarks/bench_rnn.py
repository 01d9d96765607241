"""Recurrent layers: a GRU (and an LSTM) layer's forward and backward, tinyvid beside PyTorch.

The shapes of the video model's recurrent layer: a batch of 32 clips of 16 frames, 256 features
per frame (what the CNN under TimeDistributed gives), 64 units. One call = the layer's forward
on `x (32, 16, 256)` (the last state `(32, 64)`, return_sequences=False), then the backward of
a fixed upstream gradient into the weights and into x (a CNN below needs dx). PyTorch runs
`torch.nn.GRU` / `torch.nn.LSTM` (batch_first=True, the same gate count and sizes) in a child
process of its own (common.ChildProcessFunction), as its users run it, with its default
threads. The two sides are timed in alternating blocks in one run; the ratio is PyTorch's time
over tinyvid's (1.0 = as fast, more = tinyvid faster).

A last row times a whole training step of tinyvid.applications.cnn_gru (batch 16 clips of
8 x 32 x 32 x 3, the CLI's shapes, every frame real in the mask; Adam) against the same network
in PyTorch (Conv2d/MaxPool2d on the batch's frames, flattened, nn.GRU, nn.Linear, Adam).

Run it:  python -m benchmarks.bench_rnn [--quick]       (or python -m benchmarks --only rnn)
"""

import numpy as np

from benchmarks.common import (
    ChildProcessFunction,
    blocked_median_times,
    standalone_main,
    torch_installed,
)

BATCH, STEPS, FEATURES, UNITS = 32, 16, 256, 64


def tinyvid_fwd_bwd(layer_name, seed=0):
    """A function running one forward and backward of a tinyvid GRU or LSTM layer."""
    import tinyvid
    from tinyvid import layers

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, STEPS, FEATURES), dtype=np.float32)
    dy = rng.standard_normal((BATCH, UNITS), dtype=np.float32)
    layer = getattr(layers, layer_name)(UNITS)
    layer.build((None, STEPS, FEATURES))

    def fwd_bwd():
        xt = tinyvid.Tensor(x, requires_grad=True)
        for w in layer.weights:
            w.grad = None
        layer(xt, training=True).backward(dy)

    return fwd_bwd


def tinyvid_recurrence_fwd_bwd(seed=0):
    """The GRU layer's recurrence alone (tinyvid.nn.gru, no input projection): the step loop."""
    import tinyvid
    from tinyvid import nn

    rng = np.random.default_rng(seed)
    xw = tinyvid.Tensor(rng.standard_normal((BATCH, STEPS, 3 * UNITS), dtype=np.float32),
                        requires_grad=True)
    u = tinyvid.Tensor(rng.standard_normal((UNITS, 3 * UNITS), dtype=np.float32) * 0.1,
                       requires_grad=True)
    b = tinyvid.Tensor(np.zeros(3 * UNITS, dtype=np.float32), requires_grad=True)
    dy = np.zeros((BATCH, STEPS, UNITS), dtype=np.float32)
    dy[:, -1] = rng.standard_normal((BATCH, UNITS), dtype=np.float32)

    def fwd_bwd():
        for t in (xw, u, b):
            t.grad = None
        nn.gru(xw, u, b).backward(dy)

    return fwd_bwd


def torch_fwd_bwd(torch, layer_name, seed=0):
    """The same in PyTorch: torch.nn.GRU / LSTM over x, the last step's output, backward."""
    torch.manual_seed(seed)
    layer = getattr(torch.nn, layer_name)(FEATURES, UNITS, batch_first=True)
    x = torch.randn(BATCH, STEPS, FEATURES)
    dy = torch.randn(BATCH, UNITS)

    def fwd_bwd():
        layer.zero_grad()
        xt = x.detach().requires_grad_(True)
        out, _ = layer(xt)
        out[:, -1].backward(dy)

    return fwd_bwd


TORCH_IN_CHILD = """
import torch
from benchmarks.bench_rnn import torch_fwd_bwd
fn = torch_fwd_bwd(torch, {layer!r})
"""

CLIPS, FRAMES, FRAME, CLASSES = 16, 8, 32, 8  # cnn_gru's training step: `tinyvid train` shapes


def tinyvid_cnn_gru_step(seed=0):
    """A function running one training step (Adam) of tinyvid.applications.cnn_gru."""
    from tinyvid.applications import cnn_gru
    from tinyvid.optimizers import Adam

    rng = np.random.default_rng(seed)
    x = rng.random((CLIPS, FRAMES, FRAME, FRAME, 3), dtype=np.float32)
    mask = np.ones((CLIPS, FRAMES), dtype=bool)
    y = np.eye(CLASSES, dtype=np.float32)[rng.integers(0, CLASSES, CLIPS)]
    model = cnn_gru(CLASSES, num_frames=FRAMES, frame_size=FRAME)
    model.compile(optimizer=Adam(learning_rate=0.001), loss="categorical_crossentropy")
    return lambda: model.train_on_batch([x, mask], y)


def torch_cnn_gru_step(torch, seed=0):
    """The same step in PyTorch, channels-first frames: the CNN on (batch * T, 3, h, w),
    flattened per frame, nn.GRU over T, nn.Linear on the last state; CrossEntropyLoss on logits
    is softmax + categorical cross-entropy; Adam with Keras's epsilon."""
    nn = torch.nn
    torch.manual_seed(seed)
    cnn = nn.Sequential(nn.Conv2d(3, 16, 3), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(16, 32, 3), nn.ReLU(), nn.MaxPool2d(2))
    side = ((FRAME - 2) // 2 - 2) // 2
    gru, head = nn.GRU(32 * side * side, 32, batch_first=True), nn.Linear(32, CLASSES)
    parameters = [*cnn.parameters(), *gru.parameters(), *head.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=0.001, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(CLIPS * FRAMES, 3, FRAME, FRAME)
    y = torch.randint(0, CLASSES, (CLIPS,))

    def step():
        optimizer.zero_grad()
        features = cnn(x).reshape(CLIPS, FRAMES, -1)
        _, last = gru(features)
        loss_fn(head(last[0]), y).backward()
        optimizer.step()

    return step


TORCH_CNN_GRU_IN_CHILD = """
import torch
from benchmarks.bench_rnn import torch_cnn_gru_step
fn = torch_cnn_gru_step(torch)
"""


def bench_cnn_gru_step(quick=False):
    """Milliseconds per cnn_gru training step, tinyvid and (if installed) PyTorch."""
    from tinyvid.kernels import process

    process.tune_for_training()  # what fit does when training starts
    steps = {"tinyvid": tinyvid_cnn_gru_step()}
    child = None
    if torch_installed():
        steps["torch"] = child = ChildProcessFunction(TORCH_CNN_GRU_IN_CHILD)
    try:
        times = blocked_median_times(steps, rounds=2 if quick else 4, per_block=2, warmup=1)
    finally:
        if child is not None:
            child.close()
    row = {"name": f"cnn_gru training step, batch {CLIPS} clips {FRAMES}x{FRAME}x{FRAME}x3",
           "tinyvid_ms": times["tinyvid"] * 1e3, "torch_ms": None, "vs_torch": None}
    if "torch" in times:
        row.update(torch_ms=times["torch"] * 1e3, vs_torch=times["torch"] / times["tinyvid"])
    return row


def run(quick=False):
    """Milliseconds per forward+backward of GRU and LSTM, tinyvid and (if installed) PyTorch."""
    rows = []
    for layer_name in ("GRU",) if quick else ("GRU", "LSTM"):
        fns = {"tinyvid": tinyvid_fwd_bwd(layer_name)}
        child = None
        if torch_installed():
            fns["torch"] = child = ChildProcessFunction(TORCH_IN_CHILD.format(layer=layer_name))
        try:
            times = blocked_median_times(fns, rounds=2 if quick else 5,
                                         per_block=5 if quick else 10, warmup=2)
        finally:
            if child is not None:
                child.close()
        row = {"name": f"{layer_name}({UNITS}) fwd+bwd, x ({BATCH}, {STEPS}, {FEATURES})",
               "tinyvid_ms": times["tinyvid"] * 1e3, "torch_ms": None, "vs_torch": None}
        if "torch" in times:
            row.update(torch_ms=times["torch"] * 1e3, vs_torch=times["torch"] / times["tinyvid"])
        rows.append(row)
        if layer_name == "GRU" and not quick:
            alone = blocked_median_times({"tinyvid": tinyvid_recurrence_fwd_bwd()}, rounds=5,
                                         per_block=10, warmup=2)["tinyvid"]
            rows.append({"name": "  GRU recurrence alone (tinyvid.nn.gru)",
                         "tinyvid_ms": alone * 1e3, "torch_ms": None, "vs_torch": None})
    rows.append(bench_cnn_gru_step(quick))
    return rows


TITLE = (f"Recurrent layers: forward + backward, batch {BATCH}, {STEPS} steps, {FEATURES} "
         f"features, {UNITS} units (PyTorch in a process of its own)")
COLUMNS = [("name", "layer", "{}"), ("tinyvid_ms", "tinyvid ms", "{:.2f}"),
           ("torch_ms", "torch ms", "{:.2f}"), ("vs_torch", "torch / tinyvid", "{:.2f}x")]


if __name__ == "__main__":
    import sys

    standalone_main(sys.modules[__name__])
