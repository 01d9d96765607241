"""The motion-shapes dataset: deterministic, and no single frame tells its classes apart."""

import numpy as np
import pytest

from tinyvid.datasets import MOTION_CLASSES, VideoFolder, make_motion_shapes, motion_video


def _shape_features(frame):
    """Area, position (as angles: the motion wraps) and axis angle of one frame's coloured shape."""
    mask = frame.max(axis=-1).astype(int) - frame.min(axis=-1) > 60
    rows, cols = np.nonzero(mask)
    size = frame.shape[0]
    row = np.angle(np.exp(2j * np.pi * rows / size).mean())  # circular mean position
    col = np.angle(np.exp(2j * np.pi * cols / size).mean())
    dr = (rows - row * size / (2 * np.pi) + size / 2) % size - size / 2  # offsets from it
    dc = (cols - col * size / (2 * np.pi) + size / 2) % size - size / 2
    axis = 0.5 * np.arctan2(2 * (dr * dc).mean(), (dc * dc).mean() - (dr * dr).mean())
    return np.array([mask.sum(), row, col, axis])


def _change(a, b):
    """How the features went from frame a to frame b (angles wrapped to the short way round)."""
    change = b - a
    change[1:3] = (change[1:3] + np.pi) % (2 * np.pi) - np.pi
    change[3] = (change[3] + np.pi / 2) % np.pi - np.pi / 2
    return change


def _nearest_centroid_accuracy(train, test):
    """train/test: list over classes of (n, features); accuracy of the nearest class mean."""
    scale = np.concatenate(train).std(axis=0) + 1e-9
    centroids = np.stack([f.mean(axis=0) / scale for f in train])
    correct = total = 0
    for label, features in enumerate(test):
        distances = ((features / scale)[:, None] - centroids[None]) ** 2
        correct += int((distances.sum(axis=-1).argmin(axis=1) == label).sum())
        total += len(features)
    return correct / total


def test_one_frame_is_at_chance_and_two_frames_tell_the_classes_apart():
    rng = np.random.default_rng(0)
    single, motion = [], []
    for name in MOTION_CLASSES:
        one, two = [], []
        for index in range(40):
            frames = motion_video(name, index, num_frames=8, size=32)
            t = rng.integers(0, 7)
            a, b = _shape_features(frames[t]), _shape_features(frames[t + 1])
            one.append(a)
            two.append(_change(a, b))
        single.append(np.array(one))
        motion.append(np.array(two))
    chance = 1 / len(MOTION_CLASSES)
    one_frame = _nearest_centroid_accuracy([f[:20] for f in single], [f[20:] for f in single])
    two_frames = _nearest_centroid_accuracy([f[:20] for f in motion], [f[20:] for f in motion])
    assert one_frame < 2 * chance, one_frame
    assert two_frames > 3 * chance, two_frames


def test_the_same_seed_gives_the_same_pixels_and_another_seed_others():
    a = motion_video("clockwise", 3, num_frames=4, size=16, seed=5)
    np.testing.assert_array_equal(a, motion_video("clockwise", 3, num_frames=4, size=16, seed=5))
    assert not np.array_equal(a, motion_video("clockwise", 3, num_frames=4, size=16, seed=6))
    assert a.shape == (4, 16, 16, 3) and a.dtype == np.uint8


def test_the_dataset_is_written_as_real_videos_a_folder_per_class(tmp_path):
    # One video a class: each h264 file costs the encoder's start-up, and the layout and the
    # marker are the same for one video a class as for many.
    root = make_motion_shapes(tmp_path / "motion", videos_per_class=1, num_frames=4, size=16)
    folder = VideoFolder(root, num_frames=4, size=(16, 16))
    assert folder.classes == sorted(MOTION_CLASSES)
    assert len(folder) == len(MOTION_CLASSES)
    assert all(len(list((root / name).glob("*.mp4"))) == 1 for name in MOTION_CLASSES)
    frames, _ = folder[0]
    assert frames.shape == (4, 16, 16, 3)
    stamp = (root / ".motion-shapes.json").stat().st_mtime_ns
    make_motion_shapes(tmp_path / "motion", videos_per_class=1, num_frames=4, size=16)
    assert (root / ".motion-shapes.json").stat().st_mtime_ns == stamp  # not written again


@pytest.mark.parametrize("kwargs, message", [
    ({"size": 15}, "invalid size"), ({"videos_per_class": 0}, "invalid videos_per_class"),
    ({"classes": ("sideways",)}, "invalid class 'sideways'"),
])
def test_bad_arguments_are_refused_before_anything_is_written(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_motion_shapes(tmp_path / "m", **kwargs)
    assert not (tmp_path / "m").exists()
