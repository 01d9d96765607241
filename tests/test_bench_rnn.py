"""benchmarks/bench_rnn.py runs and is part of the suite: structure only, never speed."""

import pytest

from benchmarks import __main__ as suite
from benchmarks import bench_rnn


def test_the_rnn_section_is_in_the_suite():
    assert suite.SECTIONS["rnn"] is bench_rnn
    assert suite.parse_args(["--only", "rnn"]).sections == ["rnn"]
    assert [key for key, _, _ in bench_rnn.COLUMNS] == ["name", "tinyvid_ms", "torch_ms",
                                                        "vs_torch"]


@pytest.mark.parametrize("layer", ["GRU", "LSTM"])
def test_both_sides_of_a_row_run(layer):
    bench_rnn.tinyvid_fwd_bwd(layer)()
    bench_rnn.tinyvid_recurrence_fwd_bwd()()
    torch = pytest.importorskip("torch")
    bench_rnn.torch_fwd_bwd(torch, layer)()
