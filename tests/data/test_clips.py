"""Clip batches: shapes, masks for short videos, segment sampling, clip-consistent augmentation."""

import numpy as np
import pytest

from tinyvid.data.moving_shapes import moving_shapes_video
from tinyvid.datasets import (
    ClipAugmentation,
    ClipBatches,
    VideoFolder,
    evaluate_clips,
    make_moving_shapes,
    segment_indices,
)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return make_moving_shapes(tmp_path_factory.mktemp("clips"), videos_per_class=3,
                              num_frames=10, size=16, classes=("red_circle", "blue_triangle"))


def test_segment_indices_take_centres_without_a_generator_and_one_per_segment_with_one():
    assert segment_indices(10, 5).tolist() == [0, 2, 4, 6, 8]  # segments [0,2), [2,4), ...
    assert segment_indices(12, 3).tolist() == [1, 5, 9]
    rng = np.random.default_rng(0)
    for _ in range(20):
        chosen = segment_indices(10, 5, rng)
        assert all(2 * k <= i < 2 * k + 2 for k, i in enumerate(chosen))
    with pytest.raises(ValueError, match="3 frames cannot give 5 segments"):
        segment_indices(3, 5)


def test_clips_have_the_keras_shape_range_and_labels(root):
    folder = VideoFolder(root, num_frames=4, size=(16, 16))
    batches = ClipBatches(folder, batch_size=4, shuffle=False)
    assert len(batches) == 2
    x, y = batches[0]
    assert x.shape == (4, 4, 16, 16, 3) and x.dtype == np.float32
    assert 0 <= x.min() and x.max() <= 1
    assert y.shape == (4, 2)
    np.testing.assert_array_equal(x[0] * 255, folder[0][0].astype(np.float32))
    assert batches[1][0].shape[0] == 2  # 6 videos: the last batch is smaller


def test_segment_sampling_is_random_in_training_and_the_centres_in_validation(root):
    folder = VideoFolder(root, num_frames=None, size=(16, 16))
    train = ClipBatches(folder, batch_size=6, num_frames=5, sampling="segments", seed=1)
    valid = ClipBatches(folder, batch_size=6, num_frames=5, sampling="segments", shuffle=False)
    frames, _ = folder[0]
    x, _ = valid[0]
    np.testing.assert_array_equal(x[0] * 255, frames[[0, 2, 4, 6, 8]].astype(np.float32))
    epochs = [train[0][0].copy()]
    train.on_epoch_end()
    epochs.append(train[0][0])
    assert not np.array_equal(epochs[0], epochs[1])  # a new order and new frames each epoch
    again = ClipBatches(folder, batch_size=6, num_frames=5, sampling="segments", seed=1)
    np.testing.assert_array_equal(again[0][0], epochs[0])  # seeded


def test_a_short_video_is_padded_and_masked_not_stretched(root):
    folder = VideoFolder(root, num_frames=None, size=(16, 16))
    batches = ClipBatches(folder, batch_size=2, num_frames=13, shuffle=False, return_mask=True)
    (x, mask), y = batches[0]
    assert x.shape == (2, 13, 16, 16, 3) and mask.shape == (2, 13) and mask.dtype == bool
    assert mask[:, :10].all() and not mask[:, 10:].any()
    assert not x[:, 10:].any()  # zero frames after the end
    np.testing.assert_array_equal(x[0, :10] * 255, folder[0][0].astype(np.float32))


def test_augmentation_crops_and_flips_every_frame_of_a_clip_alike_and_is_off_at_inference():
    clip = moving_shapes_video("red_circle", 0, num_frames=6, size=32)
    augment = ClipAugmentation(crop=(20, 24))
    seen_flip = seen_plain = False
    for seed in range(12):
        out = augment(clip, np.random.default_rng(seed))
        assert out.shape == (6, 20, 24, 3)
        # find the one crop offset (and flip) that produced frame 0; it must explain every frame
        matches = [(top, left, flip) for top in range(13) for left in range(9)
                   for flip in (False, True)
                   if np.array_equal(out[0], (clip[0, top:top + 20, left:left + 24, :][:, ::-1]
                                              if flip else clip[0, top:top + 20, left:left + 24]))]
        assert matches
        top, left, flip = matches[0]
        window = clip[:, top:top + 20, left:left + 24]
        np.testing.assert_array_equal(out, window[:, :, ::-1] if flip else window)
        seen_flip, seen_plain = seen_flip or flip, seen_plain or not flip
    assert seen_flip and seen_plain
    np.testing.assert_array_equal(augment(clip, None), clip[:, 6:26, 4:28])  # centre, no flip
    with pytest.raises(ValueError, match="argument `crop`"):
        ClipAugmentation(crop=(0, 3))


def test_validation_batches_are_not_augmented(root):
    folder = VideoFolder(root, num_frames=4, size=(16, 16))
    plain = ClipBatches(folder, batch_size=6, shuffle=False)[0][0]
    valid = ClipBatches(folder, batch_size=6, shuffle=False,
                        augmentation=ClipAugmentation(crop=(12, 12)))[0][0]
    np.testing.assert_array_equal(valid, plain[:, :, 2:14, 2:14])


def test_clip_batches_refuse_arguments_that_cannot_work(root):
    fixed = VideoFolder(root, num_frames=4, size=(16, 16))
    with pytest.raises(ValueError, match="num_frames=None"):
        ClipBatches(fixed, sampling="segments")
    with pytest.raises(ValueError, match="reads 4 frames per video"):
        ClipBatches(fixed, num_frames=6)
    with pytest.raises(ValueError, match="argument `num_frames`"):
        ClipBatches(VideoFolder(root, num_frames=None, size=(16, 16)))
    with pytest.raises(ValueError, match="argument `sampling`"):
        ClipBatches(fixed, sampling="random")


def test_memory_is_bounded_by_the_batch(root):
    folder = VideoFolder(root, num_frames=4, size=(16, 16))
    batches = ClipBatches(folder, batch_size=1, shuffle=True)
    for i in range(len(batches)):
        batches[i]
    assert len(batches._recent) <= 2


def test_evaluate_clips_scores_one_prediction_per_video(root):
    folder = VideoFolder(root, num_frames=4, size=(16, 16))
    batches = ClipBatches(folder, batch_size=4, shuffle=False)

    def oracle(x):  # red videos have a red shape: class 1 ("red_circle") when red dominates
        red = x[..., 0].mean(axis=(1, 2, 3)) > x[..., 2].mean(axis=(1, 2, 3))
        return np.stack([~red, red], axis=1).astype(np.float32)

    result = evaluate_clips(oracle, batches)
    assert result == {"video_accuracy": 1.0, "num_videos": 6}
