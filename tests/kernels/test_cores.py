"""Splitting kernels over the cores (kernels/cores.py): the shares cover the work exactly once,
and the split kernels equal the plain-Python path and the NumPy references, bit for bit where
the same shares run one after the other."""

import numpy as np
import pytest

from tinyvid.kernels import conv2d_backward, conv2d_forward, cores, dense_backward, dense_forward
from tinyvid.kernels.reference import conv2d_backward_reference, conv2d_reference, dense_reference


@pytest.mark.parametrize("n, parts", [(1, 1), (5, 2), (32, 2), (7, 3), (2, 2)])
def test_bounds_cover_every_item_once_in_order(n, parts):
    ranges = cores.bounds(n, parts)
    assert len(ranges) == parts
    assert [i for lo, hi in ranges for i in range(lo, hi)] == list(range(n))


def test_num_parts_keeps_small_work_whole_and_never_exceeds_cores_or_items():
    assert cores.num_parts(cores.MIN_PART_FLOPS - 1, 100) == 1
    assert cores.num_parts(10**12, 100) == cores.NUM_CORES
    assert cores.num_parts(10**12, 1) == 1


def test_run_parts_returns_results_in_order_and_raises_a_parts_error():
    assert cores.run_parts(lambda p: p * 10, 4) == [0, 10, 20, 30]
    assert cores.run_parts(lambda p: p, 3, jit=False) == [0, 1, 2]

    def fails_in_part_1(p):
        if p == 1:
            raise ValueError("part 1 failed")
        return p

    with pytest.raises(ValueError, match="part 1 failed"):
        cores.run_parts(fails_in_part_1, 2)


@pytest.fixture
def two_cores(monkeypatch):
    """Split work in two even on a 1-core machine, and split small test shapes too."""
    monkeypatch.setattr(cores, "NUM_CORES", 2)
    monkeypatch.setattr(cores, "MIN_PART_FLOPS", 1)


def random(shape, dtype, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("keep_cols", [False, True])
def test_conv2d_split_over_cores_equals_plain_python_and_reference(two_cores, keep_cols):
    x, w, b = random((5, 9, 8, 3), np.float64, 1), random((3, 2, 3, 4), np.float64, 2), None
    out = conv2d_forward(x, w, b, 2, "same", keep_cols=keep_cols, chunk=2)
    y, cols = out if keep_cols else (out, None)
    np.testing.assert_array_equal(conv2d_forward(x, w, b, 2, "same", chunk=2, jit=False), y)
    np.testing.assert_allclose(y, conv2d_reference(x, w, b, 2, "same"), rtol=1e-12, atol=1e-12)
    dy = random(y.shape, np.float64, 3)
    split = conv2d_backward(dy, x, w, 2, "same", cols=cols, chunk=2)
    plain = conv2d_backward(dy, x, w, 2, "same", chunk=2, jit=False)
    for got, same, want in zip(split, plain, conv2d_backward_reference(dy, x, w, 2, "same")):
        np.testing.assert_array_equal(got, same)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_dense_split_over_cores_equals_reference(two_cores):
    x, w, b = random((4, 3, 11), np.float64, 1), random((11, 5), np.float64, 2), random(5, np.float64, 3)
    np.testing.assert_allclose(dense_forward(x, w, b), dense_reference(x, w, b), rtol=1e-12)
    dy = random((4, 3, 5), np.float64, 4)
    dx, dw, db = dense_backward(dy, x, w)
    np.testing.assert_allclose(dx, dy @ w.T, rtol=1e-12)
    np.testing.assert_allclose(dw, x.reshape(-1, 11).T @ dy.reshape(-1, 5), rtol=1e-12)
    np.testing.assert_allclose(db, dy.sum(axis=(0, 1)), rtol=1e-12)


def test_keep_freed_memory_can_be_turned_off(monkeypatch):
    from tinyvid.kernels import memory

    monkeypatch.setenv("TINYVID_KEEP_FREED_MEMORY", "0")
    assert memory.keep_freed_memory() is False
    monkeypatch.delenv("TINYVID_KEEP_FREED_MEMORY")
    assert memory.keep_freed_memory() in (True, False)  # True on glibc (Linux), False elsewhere


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_split_kernels_work_in_a_forked_child(two_cores):
    import multiprocessing

    x, w = random((4, 6, 6, 2), np.float32, 1), random((3, 3, 2, 3), np.float32, 2)
    expected = conv2d_forward(x, w)  # starts the pool's threads in this process
    with multiprocessing.get_context("fork").Pool(1) as pool:
        got = pool.apply_async(conv2d_forward, (x, w)).get(timeout=60)
    np.testing.assert_array_equal(got, expected)
