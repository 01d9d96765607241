"""Kernels: conv2d, pooling and dense, beside the same run's sgemm and PyTorch.

Every row times tinyvid, numpy's 2048x2048 float32 `a @ b` (sgemm, the machine's practical
limit) and PyTorch (when it imports) in alternating blocks (common.blocked_median_times), so
the figures in a row are taken within one run even on a shared, noisy machine.
    /sgemm      = tinyvid GFLOP/s / sgemm GFLOP/s           (1.0 = as fast as a big sgemm)
    vs torch    = PyTorch's time / tinyvid's time           (1.0 = as fast as PyTorch)
The rows are taken after `tune_for_training()`, as `fit` runs the kernels; PyTorch runs in this
process here, so it shares tinyvid's process-wide malloc setting (kernels/memory.py), which helps
it too; the training step (bench_train.py) runs it apart.
FLOPs: 2*N*OH*OW*KH*KW*Cin*Cout per conv pass (forward, dx, dw); fwd+bwd is 3 passes, or 2 when
the input needs no gradient (a model's first layer). Dense: 2*rows*in*out per pass.

Run it:  python -m benchmarks.bench_kernels [--quick]     (or python -m benchmarks)
"""

import numpy as np

from benchmarks.common import blocked_median_times, optional_torch, standalone_main
from tinyvid.kernels import (
    avg_pool2d_backward,
    avg_pool2d_forward,
    conv2d_backward,
    conv2d_forward,
    conv_geometry,
    dense_backward,
    dense_forward,
    max_pool2d_backward,
    max_pool2d_forward,
    tune_for_training,
)

SGEMM_N = 2048
# The source document's model at 64x64 frames, batch 32: its two convolutions and its big dense.
CONV1 = ((32, 64, 64, 3), (3, 3, 3, 32))
CONV2 = ((32, 62, 62, 32), (3, 3, 32, 64))
DENSE = ((32, 230400), (230400, 64))
POOL_INPUT = (32, 60, 60, 64)


def _repeats(quick):
    return dict(rounds=1, per_block=3) if quick else dict(rounds=3, per_block=3)


def _sgemm_fn():
    rng = np.random.default_rng(0)
    a = rng.random((SGEMM_N, SGEMM_N), dtype=np.float32)
    b = rng.random((SGEMM_N, SGEMM_N), dtype=np.float32)
    return lambda: a @ b


SGEMM_FLOPS = 2 * SGEMM_N**3


def _row(name, shape, flops, times, torch_used):
    """A result dict from alternating medians {'tinyvid': s, 'sgemm': s, 'torch': s}."""
    seconds = times["tinyvid"]
    sgemm_gflops = SGEMM_FLOPS / times["sgemm"] / 1e9
    row = dict(name=name, shape=shape, seconds=seconds, sgemm_gflops=sgemm_gflops,
               gflops=None, ratio=None, torch_seconds=None, torch_gflops=None, vs_torch=None)
    if flops:
        row["gflops"] = flops / seconds / 1e9
        row["ratio"] = row["gflops"] / sgemm_gflops
    if torch_used:
        row["torch_seconds"] = times["torch"]
        row["torch_gflops"] = flops / times["torch"] / 1e9 if flops else None
        row["vs_torch"] = times["torch"] / seconds
    return row


def _time(fns, quick):
    fns = {k: v for k, v in fns.items() if v is not None}
    fns["sgemm"] = _sgemm_fn()
    return blocked_median_times(fns, **_repeats(quick))


def bench_sgemm(quick=False):
    """The reference: numpy's float32 2048x2048 matrix product (OpenBLAS sgemm)."""
    seconds = blocked_median_times({"sgemm": _sgemm_fn()}, **_repeats(quick))["sgemm"]
    times = {"tinyvid": seconds, "sgemm": seconds}
    return _row("sgemm a @ b (numpy)", f"{SGEMM_N}x{SGEMM_N} @ {SGEMM_N}x{SGEMM_N}",
                SGEMM_FLOPS, times, False)


def conv_flops(x_shape, w_shape, strides=1, padding="valid"):
    """2*N*OH*OW*KH*KW*Cin*Cout: the multiply-adds of one pass (forward, dx or dw)."""
    g = conv_geometry(x_shape, w_shape, strides, padding)
    return 2 * x_shape[0] * g.out_h * g.out_w * int(np.prod(w_shape))


