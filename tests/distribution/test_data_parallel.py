"""DataParallel under `mpiexec -n 2`, against one process: same weights, same logs, one
checkpoint, and a failing rank ending the job. Skipped without mpi4py or mpiexec.

Each mpiexec run starts two Python processes (a few seconds each on a loaded machine), so the
equivalence checks share one run (the `two_ranks` fixture) and pytest's own process computes
the one-process reference with the very same code (tests/distribution/mpi_worker.py).
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.distribution import mpi_worker
from tinyvid.datasets import make_moving_shapes

REPO = pathlib.Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def mpiexec_command(n):
    pytest.importorskip("mpi4py", reason="mpi4py is not installed (pip install -e '.[mpi]')")
    mpiexec = (shutil.which("mpiexec", path=os.path.dirname(sys.executable))
               or shutil.which("mpiexec"))
    if mpiexec is None:
        pytest.skip("mpiexec not found (pip install -e '.[mpi]' brings MPICH's)")
    version = subprocess.run([mpiexec, "--version"], capture_output=True, text=True).stdout
    extra = ["--allow-run-as-root", "--oversubscribe"] if "Open MPI" in version else []
    return [mpiexec, *extra, "-n", str(n)]


def run_under_mpiexec(args, timeout=120, n=2):
    """Run `python args...` on n ranks from the repository root; returns (result, seconds)."""
    command = mpiexec_command(n) + [sys.executable, *args]
    started = time.monotonic()
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    return result, time.monotonic() - started


def load(out, rank, name):
    with np.load(out / f"rank{rank}-{name}.npz") as saved:
        weights = [saved[f"arr_{i}"] for i in range(len(saved.files))]
    history_file = out / f"rank{rank}-{name}.json"
    history = json.loads(history_file.read_text()) if history_file.exists() else None
    return weights, history


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos") / "shapes"
    return make_moving_shapes(root, videos_per_class=3, num_frames=4, size=16,
                              classes=("red_circle", "blue_square", "green_triangle"))


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory, videos):
    """The equivalence scenario on 2 ranks, and in this process alone (the reference)."""
    mpiexec_command(2)  # skip before doing any work
    parallel, single = tmp_path_factory.mktemp("two-ranks"), tmp_path_factory.mktemp("one")
    result, _ = run_under_mpiexec(["-m", "tests.distribution.mpi_worker", "equivalence",
                                   str(parallel), str(videos)])
    assert result.returncode == 0, result.stdout + result.stderr
    mpi_worker.equivalence(single, 0, videos)
    return parallel, single


def assert_same(parallel, single, name, rtol):
    reference, reference_history = load(single, 0, name)
    for rank in (0, 1):
        weights, history = load(parallel, rank, name)
        for got, expected in zip(weights, reference, strict=True):
            np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * 1e-2)
        if reference_history is not None:
            for key, values in reference_history.items():
                np.testing.assert_allclose(history[key], values, rtol=rtol, atol=rtol * 1e-2,
                                           err_msg=key)
    rank0, _ = load(parallel, 0, name)
    rank1, _ = load(parallel, 1, name)
    for a, b in zip(rank0, rank1, strict=True):
        np.testing.assert_array_equal(a, b)  # the same step on every rank: identical, not close


def test_one_step_on_two_ranks_equals_one_process_in_float64(two_ranks):
    assert_same(*two_ranks, "one-step-float64", rtol=1e-12)


def test_one_step_on_two_ranks_equals_one_process_in_float32_to_rounding(two_ranks):
    assert_same(*two_ranks, "one-step-float32", rtol=1e-5)


def test_fit_for_two_epochs_on_two_ranks_equals_one_process(two_ranks):
    parallel, _ = two_ranks
    assert_same(*two_ranks, "fit", rtol=1e-12)
    _, history = load(parallel, 0, "fit")
    assert len(history["loss"]) == 2 and "val_loss" in history


def test_only_rank_0_writes_the_checkpoint(two_ranks):
    parallel, _ = two_ranks
    assert (parallel / "checkpoint-rank0.weights.npz").exists()
    assert not (parallel / "checkpoint-rank1.weights.npz").exists()
    assert not list(parallel.glob("*.tmp"))


def test_a_rank_with_an_empty_share_of_the_last_batch_takes_the_same_step(two_ranks):
    assert_same(*two_ranks, "fit-empty-share", rtol=1e-12)


def test_rank_0_decides_when_to_stop(two_ranks):
    parallel, _ = two_ranks
    for rank in (0, 1):
        _, history = load(parallel, rank, "stop")
        assert len(history["loss"]) == 1  # rank 1's own callback never asked to stop


def test_fit_on_frame_batches_reads_each_ranks_share_and_equals_one_process(two_ranks):
    parallel, single = two_ranks
    reference, reference_history = load(single, 0, "frames")
    for rank in (0, 1):
        weights, history = load(parallel, rank, "frames")
        for got, expected in zip(weights, reference, strict=True):
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(history["loss"], reference_history["loss"], rtol=1e-12)
        assert history["rows_read_in_batch_0"] == [4]  # half of a batch of 8
    assert reference_history["rows_read_in_batch_0"] == [8]


def test_batch_normalization_statistics_are_each_ranks_own(two_ranks):
    """One step on 2 ranks = the mean of one-process gradients, one per share (each share
    normalised by its own statistics); rank 0 keeps the moving statistics of its share."""
    parallel, _ = two_ranks
    if mpi_worker.batch_norm_model(8) is None:
        pytest.skip("tinyvid.layers has no BatchNormalization yet (issue 11, branch of /work/wt/B)")
    x, y = mpi_worker.frames_and_labels(8)
    initial, _ = load(parallel, 0, "bn-initial")
    models, gradients = [], []
    for rows in (slice(0, 4), slice(4, 8)):  # rank 0's share, rank 1's share
        model = mpi_worker.batch_norm_model(8)
        model.compile(optimizer="sgd", loss="categorical_crossentropy")
        model.set_weights(initial)
        model.loss(y[rows], model(x[rows], training=True)).backward()
        models.append(model)
        gradients.append([w.grad for w in model.trainable_weights])
    for rank, model in enumerate(models):
        for w, g0, g1 in zip(model.trainable_weights, *gradients):
            w.data -= 0.1 * (g0 + g1) / 2  # SGD(0.1) on the mean of the two shares' gradients
        weights, _ = load(parallel, rank, "bn-one-step")
        for got, expected in zip(weights, model.get_weights(), strict=True):
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("how, message", [
    ("raise", "rank 1 of 2 failed with RuntimeError: a failure on purpose"),
    ("hang", "got no answer from the other ranks within 2 s"),
    ("kill", None),
])
def test_a_failing_rank_ends_the_whole_job_with_the_rank_named(tmp_path, how, message):
    result, seconds = run_under_mpiexec(["-m", "tests.distribution.mpi_worker", how,
                                         str(tmp_path)], timeout=90)
    assert result.returncode != 0
    assert "fit ended normally" not in result.stdout
    if message is not None:
        assert message in result.stderr, result.stderr[-2000:]
    if how == "hang":
        assert "rank 0 of 2" in result.stderr
    assert seconds < 60  # not the 120 s rank 1 hangs for, nor forever


def test_tinyvid_train_under_mpiexec_trains_data_parallel(tmp_path, videos):
    out = tmp_path / "out"
    cache, _ = run_under_mpiexec(["-m", "tinyvid.cli", "cache", str(videos), "--frames", "4",
                                  "--size", "16", "--out", str(out)])
    assert cache.returncode == 0, cache.stderr
    assert cache.stdout.splitlines()[0].startswith("data-parallel on 2 MPI ranks")
    assert "cached 9 of 9 videos" in cache.stdout
    assert len(list((out / "frame-cache").rglob("*.npy"))) == 9
    train, _ = run_under_mpiexec(["-m", "tinyvid.cli", "train", str(videos), "--frames", "4",
                                  "--size", "16", "--epochs", "1", "--batch-size", "8",
                                  "--out", str(out)])
    assert train.returncode == 0, train.stderr
    lines = train.stdout.splitlines()
    assert lines[0].startswith("data-parallel on 2 MPI ranks")
    assert sum("validation accuracy" in line for line in lines) == 1  # rank 0 alone prints
    assert (out / "model.weights.npz").exists() and (out / "history.json").exists()
    assert not list(out.glob("*.tmp"))


def test_an_error_in_tinyvid_train_under_mpiexec_ends_every_rank(tmp_path):
    result, seconds = run_under_mpiexec(["-m", "tinyvid.cli", "train", str(tmp_path / "nowhere"),
                                         "--out", str(tmp_path / "out")], timeout=90)
    assert result.returncode != 0
    assert "tinyvid train: error:" in result.stderr and "of 2: tinyvid train failed" in result.stderr
    assert seconds < 60
