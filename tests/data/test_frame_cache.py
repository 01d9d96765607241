"""The frame cache (issue 15 item 11, issue 16): never wrong frames, cheap to read, bounded.

Each way an entry could give wrong frames is made here: a video rewritten with the same size and
its modification time restored, another video's entry copied over this one's, an entry of 16x16
frames where 32x32 are asked for, and an entry cut short. Each must be a miss (decode again).
"""

import logging
import multiprocessing
import os
import shutil

import imageio.v3 as iio
import numpy as np
import pytest

from tinyvid.data import cache as cache_module
from tinyvid.data import folder as folder_module
from tinyvid.data.cache import FrameCache, fingerprint
from tinyvid.data.folder import VideoFolder
from tinyvid.data.video import read_video


def noise(seed, count=4, size=32):
    return np.random.default_rng(seed).integers(0, 256, (count, size, size, 3), dtype=np.uint8)


def write_raw(path, frames):
    """An uncompressed avi: any frames of one shape give a file of exactly the same size."""
    path.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, frames, plugin="pyav", codec="rawvideo", fps=10, out_pixel_format="rgb24")
    return path


@pytest.fixture(scope="module")
def written_root(tmp_path_factory):
    """2 classes x 2 uncompressed videos of 4 frames, 32x32."""
    root = tmp_path_factory.mktemp("cache-videos") / "root"
    for c, name in enumerate(("a", "b")):
        for v in range(2):
            write_raw(root / name / f"{name}{v}.avi", noise(10 * c + v))
    return root


@pytest.fixture
def root(written_root, tmp_path):
    """A copy of the module's videos that a test may change."""
    return shutil.copytree(written_root, tmp_path / "root")


def entries(cache_dir):
    return sorted(cache_dir.rglob("*.npy"))


def count_decodes(monkeypatch):
    decoded = []

    def counting(path, **kwargs):
        decoded.append(path)
        return read_video(path, **kwargs)

    monkeypatch.setattr(folder_module, "read_video", counting)
    return decoded


def test_entries_are_plain_npy_files_that_load_with_mmap(root, tmp_path):
    folder = VideoFolder(root, num_frames=3, size=(16, 16), cache_dir=tmp_path / "cache")
    frames = [folder[i][0] for i in range(len(folder))]
    found = entries(tmp_path / "cache")
    assert len(found) == len(folder)
    for entry, expected in zip(found, frames):
        np.testing.assert_array_equal(np.load(entry), expected)
        mapped = np.load(entry, mmap_mode="r")
        assert mapped.shape == (3, 16, 16, 3) and mapped.dtype == np.uint8
        np.testing.assert_array_equal(mapped, expected)


def test_a_cached_read_does_not_decode(root, tmp_path, monkeypatch):
    VideoFolder(root, num_frames=3, size=(16, 16), cache_dir=tmp_path / "cache")[0]
    decoded = count_decodes(monkeypatch)
    VideoFolder(root, num_frames=3, size=(16, 16), cache_dir=tmp_path / "cache")[0]
    assert decoded == []


