"""Folders of videos: the moving-shapes set, VideoFolder (split, cache, skipping), FrameBatches
and evaluate_videos.

The folders here are small moving-shapes sets written once per module. FrameBatches and
evaluate_videos are also checked on a fake folder whose frames' pixels say which video and
which frame they are, so that every sample of an epoch can be accounted for without decoding.
"""

import json
import logging
import os
import re
import shutil

import av
import numpy as np
import pytest

from tinyvid.data import folder as folder_module
from tinyvid.datasets import (
    FrameBatches,
    VideoFolder,
    evaluate_videos,
    make_moving_shapes,
    moving_shapes_video,
)
from tinyvid.video import VideoReadError, read_video

CLASSES = ("red_circle", "green_square", "blue_triangle")


@pytest.fixture(scope="module")
def shapes_root(tmp_path_factory):
    """3 classes x 5 videos x 6 frames of 32 x 32."""
    return make_moving_shapes(tmp_path_factory.mktemp("shapes") / "root", videos_per_class=5,
                              num_frames=6, size=32, classes=CLASSES)


@pytest.fixture
def root(shapes_root, tmp_path):
    """A copy of the module's set that a test may change."""
    return shutil.copytree(shapes_root, tmp_path / "root", copy_function=shutil.copy2)


def named(path):
    return re.escape(str(path))


# --- the moving-shapes set ---------------------------------------------------------------------


def test_moving_shapes_are_the_same_pixels_for_the_same_seed():
    def video(index=3, seed=7):
        return moving_shapes_video("blue_triangle", index, num_frames=5, size=32, seed=seed)

    a = video()
    assert a.dtype == np.uint8 and a.shape == (5, 32, 32, 3)
    np.testing.assert_array_equal(a, video())
    assert not np.array_equal(a, video(seed=8))
    assert not np.array_equal(a, video(index=4))
    assert not np.array_equal(a[0], a[1])  # it moves


def test_moving_shapes_written_and_read_back(shapes_root):
    assert sorted(p.name for p in shapes_root.iterdir() if p.is_dir()) == sorted(CLASSES)
    videos = sorted((shapes_root / "green_square").glob("*.mp4"))
    assert len(videos) == 5
    with av.open(str(videos[0])) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "yuv420p"
    frames = read_video(videos[0])
    assert frames.shape == (6, 32, 32, 3)
    written = moving_shapes_video("green_square", 0, num_frames=6, size=32)
    assert np.abs(frames.astype(int) - written).mean() < 12  # h264 is lossy on the noise


def test_make_moving_shapes_skips_a_complete_set_and_redoes_a_different_one(tmp_path):
    root = make_moving_shapes(tmp_path / "s", videos_per_class=3, num_frames=2, size=16,
                              classes=CLASSES[:2])
    first = sorted(root.rglob("*.mp4"))
    stamps = [p.stat().st_mtime_ns for p in first]
    assert len(first) == 6 and (root / ".moving-shapes.json").exists()
    make_moving_shapes(root, videos_per_class=3, num_frames=2, size=16, classes=CLASSES[:2])
    assert [p.stat().st_mtime_ns for p in first] == stamps  # not written again
    make_moving_shapes(root, videos_per_class=2, num_frames=2, size=16, classes=CLASSES[:2])
    assert len(list(root.rglob("*.mp4"))) == 4               # the third videos are gone


@pytest.mark.parametrize("arguments, match", [
    ({"size": 33}, "Invalid size"), ({"size": 8}, "Invalid size"),
    ({"videos_per_class": 0}, "Invalid videos_per_class"),
    ({"classes": ("purple_circle",)}, "Invalid moving-shapes class"),
    ({"classes": ("red_hexagon",)}, "Invalid moving-shapes class"),
])
def test_make_moving_shapes_checks_its_arguments(tmp_path, arguments, match):
    with pytest.raises(ValueError, match=match):
        make_moving_shapes(tmp_path / "s", **arguments)


