"""tinyvid.distribution without mpiexec: nothing changes, nothing is imported, shards add up,
and the frame cache takes several writers at once. (The MPI runs are in test_data_parallel.py.)
"""

import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinyvid import distribution
from tinyvid.cli import main
from tinyvid.datasets import FrameBatches, VideoFolder, make_moving_shapes

REPO = pathlib.Path(__file__).resolve().parents[2]


def test_importing_tinyvid_does_not_import_mpi4py():
    code = ("import sys, tinyvid, tinyvid.distribution, tinyvid.cli; "
            "print(sorted(m for m in sys.modules if m.startswith('mpi4py')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO, check=True)
    assert result.stdout.strip() == "[]"


ONE_RANK = textwrap.dedent("""
    import numpy as np
    from tests.distribution.mpi_worker import document_model, frames_and_labels
    from tinyvid.distribution import DataParallel, distribution, set_distribution
    from tinyvid.utils import set_random_seed

    def train():
        set_random_seed(5)
        x, y = frames_and_labels(6)
        model = document_model(3, 8)
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
        history = model.fit(x, y, batch_size=4, epochs=2, validation_data=(x, y), verbose=0)
        return model.get_weights(), history.history

    alone = train()
    set_distribution(DataParallel())
    assert distribution().num_processes == 1
    together = train()
    assert all(np.array_equal(a, b) for a, b in zip(alone[0], together[0]))
    assert alone[1] == together[1], (alone[1], together[1])
    print("same")
""")


@pytest.mark.slow
def test_data_parallel_on_one_rank_trains_exactly_as_without_it():
    pytest.importorskip("mpi4py", reason="mpi4py is not installed (pip install -e '.[mpi]')")
    result = subprocess.run([sys.executable, "-c", ONE_RANK], capture_output=True, text=True,
                            cwd=REPO, timeout=120)
    assert result.returncode == 0 and result.stdout.strip().endswith("same"), result.stderr


def test_data_parallel_without_mpi4py_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # `import mpi4py` now fails
    with pytest.raises(ImportError, match=r'pip install -e "\.\[mpi\]"'):
        distribution.DataParallel()


def test_data_parallel_checks_its_timeout_before_touching_mpi():
    with pytest.raises(ValueError, match="DataParallel: invalid value for argument `timeout`"):
        distribution.DataParallel(timeout=0)


def test_set_distribution_accepts_only_a_data_parallel_or_none():
    with pytest.raises(ValueError, match="set_distribution: expected"):
        distribution.set_distribution("data_parallel")
    distribution.set_distribution(None)
    assert distribution.distribution() is None


def test_without_a_distribution_every_hook_gives_back_what_it_got():
    assert distribution.is_chief() and distribution.shard() == (0, 1)
    assert distribution.stop_flag(True) is True and distribution.stop_flag(False) is False
    logs = {"loss": 0.5}
    assert distribution.reduce_logs([], logs) is logs
    assert distribution.sum_over_ranks([2, 3]) == [2, 3]

    class Weight:
        data, grad = np.ones(3), np.full(3, 2.0)

    weight = Weight()
    distribution.average_gradients([weight], 4)
    np.testing.assert_array_equal(weight.grad, [2.0, 2.0, 2.0])


@pytest.mark.parametrize("variables, expected", [
    ({"PMI_SIZE": "4"}, 4), ({"OMPI_COMM_WORLD_SIZE": "3"}, 3), ({}, None)])
def test_launched_size_reads_the_launchers_variables(monkeypatch, variables, expected):
    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert distribution.launched_size() == expected


def test_list_devices_without_mpiexec_is_this_process_alone(monkeypatch):
    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    if "mpi4py.MPI" not in sys.modules:
        assert distribution.list_devices() == ["cpu:0"]
    assert distribution.list_devices("gpu") == []
    with pytest.raises(ValueError, match="list_devices: invalid value for argument `device_type`"):
        distribution.list_devices("abacus")


@given(st.integers(0, 40), st.integers(1, 9))
def test_the_shards_of_a_batch_put_back_together_are_the_batch(n, size):
    bounds = [distribution.shard_bounds(n, rank, size) for rank in range(size)]
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(stop == start for (_, stop), (start, _) in zip(bounds, bounds[1:]))
    lengths = [stop - start for start, stop in bounds]
    assert max(lengths) - min(lengths) <= 1 and lengths == sorted(lengths, reverse=True)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    return make_moving_shapes(tmp_path_factory.mktemp("videos") / "shapes", videos_per_class=3,
                              num_frames=4, size=16, classes=("red_circle", "blue_square"))


def test_frame_batches_shards_are_the_rows_of_the_whole_batch(videos, tmp_path):
    folder = VideoFolder(videos, num_frames=4, size=(16, 16), cache_dir=tmp_path)
    whole = FrameBatches(folder, batch_size=7, seed=1, shard=None)
    shards = [FrameBatches(folder, batch_size=7, seed=1, shard=(rank, 2)) for rank in (0, 1)]
    assert len(shards[0]) == len(shards[1]) == len(whole)  # the global number of steps
    assert not whole.reads_own_shard and shards[1].reads_own_shard
    for i in range(len(whole)):
        x, y = whole[i]
        np.testing.assert_array_equal(np.concatenate([s[i][0] for s in shards]), x)
        np.testing.assert_array_equal(np.concatenate([s[i][1] for s in shards]), y)
    assert not FrameBatches(folder, batch_size=7).reads_own_shard  # "auto", no distribution


def test_frame_batches_refuses_a_bad_shard(videos):
    folder = VideoFolder(videos, num_frames=4, size=(16, 16))
    with pytest.raises(ValueError, match="FrameBatches: invalid value for argument `shard`"):
        FrameBatches(folder, shard=(2, 2))


WRITER = textwrap.dedent("""
    import os, pathlib, sys, time
    import numpy as np
    from tinyvid.data.video import read_video
    from tinyvid.datasets import VideoFolder

    folder = VideoFolder(sys.argv[1], num_frames=4, size=(16, 16), cache_dir=sys.argv[2])
    frames = [read_video(p, num_frames=4, size=(16, 16)) for p in folder.videos]
    ready = pathlib.Path(sys.argv[3])
    (ready / str(os.getpid())).touch()
    while len(list(ready.iterdir())) < 2:  # start writing together, not one after the other
        time.sleep(0.01)
    for _ in range(10):  # write every entry again and again while the other process does
        for path, expected in zip(folder.videos, frames):
            folder.cache.store(path, expected, folder.cache.key(path))
            cached = folder.cache.load(path)
            assert cached is not None and np.array_equal(cached, expected), path
    print("ok")
""")


@pytest.mark.slow
def test_two_processes_writing_the_same_cache_entries_at_once(videos, tmp_path):
    cache = tmp_path / "not" / "made" / "yet"  # both processes race to make the folders too
    ready = tmp_path / "ready"
    ready.mkdir()
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(videos), str(cache), str(ready)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=REPO, env={**os.environ, "NUMBA_DISABLE_JIT": "1"})
               for _ in range(2)]
    for writer in writers:
        out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0 and out.strip() == "ok", err
    entries = list(cache.rglob("*.npy"))
    assert len(entries) == 6 and not list(cache.rglob("*.tmp"))
    folder = VideoFolder(videos, num_frames=4, size=(16, 16), cache_dir=cache)
    assert all(folder._is_cached(path) for path in folder.videos)


