"""Recurrent layers: a GRU (and an LSTM) layer's forward and backward, tinyvid beside PyTorch.

The shapes of the video model's recurrent layer: a batch of 32 clips of 16 frames, 256 features
per frame (what the CNN under TimeDistributed gives), 64 units. One call = the layer's forward
on `x (32, 16, 256)` (the last state `(32, 64)`, return_sequences=False), then the backward of
a fixed upstream gradient into the weights and into x (a CNN below needs dx). PyTorch runs
`torch.nn.GRU` / `torch.nn.LSTM` (batch_first=True, the same gate count and sizes) in a child
process of its own (common.ChildProcessFunction), as its users run it, with its default
threads. The two sides are timed in alternating blocks in one run; the ratio is PyTorch's time
over tinyvid's (1.0 = as fast, more = tinyvid faster).

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
    return rows


TITLE = (f"Recurrent layers: forward + backward, batch {BATCH}, {STEPS} steps, {FEATURES} "
         f"features, {UNITS} units (PyTorch in a process of its own)")
COLUMNS = [("name", "layer", "{}"), ("tinyvid_ms", "tinyvid ms", "{:.2f}"),
           ("torch_ms", "torch ms", "{:.2f}"), ("vs_torch", "torch / tinyvid", "{:.2f}x")]


if __name__ == "__main__":
    import sys

    standalone_main(sys.modules[__name__])
