"""The benchmark suite runs and says what it should: structure only, never speed.

The whole `python -m benchmarks --quick` runs in CI (.ci/run); here, the cheap parts: the command
line, one section end to end through --json, single rows of the others on small shapes.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from benchmarks import __main__ as suite
from benchmarks import bench_jit, bench_kernels, bench_memory, bench_train, common
from tinyvid.datasets import make_moving_shapes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Plain-Python kernels would take minutes on benchmark shapes.
needs_jit = pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1",
                               reason="benchmarks time the jitted kernels")


def test_only_rejects_an_unknown_section(capsys):
    with pytest.raises(SystemExit):
        suite.parse_args(["--only", "kernels,gpu"])
    assert "unknown section(s) gpu" in capsys.readouterr().err
    assert suite.parse_args(["--only", "train, jit"]).sections == ["train", "jit"]


def test_blocked_median_times_alternates_blocks():
    calls = []
    fns = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    times = common.blocked_median_times(fns, rounds=2, per_block=2, warmup=1, settle=0)
    assert calls == ["a"] * 3 + ["b"] * 3 + ["a"] * 3 + ["b"] * 3
    assert set(times) == {"a", "b"} and all(t >= 0 for t in times.values())


def test_machine_info_names_the_settings_in_force(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    info = common.machine_info()
    assert info["OPENBLAS_CORETYPE"] == "Haswell"
    for key in ("cpu", "load average", "numpy", "numba", "blas", "torch", "OPENBLAS_L2_SIZE"):
        assert key in info
    assert "threading layer" in info["numba"] and "default" not in info["numba"]


def test_summary_reads_the_headline_rows():
    kernels = [dict(name=bench_kernels.CONV2_FWD_BWD, ratio=0.7, gflops=190.0, sgemm_gflops=270.0)]
    train = [dict(tinyvid_fps=200.0, torch_fps=None, ratio_vs_torch=None)]
    lines = suite.summary({"kernels": kernels, "train": train})
    assert lines["conv2d fwd+bwd / sgemm"].startswith("0.70 (190 of 270 GFLOP/s")
    assert "PyTorch not installed" in lines["training step tinyvid / PyTorch"]
    train[0].update(torch_fps=250.0, ratio_vs_torch=0.8)
    assert suite.summary({"train": train})["training step tinyvid / PyTorch"].startswith("0.80x")


@needs_jit
def test_a_kernel_row_has_every_column():
    row = bench_kernels.bench_conv2d((2, 10, 10, 3), (3, 3, 3, 4), quick=True, name="tiny")
    row["ms"], row["torch_ms"] = row["seconds"] * 1e3, None
    for key, _, _ in bench_kernels.COLUMNS:
        assert key in row
    assert row["gflops"] > 0 and row["ratio"] > 0
    assert common.format_table([row], bench_kernels.COLUMNS).splitlines()[2].startswith("tiny")


@needs_jit
@pytest.mark.slow
def test_memory_of_an_epoch_is_measured_in_a_fresh_process(tmp_path):
    root = make_moving_shapes(tmp_path / "videos", videos_per_class=2, num_frames=2, size=16,
                              classes=("red_circle", "blue_square"))
    result = bench_memory.epoch_peak(root, frames=2, size=16, batch_size=4)
    assert result["videos"] == 4 and result["frames"] == 8 and result["steps"] == 2
    assert result["peak_kb"] >= result["before_kb"] > 0


# `python -m benchmarks ARGS`, with bench_train's step (tinyvid's here, PyTorch's in its child
# process) on 4 frames of 16x16: the same code and rows, a fraction of the work.
SMALL_STEP = "import benchmarks.bench_train as b; b.BATCH, b.FRAME = 4, 16\n"
SUITE_WITH_A_SMALL_STEP = f"""
import sys
{SMALL_STEP}
from benchmarks import __main__ as suite
b.TORCH_IN_CHILD = {SMALL_STEP!r} + b.TORCH_IN_CHILD
suite.main(sys.argv[1:])
"""


@needs_jit
@pytest.mark.slow
def test_suite_writes_json_and_prints_tables(tmp_path):
    """The command line end to end in a fresh process, on the training step's section (whose
    row feeds the summary) with the step shrunk to 4 frames of 16x16: the document's 32 frames
    of 64x64 took two minutes of a loaded machine, for the same rows. The jit section's rows
    are checked on their own below."""
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-c", SUITE_WITH_A_SMALL_STEP, "--quick", "--only", "train",
                           "--json", str(out)], cwd=ROOT, capture_output=True, text=True,
                          check=True)
    assert "OPENBLAS_CORETYPE" in proc.stdout and "## Summary" in proc.stdout
    assert "## " + bench_train.TITLE in proc.stdout
    document = json.loads(out.read_text())
    assert document["quick"] is True and set(document["sections"]) == {"train"}
    assert "threading layer" in document["machine"]["numba"]
    (step,) = document["sections"]["train"]
    assert step["tinyvid_fps"] > 0 and np.isfinite(step["tinyvid_ms"])
    assert (step["torch_fps"] is None) == (common.optional_torch() is None)
    assert "training step tinyvid / PyTorch" in document["summary"]
    assert document["command"] == f"python -m benchmarks --quick --only train --json {out}"
    assert step["name"] == "training step, batch 4"  # the shrunk step, so the seam held


@needs_jit
def test_jit_rows_come_from_two_fresh_processes_sharing_one_new_cache(monkeypatch):
    """bench_jit.run's rows: one per kernel family of its script, then the total. The script
    runs for real in a fresh process, but on the default (warm) numba cache: the empty-cache
    compile that run() measures takes a minute on a loaded machine and is CI's quick run's job."""
    calls = []
    real_run = subprocess.run

    def run_on_the_warm_cache(command, env, **kwargs):
        calls.append(env["NUMBA_CACHE_DIR"])
        assert "NUMBA_DISABLE_JIT" not in env and command[1:] == ["-c", bench_jit.FIRST_CALLS]
        if len(calls) == 1:
            warm = {k: v for k, v in env.items() if k != "NUMBA_CACHE_DIR"}
            calls.append(real_run(command, env=warm, **kwargs))
        return calls[1]

    monkeypatch.setattr(bench_jit.subprocess, "run", run_on_the_warm_cache)
    rows = bench_jit.run(quick=True)
    assert len(calls) == 3 and calls[0] == calls[2] and "tinyvid-numba-cache-" in calls[0]
    assert not os.path.exists(calls[0])  # the new cache folder is gone afterwards
    families = ["import tinyvid.kernels", "conv2d forward (im2col)", "conv2d backward (+ col2im)",
                "max_pool2d fwd+bwd", "avg_pool2d fwd+bwd", "adam update"]
    assert [row["name"] for row in rows] == [f"first call: {f}" for f in families] + ["total"]
    assert all(row["cold_seconds"] > 0 and row["warm_seconds"] > 0 for row in rows)
    total = rows[-1]
    assert total["cold_seconds"] == pytest.approx(sum(r["cold_seconds"] for r in rows[:-1]))
    assert total["warm_seconds"] == pytest.approx(sum(r["warm_seconds"] for r in rows[:-1]))
    assert common.format_table(rows, bench_jit.COLUMNS).splitlines()[-1].startswith("total")