def test_tinyvid_cache_without_mpiexec_decodes_every_video_once(videos, tmp_path, capsys):
    assert main(["cache", str(videos), "--frames", "4", "--size", "16", "--out", str(tmp_path)]) == 0
    assert "cached 6 of 6 videos (4 frames at 16x16, for single_frame)" in capsys.readouterr().out
    folder = VideoFolder(videos, num_frames=4, size=(16, 16), cache_dir=tmp_path / "frame-cache")
    assert all(folder._is_cached(path) for path in folder.videos)


def test_tinyvid_cache_for_a_clip_model_holds_what_its_training_reads(videos, tmp_path, capsys):
    """A clip model's VideoFolder reads every frame: the cache must hold those, not 4 frames."""
    from tinyvid.training import video_training

    assert main(["cache", str(videos), "--model", "slow_fusion", "--frames", "4", "--size",
                 "16", "--out", str(tmp_path)]) == 0
    assert "cached 6 of 6 videos (every frame at 16x16, for slow_fusion)" in capsys.readouterr().out
    train, validation = video_training.video_folders("slow_fusion", videos, 4, 16, 0,
                                                     tmp_path / "frame-cache", None)
    for folder in (train, validation):
        assert len(folder) and all(folder.cached_frames(i) is not None for i in range(len(folder)))


def test_tinyvid_cache_on_a_missing_folder_is_one_clear_line(tmp_path, capsys):
    assert main(["cache", str(tmp_path / "nowhere")]) == 2
    assert "tinyvid cache: error:" in capsys.readouterr().err