def _torch_conv(torch, x, w, b, backward, need_dx):
    F = torch.nn.functional
    tx = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous().requires_grad_(need_dx)
    tw = torch.from_numpy(w).permute(3, 2, 0, 1).contiguous().requires_grad_(True)
    tb = torch.from_numpy(b).requires_grad_(True)
    if not backward:
        def fwd():
            with torch.no_grad():
                F.conv2d(tx, tw, tb)
        return fwd
    out_shape = F.conv2d(tx, tw, tb).shape
    dy = torch.randn(out_shape)

    def fwd_bwd():
        tw.grad = tb.grad = tx.grad = None
        F.conv2d(tx, tw, tb).backward(dy)
    return fwd_bwd


def bench_conv2d(x_shape=CONV2[0], w_shape=CONV2[1], backward=True, need_dx=True, quick=False,
                 keep_cols=False, chunk=None, name=None, with_torch=True):
    """conv2d 'valid', stride 1, float32: forward, or forward + backward (dx if need_dx, dw, db)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape, dtype=np.float32)
    w = (rng.standard_normal(w_shape, dtype=np.float32) * 0.1).astype(np.float32)
    b = np.zeros(w_shape[3], dtype=np.float32)
    dy = rng.standard_normal(conv2d_forward(x, w, b).shape, dtype=np.float32)

    def ours():
        if not backward:
            return conv2d_forward(x, w, b, chunk=chunk)
        cols = None
        if keep_cols:
            _, cols = conv2d_forward(x, w, b, keep_cols=True)
        else:
            conv2d_forward(x, w, b, chunk=chunk)
        return conv2d_backward(dy, x, w, need_dx=need_dx, cols=cols, chunk=chunk)

    torch = optional_torch() if with_torch else None
    fns = {"tinyvid": ours, "torch": torch and _torch_conv(torch, x, w, b, backward, need_dx)}
    times = _time(fns, quick)
    passes = 1 if not backward else (3 if need_dx else 2)
    label = name or ("conv2d fwd" if not backward else
                     "conv2d fwd+bwd" + ("" if need_dx else " (no dx)"))
    return _row(label, f"x{x_shape} w{w_shape}", passes * conv_flops(x_shape, w_shape), times,
                torch is not None)


def bench_conv_choices(quick=False):
    """The measurements behind kernels/conv.py's choices: chunk size, keeping the columns."""
    rows = []
    for chunk in (1, 2, 4, 8):
        rows.append(bench_conv2d(*CONV2, quick=quick, chunk=chunk, with_torch=False,
                                 name=f"  conv2 fwd+bwd, chunk={chunk} images"))
    rows.append(bench_conv2d(*CONV2, quick=quick, keep_cols=True, with_torch=False,
                             name="  conv2 fwd+bwd, keep_cols (132 MB)"))
    rows.append(bench_conv2d(*CONV1, need_dx=False, quick=quick, with_torch=False,
                             name="  conv1 fwd+bwd (no dx), recompute cols"))
    rows.append(bench_conv2d(*CONV1, need_dx=False, quick=quick, keep_cols=True,
                             with_torch=False, name="  conv1 fwd+bwd (no dx), keep_cols"))
    return rows


