"""The benchmark suite runs and says what it should: structure only, never speed.

The whole `python -m benchmarks --quick` runs in CI (.ci/run); here, the cheap parts: the command
line, two sections end to end through --json, single rows of the others on small shapes.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from benchmarks import __main__ as suite
from benchmarks import bench_kernels, bench_memory, common
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


@needs_jit
@pytest.mark.slow
def test_suite_writes_json_and_prints_tables(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--only", "train,jit",
                           "--json", str(out)], cwd=ROOT, capture_output=True, text=True,
                          check=True)
    assert "OPENBLAS_CORETYPE" in proc.stdout and "## Summary" in proc.stdout
    document = json.loads(out.read_text())
    assert document["quick"] is True and set(document["sections"]) == {"train", "jit"}
    assert "threading layer" in document["machine"]["numba"]
    (step,) = document["sections"]["train"]
    assert step["tinyvid_fps"] > 0 and np.isfinite(step["tinyvid_ms"])
    assert (step["torch_fps"] is None) == (common.optional_torch() is None)
    assert document["sections"]["jit"][-1]["name"] == "total"
    assert "training step tinyvid / PyTorch" in document["summary"]