def test_a_video_rewritten_with_its_size_and_time_restored_is_read_again(root, tmp_path):
    folder = VideoFolder(root, num_frames=3, size=None, cache_dir=tmp_path / "cache")
    video = folder.videos[0]
    old = folder[0][0]
    stat = video.stat()
    write_raw(video, noise(99))
    os.utime(video, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # as touch -r or rsync -t do
    assert video.stat().st_size == stat.st_size and video.stat().st_mtime_ns == stat.st_mtime_ns
    new = VideoFolder(root, num_frames=3, size=None, cache_dir=tmp_path / "cache")[0][0]
    assert not np.array_equal(new, old)
    np.testing.assert_array_equal(new, read_video(video, num_frames=3))


def test_another_videos_entry_copied_over_this_ones_is_not_taken(root, tmp_path):
    folder = VideoFolder(root, num_frames=3, size=(16, 16), cache_dir=tmp_path / "cache")
    first, second = folder[0][0], folder[1][0]
    entry_0, entry_1 = (folder.cache.entry_path(v) for v in folder.videos[:2])
    stat = entry_0.stat()
    shutil.copyfile(entry_1, entry_0)
    os.utime(entry_0, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    again = VideoFolder(root, num_frames=3, size=(16, 16), cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(again[0][0], first)
    np.testing.assert_array_equal(again[1][0], second)


def test_an_entry_of_another_frame_size_is_not_taken(root, tmp_path):
    small = VideoFolder(root, num_frames=3, size=(16, 16), cache_dir=tmp_path / "cache")
    large = VideoFolder(root, num_frames=3, size=(32, 32), cache_dir=tmp_path / "cache")
    small[0]
    shutil.copyfile(small.cache.entry_path(small.videos[0]),
                    large.cache.entry_path(large.videos[0]))
    assert large[0][0].shape == (3, 32, 32, 3)


def test_an_entry_whose_key_is_right_but_whose_frames_are_not_is_not_taken(root, tmp_path):
    # A record that matches over frames of the wrong shape: the header is checked too.
    folder = VideoFolder(root, num_frames=3, size=(32, 32), cache_dir=tmp_path / "cache")
    video = folder.videos[0]
    folder.cache.store(video, np.zeros((3, 16, 16, 3), np.uint8), folder.cache.key(video))
    assert folder.cache.load(video) is None
    assert folder[0][0].shape == (3, 32, 32, 3)


@pytest.mark.parametrize("damage", ["cut short", "garbage", "empty"])
def test_a_damaged_entry_is_a_miss(root, tmp_path, damage):
    folder = VideoFolder(root, num_frames=3, size=(16, 16), cache_dir=tmp_path / "cache")
    frames = folder[0][0]
    entry = folder.cache.entry_path(folder.videos[0])
    data = entry.read_bytes()
    entry.write_bytes({"cut short": data[:-40], "garbage": b"\x93NUMPY" + bytes(300),
                       "empty": b""}[damage])
    assert folder.cache.load(folder.videos[0]) is None
    np.testing.assert_array_equal(folder[0][0], frames)


def test_the_fingerprint_reads_the_start_middle_and_end(tmp_path):
    path = tmp_path / "big.bin"
    data = bytearray(np.random.default_rng(0).bytes(1_000_000))
    path.write_bytes(data)
    before = fingerprint(path)
    for at in (10, len(data) // 2, len(data) - 10):
        changed = bytearray(data)
        changed[at] ^= 1
        path.write_bytes(changed)
        assert fingerprint(path) != before
    path.write_bytes(data)
    assert fingerprint(path) == before


def test_cache_max_bytes_bounds_the_folder_with_one_warning(root, tmp_path, caplog):
    one_entry = 3 * 16 * 16 * 3 + 400
    cache_dir = tmp_path / "cache"
    with caplog.at_level(logging.WARNING):
        for _epoch in range(3):
            for split in ("train", "validation"):
                folder = VideoFolder(root, num_frames=3, size=(16, 16), split=split,
                                     validation_fraction=0.5, cache_dir=cache_dir,
                                     cache_max_bytes=int(1.5 * one_entry))
                for i in range(len(folder)):
                    assert folder[i][0].shape == (3, 16, 16, 3)
    assert len(entries(cache_dir)) == 1
    assert sum(e.stat().st_size for e in entries(cache_dir)) <= 1.5 * one_entry
    full = [r for r in caplog.records if "is full" in r.getMessage()]
    assert len(full) == 1 and str(cache_dir) in full[0].getMessage()


def test_an_unwritable_cache_warns_once(root, tmp_path, caplog):
    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("a file where the cache folder should be")
    with caplog.at_level(logging.WARNING):
        for _epoch in range(2):
            folder = VideoFolder(root, num_frames=2, size=(8, 8), cache_dir=not_a_folder)
            for i in range(len(folder)):
                assert folder[i][0].shape == (2, 8, 8, 3)
    problems = [r for r in caplog.records if "could not write the frame cache" in r.getMessage()]
    assert len(problems) == 1
    assert not list(tmp_path.rglob("*.tmp"))


def test_invalid_cache_max_bytes(root):
    for bad in (-1, 1.5, "1G", True):
        with pytest.raises(ValueError, match="Invalid cache_max_bytes"):
            VideoFolder(root, cache_max_bytes=bad)


def _read_every_video(args):
    root, cache_dir = args
    folder = VideoFolder(root, num_frames=3, size=(16, 16), cache_dir=cache_dir)
    return [folder[i][0].tobytes() for i in range(len(folder))]


def test_several_processes_share_one_cache_folder(root, tmp_path):
    cache_dir = tmp_path / "cache"
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = pool.map(_read_every_video, [(root, cache_dir)] * 4)
    assert all(r == results[0] for r in results)
    expected = VideoFolder(root, num_frames=3, size=(16, 16))
    for i, frames in enumerate(results[0]):
        assert frames == expected[i][0].tobytes()
    assert len(entries(cache_dir)) == len(expected)
    assert not list(cache_dir.rglob("*.tmp"))
    cache = FrameCache(cache_dir / "x", root, 3, (16, 16))
    assert cache_module.CACHE_VERSION == 2 and cache.max_bytes is None


def test_an_entry_of_every_frame_at_the_stored_size(root, tmp_path):
    video = sorted(root.rglob("*.avi"))[0]
    cache = FrameCache(tmp_path / "cache", root, num_frames=None, size=None)
    frames = read_video(video)
    cache.store(video, frames, cache.key(video))
    assert cache.entry_path(video).name == f"{video.name}.allf.native.npy"
    np.testing.assert_array_equal(cache.load(video), frames)
