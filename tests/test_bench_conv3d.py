"""benchmarks/bench_conv3d.py runs and compares like with like: structure only, never speed."""

import os

import pytest

from benchmarks import __main__ as suite
from benchmarks import bench_conv3d, common

needs_jit = pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1",
                               reason="benchmarks time the jitted kernels")


def test_conv3d_is_a_section_of_the_suite():
    assert suite.SECTIONS["conv3d"] is bench_conv3d
    assert suite.parse_args(["--only", "conv3d"]).sections == ["conv3d"]


def test_the_two_step_models_have_the_same_layers_and_parameters():
    torch = pytest.importorskip("torch")
    model = bench_conv3d.tinyvid_model()
    torch_model = bench_conv3d.torch_model(torch)
    assert model.count_params() == sum(p.numel() for p in torch_model.parameters())
    assert model.compute_output_shape((None, 8, 64, 64, 3)) == (None, bench_conv3d.CLASSES)


@needs_jit
def test_a_conv3d_row_has_every_column():
    row = bench_conv3d.bench_conv3d((2, 3, 6, 6, 2), (3, 3, 3, 2, 4), quick=True, name="tiny")
    for key, _, _ in bench_conv3d.COLUMNS:
        if key not in ("clips", "torch_clips"):
            assert key in row
    assert row["gflops"] > 0 and row["ratio"] > 0
    assert (row["vs_torch"] is None) == (common.optional_torch() is None)
    assert common.format_table([row], bench_conv3d.COLUMNS).splitlines()[2].startswith("tiny")
