"""benchmarks/bench_mpi.py: its inputs and its skip row (the 2-rank job itself runs in CI's
`python -m benchmarks --quick`, never timed in tests)."""

from benchmarks import __main__ as suite
from benchmarks import bench_mpi


def test_the_mpi_section_is_part_of_the_suite():
    assert suite.SECTIONS["mpi"] is bench_mpi
    assert suite.parse_args(["--only", "mpi"]).sections == ["mpi"]


def test_the_temporal_models_gradient_size_is_its_conv3d_and_dense_weights():
    expected = (27 * 3 * 32 + 32) + (27 * 32 * 64 + 64) + (27 * 64 * 128 + 128) \
        + (27 * 128 * 256 + 256) + (256 * 10 + 10)
    assert bench_mpi.temporal_model_parameters() == expected == 1_166_858


def test_without_mpiexec_the_section_is_one_row_saying_it_skipped(monkeypatch):
    monkeypatch.setattr(bench_mpi, "_mpiexec", lambda: None)
    rows = bench_mpi.run(quick=True)
    assert len(rows) == 1 and rows[0]["name"].startswith("skipped: no mpi4py or mpiexec")