# --- VideoFolder -------------------------------------------------------------------------------


def test_video_folder_classes_length_and_items(shapes_root):
    folder = VideoFolder(shapes_root, num_frames=4, size=(24, 20))
    assert folder.classes == sorted(CLASSES) and len(folder) == 15
    frames, label = folder[7]
    assert frames.dtype == np.uint8 and frames.shape == (4, 24, 20, 3)
    assert folder.classes[label] == folder.videos[7].parent.name
    assert list(folder.labels) == [0] * 5 + [1] * 5 + [2] * 5


def test_the_split_is_stratified_by_video_and_reproducible(shapes_root):
    train = VideoFolder(shapes_root, split="train", validation_fraction=0.4, seed=3)
    validation = VideoFolder(shapes_root, split="validation", validation_fraction=0.4, seed=3)
    assert set(train.videos).isdisjoint(validation.videos)
    assert sorted(train.videos + validation.videos) == sorted(VideoFolder(shapes_root).videos)
    assert np.bincount(validation.labels).tolist() == [2, 2, 2]  # round(5 * 0.4) per class
    def validation_videos(seed):
        return VideoFolder(shapes_root, split="validation", validation_fraction=0.4,
                           seed=seed).videos

    assert validation_videos(3) == validation.videos
    other_seeds = [validation_videos(seed) for seed in range(4, 8)]
    assert any(videos != validation.videos for videos in other_seeds)


def test_every_class_with_two_videos_gets_one_validation_video(shapes_root):
    validation = VideoFolder(shapes_root, split="validation", validation_fraction=0.01)
    assert np.bincount(validation.labels).tolist() == [1, 1, 1]