def bench_pool(kind="max", backward=True, quick=False, x_shape=POOL_INPUT):
    """2x2 max or average pooling, 'valid', float32 (no FLOP count: it is memory traffic)."""
    x = np.random.default_rng(0).standard_normal(x_shape, dtype=np.float32)
    dy = np.random.default_rng(1).standard_normal(
        (x_shape[0], x_shape[1] // 2, x_shape[2] // 2, x_shape[3]), dtype=np.float32)
    if kind == "max":
        def ours():
            y, argmax = max_pool2d_forward(x, 2)
            return max_pool2d_backward(dy, argmax, x.shape) if backward else y
    else:
        def ours():
            y = avg_pool2d_forward(x, 2)
            return avg_pool2d_backward(dy, x.shape, 2) if backward else y

    torch = optional_torch()
    theirs = None
    if torch is not None:
        pool = torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d
        tx = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous().requires_grad_(True)
        tdy = torch.from_numpy(dy).permute(0, 3, 1, 2).contiguous()

        def theirs():
            tx.grad = None
            if backward:
                pool(tx, 2).backward(tdy)
            else:
                with torch.no_grad():
                    pool(tx, 2)
    times = _time({"tinyvid": ours, "torch": theirs}, quick)
    label = f"{kind}_pool2d 2x2 " + ("fwd+bwd" if backward else "fwd")
    return _row(label, f"x{x_shape}", None, times, torch is not None)


def bench_dense(backward=True, quick=False, x_shape=DENSE[0], w_shape=DENSE[1]):
    """The model's Flatten -> Dense(64): (32, 230400) @ (230400, 64), float32."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape, dtype=np.float32)
    w = rng.standard_normal(w_shape, dtype=np.float32) * 1e-3
    b = np.zeros(w_shape[1], dtype=np.float32)
    dy = rng.standard_normal((x_shape[0], w_shape[1]), dtype=np.float32)

    def ours():
        y = dense_forward(x, w, b)
        return dense_backward(dy, x, w) if backward else y

    torch = optional_torch()
    theirs = None
    if torch is not None:
        tx = torch.from_numpy(x).requires_grad_(True)
        tw = torch.from_numpy(w.T.copy()).requires_grad_(True)  # nn.Linear's (out, in) layout
        tb = torch.from_numpy(b).requires_grad_(True)
        tdy = torch.from_numpy(dy)

        def theirs():
            tx.grad = tw.grad = tb.grad = None
            if backward:
                torch.nn.functional.linear(tx, tw, tb).backward(tdy)
            else:
                with torch.no_grad():
                    torch.nn.functional.linear(tx, tw, tb)
    times = _time({"tinyvid": ours, "torch": theirs}, quick)
    flops = (3 if backward else 1) * 2 * x_shape[0] * w_shape[0] * w_shape[1]
    label = "dense " + ("fwd+bwd" if backward else "fwd")
    return _row(label, f"x{x_shape} w{w_shape}", flops, times, torch is not None)


def run(quick=False):
    """Every row of the kernels table; `quick` keeps the model's layers and drops the rest.

    The kernels are timed as training runs them, after `tune_for_training()` (kernels/process.py).
    """
    tune_for_training()
    rows = [
        bench_sgemm(quick),
        bench_conv2d(*CONV2, backward=False, quick=quick, name="conv2 32->64 fwd"),
        bench_conv2d(*CONV2, quick=quick, name=CONV2_FWD_BWD),
        bench_conv2d(*CONV1, backward=False, quick=quick, name="conv1 3->32 fwd"),
        bench_conv2d(*CONV1, need_dx=False, quick=quick, name="conv1 3->32 fwd+bwd (no dx)"),
    ]
    if not quick:
        rows += [bench_pool("max", backward=False), bench_pool("avg", backward=False),
                 bench_pool("avg")]
    rows += [bench_pool("max", quick=quick), bench_dense(backward=False, quick=quick),
             bench_dense(quick=quick)]
    if not quick:
        rows += bench_conv_choices()
    for row in rows:
        row["ms"] = row["seconds"] * 1e3
        row["torch_ms"] = None if row["torch_seconds"] is None else row["torch_seconds"] * 1e3
    return rows


CONV2_FWD_BWD = "conv2 32->64 fwd+bwd"
"""The row whose /sgemm ratio is the suite's headline for the kernels."""

TITLE = "Kernels (float32; the document's model's layers at 64x64 frames, batch 32)"
COLUMNS = [
    ("name", "kernel", "{}"), ("shape", "shape", "{}"),
    ("ms", "ms", "{:.2f}"), ("gflops", "GFLOP/s", "{:.0f}"),
    ("sgemm_gflops", "sgemm GF/s", "{:.0f}"), ("ratio", "/sgemm", "{:.2f}"),
    ("torch_ms", "torch ms", "{:.2f}"), ("torch_gflops", "torch GF/s", "{:.0f}"),
    ("vs_torch", "vs torch", "{:.2f}"),
]


if __name__ == "__main__":
    import sys

    standalone_main(sys.modules[__name__])
