"""Kernel benchmarks: conv2d, pooling and dense, against the same run's sgemm and PyTorch.

Every row times tinyvid, numpy's 2048x2048 float32 `a @ b` (sgemm) and PyTorch (when it imports)
in alternating blocks, so the ratios in a row are taken within one run even on a shared, noisy
machine. Blocks, not single calls: each library's thread pool keeps spinning for a while after it
returns (OpenBLAS's workers, PyTorch's OpenMP), and a call made right after a call of the other
library ran up to 2x slower; the untimed first call of each block absorbs that.
    ratio       = tinyvid GFLOP/s / sgemm GFLOP/s           (the issue asks >= 0.5, goal 0.8)
    vs torch    = PyTorch's time / tinyvid's time           (1.0 = as fast as PyTorch)
FLOPs: 2*N*OH*OW*KH*KW*Cin*Cout per conv pass (forward, dx, dw); fwd+bwd is 3 passes, or 2 when
the input needs no gradient (a model's first layer). Dense: 2*rows*in*out per pass.

Run it:  python -m benchmarks.bench_kernels [--quick]
Each bench_* function returns result dicts, so `python -m benchmarks` can gather them.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks.common import format_table, machine_info, optional_torch
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
)

SGEMM_N = 2048
# The source document's model at 64x64 frames, batch 32: its two convolutions and its big dense.
CONV1 = ((32, 64, 64, 3), (3, 3, 3, 32))
CONV2 = ((32, 62, 62, 32), (3, 3, 32, 64))
DENSE = ((32, 230400), (230400, 64))
POOL_INPUT = (32, 60, 60, 64)


def blocked_median_times(fns, rounds=3, per_block=3, warmup=1):
    """Median time of each function, timed in blocks: fn, fn, fn, then the next function, ...

    Each block starts with `warmup` untimed calls; `rounds` passes over all the functions.
    """
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            for _ in range(warmup):
                fn()
            for _ in range(per_block):
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


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


# The first call of each kernel in a fresh process, as a training step makes them (float32).
_FIRST_CALLS = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
from tinyvid import kernels as K
times = {"import tinyvid.kernels": time.perf_counter() - t0}
x = np.ones((2, 6, 6, 3), np.float32); w = np.ones((3, 3, 3, 4), np.float32)
def first(name, fn):
    t = time.perf_counter(); fn(); times[name] = time.perf_counter() - t
first("conv2d forward (im2col)", lambda: K.conv2d_forward(x, w))
dy = np.ones((2, 4, 4, 4), np.float32)
first("conv2d backward (+ col2im)", lambda: K.conv2d_backward(dy, x, w))
first("max_pool2d fwd+bwd", lambda: K.max_pool2d_backward(np.ones((2, 3, 3, 3), np.float32),
      K.max_pool2d_forward(x)[1], x.shape))
first("avg_pool2d fwd+bwd", lambda: (K.avg_pool2d_forward(x), K.avg_pool2d_backward(
      np.ones((2, 3, 3, 3), np.float32), x.shape)))
print(json.dumps(times))
"""


def bench_compile_time(quick=False):
    """First-call time of the float32 kernels in a fresh process: empty cache, then warm cache.

    Runs a subprocess twice with one temporary NUMBA_CACHE_DIR: the first compiles and writes
    the cache (what the first run after installing or editing pays), the second loads it.
    """
    with tempfile.TemporaryDirectory(prefix="tinyvid-numba-cache-") as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        env.pop("NUMBA_DISABLE_JIT", None)
        runs = []
        for _ in range(2):
            out = subprocess.run([sys.executable, "-c", _FIRST_CALLS], env=env, check=True,
                                 capture_output=True, text=True).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
    cold, warm = runs
    return [dict(name=f"first call: {k}", cold_seconds=cold[k], warm_seconds=warm[k])
            for k in cold] + [dict(name="first call: total", cold_seconds=sum(cold.values()),
                                   warm_seconds=sum(warm.values()))]


def run_all(quick=False):
    """Every benchmark of this module: (timing rows, compile-time rows)."""
    rows = [
        bench_sgemm(quick),
        bench_conv2d(*CONV2, backward=False, quick=quick, name="conv2 32->64 fwd"),
        bench_conv2d(*CONV2, quick=quick, name="conv2 32->64 fwd+bwd"),
        bench_conv2d(*CONV1, backward=False, quick=quick, name="conv1 3->32 fwd"),
        bench_conv2d(*CONV1, need_dx=False, quick=quick, name="conv1 3->32 fwd+bwd (no dx)"),
        bench_pool("max", backward=False, quick=quick),
        bench_pool("max", quick=quick),
        bench_pool("avg", backward=False, quick=quick),
        bench_pool("avg", quick=quick),
        bench_dense(backward=False, quick=quick),
        bench_dense(quick=quick),
    ]
    rows += bench_conv_choices(quick)
    return rows, bench_compile_time(quick)


TIMING_COLUMNS = [
    ("name", "benchmark", "{}"), ("shape", "shape", "{}"),
    ("ms", "ms", "{:.2f}"), ("gflops", "GFLOP/s", "{:.0f}"),
    ("sgemm_gflops", "sgemm GF/s", "{:.0f}"), ("ratio", "/sgemm", "{:.2f}"),
    ("torch_ms", "torch ms", "{:.2f}"), ("torch_gflops", "torch GF/s", "{:.0f}"),
    ("vs_torch", "vs torch", "{:.2f}"),
]
COMPILE_COLUMNS = [("name", "JIT", "{}"), ("cold_seconds", "empty cache s", "{:.2f}"),
                   ("warm_seconds", "warm cache s", "{:.3f}")]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    args = parser.parse_args(argv)
    info = machine_info()
    info["OMP_WAIT_POLICY"] = os.environ.get("OMP_WAIT_POLICY", "(unset)")
    for key, value in info.items():
        print(f"{key:>18}: {value}")
    print()
    rows, compile_rows = run_all(quick=args.quick)
    for row in rows:
        row["ms"] = row["seconds"] * 1e3
        row["torch_ms"] = None if row["torch_seconds"] is None else row["torch_seconds"] * 1e3
    print(format_table(rows, TIMING_COLUMNS))
    print()
    print(format_table(compile_rows, COMPILE_COLUMNS))


if __name__ == "__main__":
    main()