def test_the_cache_means_a_second_read_does_not_decode(root, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    folder = VideoFolder(root, num_frames=3, size=(16, 16), cache_dir=cache)
    first = [folder[i][0] for i in range(len(folder))]
    assert len(list(cache.rglob("*.npy"))) == len(folder)

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded a video whose frames are in the cache")

    monkeypatch.setattr(folder_module, "read_video", no_decoding)
    monkeypatch.setattr(folder_module, "video_info", no_decoding)  # not even the demux check
    again = VideoFolder(root, num_frames=3, size=(16, 16), cache_dir=cache)
    for i in range(len(again)):
        np.testing.assert_array_equal(again[i][0], first[i])
    with pytest.raises(AssertionError, match="decoded"):  # other settings are other entries
        VideoFolder(root, num_frames=4, size=(16, 16), cache_dir=cache)[0]


def test_a_changed_video_makes_its_cache_entry_stale(root, tmp_path):
    cache = tmp_path / "cache"
    folder = VideoFolder(root, num_frames=3, size=(16, 16), cache_dir=cache)
    old = folder[0][0]
    video = folder.videos[0]
    replacement = video.with_name("other.mp4")
    make_moving_shapes(tmp_path / "other", videos_per_class=1, num_frames=6, size=32,
                       classes=("cyan_triangle",))
    shutil.copyfile(tmp_path / "other" / "cyan_triangle" / "cyan_triangle_0000.mp4", replacement)
    os.replace(replacement, video)
    # File systems stamp times in steps of a few ms; make sure this rewrite gets a later one.
    stat = video.stat()
    os.utime(video, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    new = folder[0][0]
    assert not np.array_equal(new, old)
    np.testing.assert_array_equal(new, read_video(video, num_frames=3, size=(16, 16)))


def test_a_damaged_cache_entry_is_read_again(root, tmp_path):
    folder = VideoFolder(root, num_frames=3, size=(16, 16), cache_dir=tmp_path / "cache")
    frames = folder[0][0]
    for entry in (tmp_path / "cache").rglob("*.npy"):
        entry.write_bytes(b"not a cache entry")
    np.testing.assert_array_equal(VideoFolder(root, num_frames=3, size=(16, 16),
                                              cache_dir=tmp_path / "cache")[0][0], frames)


def test_a_cache_that_cannot_be_written_only_warns(shapes_root, tmp_path, caplog):
    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("a file where the cache folder should be")
    folder = VideoFolder(shapes_root, num_frames=2, size=(8, 8), cache_dir=not_a_folder)
    with caplog.at_level(logging.WARNING, logger="tinyvid.datasets"):
        frames, _ = folder[0]
    assert frames.shape == (2, 8, 8, 3)
    assert "could not write the frame cache" in caplog.text


def add_unreadable_videos(root):
    (root / "red_circle" / "empty.mp4").write_bytes(b"")
    (root / "green_square" / "noise.avi").write_bytes(np.random.default_rng(0).bytes(3000))
    (root / "green_square" / "notes.txt").write_text("not a video, and not listed")
    return [root / "red_circle" / "empty.mp4", root / "green_square" / "noise.avi"]


def test_unreadable_videos_are_skipped_with_one_warning_each(root, caplog):
    bad = add_unreadable_videos(root)
    with caplog.at_level(logging.WARNING, logger="tinyvid.datasets"):
        folder = VideoFolder(root)
    assert len(folder) == 15 and not set(bad) & set(folder.videos)
    assert [path for path, _ in folder.skipped] == [bad[1], bad[0]]  # class by class, sorted
    lines = caplog.messages
    for path in bad:
        assert sum(str(path) in line for line in lines) == 1
    assert "skipped 2 of 17 videos" in lines[-1]


def test_unreadable_videos_raise_when_asked(root):
    bad = add_unreadable_videos(root)
    with pytest.raises(VideoReadError, match=named(bad[1])):  # green_square comes first
        VideoFolder(root, on_error="raise")


def damage_after_demuxing(path):
    """Rewrite `path` with its index first (faststart), and cut it: it demuxes, but fails to
    decode."""
    frames = read_video(path)
    with av.open(str(path), "w", format="mp4", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", 10)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        for _ in range(4):
            for frame in frames:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    data = path.read_bytes()
    path.write_bytes(data[:len(data) * 2 // 3])


def test_a_video_failing_to_decode_is_skipped_by_batches_and_evaluation(root, caplog):
    folder = VideoFolder(root, num_frames=6)
    damage_after_demuxing(folder.videos[0])
    with pytest.raises(VideoReadError, match=named(folder.videos[0])):
        folder[0]
    with caplog.at_level(logging.WARNING, logger="tinyvid.datasets"):
        x, y = FrameBatches(folder, batch_size=100, shuffle=False)[0]
        assert len(x) == len(y) == 14 * 6
        x, _ = folder.to_arrays()
        assert len(x) == 14 * 6
        scores = evaluate_videos(lambda x: np.full((len(x), 3), 1 / 3), folder)
        assert scores["num_videos"] == 14
    assert sum(str(folder.videos[0]) in line for line in caplog.messages) == 1
    with pytest.raises(VideoReadError, match=named(folder.videos[0])):
        FrameBatches(VideoFolder(root, on_error="raise"), shuffle=False)[0]


def test_video_folder_errors_name_the_path(tmp_path):
    missing = tmp_path / "missing"
    with pytest.raises(FileNotFoundError, match=named(missing)):
        VideoFolder(missing)
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "clip.mp4").write_bytes(b"")
    with pytest.raises(ValueError, match=named(tmp_path / "flat") + ".*no class folders"):
        VideoFolder(tmp_path / "flat")
    (tmp_path / "empty" / "cats").mkdir(parents=True)
    (tmp_path / "empty" / "cats" / "readme.txt").write_text("no videos here")
    with pytest.raises(ValueError, match=named(tmp_path / "empty") + ".*no videos"):
        VideoFolder(tmp_path / "empty")


@pytest.mark.parametrize("arguments, match", [
    ({"split": "test"}, "Invalid split"),
    ({"validation_fraction": 1.0}, "Invalid validation_fraction"),
    ({"on_error": "ignore"}, "Invalid on_error"), ({"num_frames": 0}, "Invalid num_frames"),
    ({"size": (64,)}, "Invalid size"),
])
def test_video_folder_checks_its_arguments(shapes_root, arguments, match):
    with pytest.raises(ValueError, match=match):
        VideoFolder(shapes_root, **arguments)


# --- FrameBatches ------------------------------------------------------------------------------


class FakeFolder:
    """A VideoFolder stand-in: frame t of video v is 2 x 2 pixels of value (v, t, label)."""

    def __init__(self, num_videos=11, num_frames=5, num_classes=3):
        self.num_frames, self.size = num_frames, (2, 2)
        self.classes = [f"class{i}" for i in range(num_classes)]
        self.labels = np.arange(num_videos) % num_classes
        self.reads = 0

    def __len__(self):
        return len(self.labels)

    def read_or_skip(self, v):
        self.reads += 1
        frames = np.zeros((self.num_frames, 2, 2, 3), dtype=np.uint8)
        frames[..., 0], frames[..., 2] = v, self.labels[v]
        frames[..., 1] = np.arange(self.num_frames)[:, None, None]
        return frames, int(self.labels[v])


def epoch_samples(batches):
    """(video, frame) of every sample of one epoch, in order, checking x against y."""
    samples = []
    for i in range(len(batches)):
        x, y = batches[i]
        pixels = np.round(x[:, 0, 0] * 255).astype(int)
        labels = y if batches.label_mode == "sparse" else y.argmax(axis=1)
        np.testing.assert_array_equal(pixels[:, 2], labels)
        samples += [tuple(p) for p in pixels[:, :2]]
    return samples


def test_frame_batches_shapes_dtypes_and_one_hot_labels(shapes_root):
    folder = VideoFolder(shapes_root, num_frames=4, size=(24, 20))
    batches = FrameBatches(folder, batch_size=16)
    assert len(batches) == 4  # 15 videos x 4 frames = 60 = 16 + 16 + 16 + 12
    x, y = batches[0]
    assert x.dtype == np.float32 and x.shape == (16, 24, 20, 3)
    assert 0 <= x.min() and x.max() <= 1 and x.max() > 0.5
    assert y.dtype == np.float32 and y.shape == (16, 3)
    np.testing.assert_array_equal(y.sum(axis=1), 1)
    assert set(np.unique(y)) <= {0.0, 1.0}
    assert batches[3][0].shape == (12, 24, 20, 3) and batches[-1][0].shape == (12, 24, 20, 3)
    with pytest.raises(IndexError):
        batches[4]


def test_frame_batches_sparse_labels():
    x, y = FrameBatches(FakeFolder(), batch_size=8, label_mode="sparse")[0]
    assert y.dtype == np.int64 and y.shape == (8,)
    assert x.shape == (8, 2, 2, 3)


def test_every_frame_once_per_epoch_and_a_new_order_each_epoch():
    folder = FakeFolder(num_videos=11, num_frames=5)
    batches = FrameBatches(folder, batch_size=4, shuffle=True, seed=1)
    everything = sorted((v, t) for v in range(11) for t in range(5))
    first = epoch_samples(batches)
    assert sorted(first) == everything
    assert folder.reads == 11  # windowed shuffling: each video read once per epoch
    batches.on_epoch_end()
    second = epoch_samples(batches)
    assert sorted(second) == everything and second != first
    assert epoch_samples(FrameBatches(FakeFolder(), batch_size=4, shuffle=True, seed=1)) == first
    assert epoch_samples(FrameBatches(FakeFolder(), batch_size=4, shuffle=True, seed=2)) != first


def test_without_shuffle_frames_come_video_after_video():
    batches = FrameBatches(FakeFolder(num_videos=4, num_frames=3), batch_size=5, shuffle=False)
    order = [(v, t) for v in range(4) for t in range(3)]
    assert epoch_samples(batches) == order
    batches.on_epoch_end()
    assert epoch_samples(batches) == order


@pytest.mark.parametrize("arguments, match", [
    ({"batch_size": 0}, "Invalid batch_size"), ({"label_mode": "int"}, "Invalid label_mode"),
])
def test_frame_batches_check_their_arguments(arguments, match):
    with pytest.raises(ValueError, match=match):
        FrameBatches(FakeFolder(), **arguments)


def test_to_arrays_holds_every_frame(shapes_root):
    folder = VideoFolder(shapes_root, num_frames=2, size=(8, 8), split="validation")
    x, y = folder.to_arrays()
    assert x.dtype == np.float32 and x.shape == (len(folder) * 2, 8, 8, 3)
    np.testing.assert_array_equal(y.argmax(axis=1), np.repeat(folder.labels, 2))
    _, sparse = folder.to_arrays(label_mode="sparse")
    np.testing.assert_array_equal(sparse, np.repeat(folder.labels, 2))


# --- evaluate_videos ---------------------------------------------------------------------------


def test_video_accuracy_averages_frame_probabilities():
    # Frames are right with 0.6 on their class. Video 0 has one frame sure of a wrong class
    # (1.0) and three barely right (0.4 against 0.35): 3 of its 4 frames are right, but the
    # mean is 0.3 on its class against (1.0 + 3 * 0.35) / 4 = 0.51 on the wrong one.
    folder = FakeFolder(num_videos=3, num_frames=4)

    def predict(x):
        video, frame, label = np.round(x[:, 0, 0] * 255).astype(int).T
        rows, wrong_class = np.arange(len(x)), (label + 1) % 3
        p = np.full((len(x), 3), 0.2)
        p[rows, label] = 0.6
        barely = (video == 0) & (frame > 0)
        p[barely] = 0.25
        p[rows[barely], label[barely]], p[rows[barely], wrong_class[barely]] = 0.4, 0.35
        sure = (video == 0) & (frame == 0)
        p[sure] = 0
        p[rows[sure], wrong_class[sure]] = 1
        return p

    scores = evaluate_videos(predict, folder, batch_size=5)
    assert scores == {"frame_accuracy": pytest.approx(11 / 12),
                      "video_accuracy": pytest.approx(2 / 3), "num_frames": 12, "num_videos": 3}


def test_video_accuracy_can_beat_frame_accuracy():
    # Frame 0 of each video is wrong (0.6 on another class), frames 1-3 right (0.6): the mean
    # over the video is right, so every video is right while only 3 / 4 of the frames are.
    folder = FakeFolder(num_videos=5, num_frames=4)

    def predict(x):
        _, frame, label = np.round(x[:, 0, 0] * 255).astype(int).T
        p = np.full((len(x), 3), 0.2)
        p[np.arange(len(x)), np.where(frame == 0, (label + 1) % 3, label)] = 0.6
        return p

    for batch_size in (1, 3, 100):
        scores = evaluate_videos(predict, folder, batch_size=batch_size)
        assert scores["frame_accuracy"] == pytest.approx(0.75)
        assert scores["video_accuracy"] == 1


def test_evaluate_videos_checks_the_predictions_shape():
    with pytest.raises(ValueError, match=r"predict_fn returned shape \(4, 2\).*expected \(4, 3\)"):
        evaluate_videos(lambda x: np.zeros((len(x), 2)), FakeFolder(num_videos=1, num_frames=4))


def test_make_moving_shapes_redoes_a_set_whose_marker_was_torn(tmp_path):
    root = make_moving_shapes(tmp_path / "s", videos_per_class=2, num_frames=2, size=16,
                              classes=CLASSES[:2])
    (root / ".moving-shapes.json").write_text('{"version": 1, "clas')  # a crash mid-write
    make_moving_shapes(root, videos_per_class=2, num_frames=2, size=16, classes=CLASSES[:2])
    assert json.loads((root / ".moving-shapes.json").read_text())["videos_per_class"] == 2
    assert not list(root.glob("*.partial"))
