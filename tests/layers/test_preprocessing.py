"""Preprocessing layers by hand: exact outputs for the deterministic ones, identity in inference
for the random ones, and in training the properties that define each transform (and one
transform per clip); gradients checked in float64."""

import numpy as np
import pytest

from tinyvid import gradcheck, layers
from tinyvid.nn import affine_transform, resize
from tinyvid.nn.image import Pad2D, fix_indices
from tinyvid.tensor import Tensor
from tinyvid.utils import set_random_seed

RNG = np.random.default_rng(0)
IMAGES = (RNG.random((6, 8, 10, 3)) * 255).astype(np.float32)
CLIPS = (RNG.random((4, 3, 8, 10, 2)) * 255).astype(np.float32)


def test_rescaling_by_hand_with_per_channel_values():
    frames = np.arange(12, dtype=np.uint8).reshape(1, 2, 2, 3)
    np.testing.assert_allclose(layers.Rescaling(1 / 255)(frames).data, frames / 255, rtol=1e-6)
    per_channel = layers.Rescaling([1.0, 2.0, 3.0], offset=[0.0, -1.0, 1.0])(frames).data
    np.testing.assert_allclose(per_channel, frames * [1, 2, 3] + [0, -1, 1])
    with pytest.raises(ValueError, match="Rescaling layer .*: invalid value for argument `scale`"):
        layers.Rescaling(float("nan"))


def test_resizing_bilinear_by_hand():
    ramp = np.arange(4, dtype=np.float32).reshape(1, 1, 4, 1)  # 0 1 2 3 -> 2 samples
    # half-pixel centres: output 0 reads 0.5, output 1 reads 2.5
    np.testing.assert_allclose(layers.Resizing(1, 2)(ramp).data.ravel(), [0.5, 2.5])
    up = layers.Resizing(1, 4)(np.array([[[[0.0], [4.0]]]])).data.ravel()
    np.testing.assert_allclose(up, [0.0, 1.0, 3.0, 4.0])  # reads -0.25 (clamped), 0.25, 0.75, 1.25
    nearest = layers.Resizing(1, 2, interpolation="nearest")(ramp).data.ravel()
    np.testing.assert_array_equal(nearest, [1.0, 3.0])  # floor((i + 0.5) * 2): pixels 1 and 3


def test_resizing_aspect_ratio_options_and_clips():
    crop = layers.Resizing(4, 4, crop_to_aspect_ratio=True)(IMAGES).data  # 8x10 -> central 8x8
    np.testing.assert_allclose(crop, resize(Tensor(IMAGES[:, :, 1:9]), (4, 4)).data, rtol=1e-6)
    pad = layers.Resizing(10, 10, pad_to_aspect_ratio=True, fill_value=-1)(IMAGES).data
    np.testing.assert_array_equal(pad[:, 0], -1)  # 8x10 padded to 10x10: one row above, below
    np.testing.assert_allclose(pad[:, 1:9], IMAGES, rtol=1e-6)
    clips = layers.Resizing(4, 5)(CLIPS).data
    frames = layers.Resizing(4, 5)(CLIPS.reshape(12, 8, 10, 2)).data.reshape(4, 3, 4, 5, 2)
    np.testing.assert_array_equal(clips, frames)
    with pytest.raises(ValueError, match="Resizing layer .*`interpolation`"):
        layers.Resizing(2, 2, interpolation="bicubic")
    with pytest.raises(ValueError, match="Resizing layer .*`height`: expected a positive integer"):
        layers.Resizing(0, 2)


def test_center_crop_by_hand_and_for_a_small_image():
    np.testing.assert_array_equal(layers.CenterCrop(4, 5)(IMAGES).data, IMAGES[:, 2:6, 2:7])
    np.testing.assert_array_equal(layers.CenterCrop(3, 3)(CLIPS).data, CLIPS[:, :, 2:5, 3:6])
    small = layers.CenterCrop(16, 16)(IMAGES).data  # central 8x8, resized
    np.testing.assert_allclose(small, resize(Tensor(IMAGES[:, :, 1:9]), (16, 16)).data, rtol=1e-6)


@pytest.mark.parametrize("make", [
    lambda: layers.RandomFlip(seed=1), lambda: layers.RandomRotation(0.3, seed=1),
    lambda: layers.RandomZoom(0.3, seed=1), lambda: layers.RandomContrast(0.5, seed=1),
])
def test_random_layers_pass_the_input_through_in_inference(make):
    layer = make()
    np.testing.assert_array_equal(layer(IMAGES).data, IMAGES)
    np.testing.assert_array_equal(layer(CLIPS, training=False).data, CLIPS)


def test_random_crop_takes_the_central_aspect_window_in_inference():
    out = layers.RandomCrop(4, 5, seed=0)(IMAGES).data  # 8x10 has the aspect ratio of 4x5
    np.testing.assert_allclose(out, resize(Tensor(IMAGES), (4, 5)).data, rtol=1e-6)


def test_random_flip_flips_whole_images_and_whole_clips():
    for mode, flip in [("horizontal", lambda a: a[..., :, ::-1, :]),
                       ("vertical", lambda a: a[..., ::-1, :, :]),
                       ("horizontal_and_vertical", lambda a: a[..., ::-1, ::-1, :])]:
        out = layers.RandomFlip(mode, seed=4)(np.tile(CLIPS, (4, 1, 1, 1, 1)), training=True).data
        clips = np.tile(CLIPS, (4, 1, 1, 1, 1))
        flipped = [np.array_equal(o, flip(c)) for o, c in zip(out, clips)]
        kept = [np.array_equal(o, c) for o, c in zip(out, clips)]
        assert all(f != k for f, k in zip(flipped, kept)), mode  # each clip: one or the other
        assert any(flipped) and any(kept), mode
    with pytest.raises(ValueError, match="RandomFlip layer .*`mode`"):
        layers.RandomFlip("diagonal")


def test_random_crop_takes_one_window_per_clip():
    out = layers.RandomCrop(5, 6, seed=2)(CLIPS, training=True).data
    assert out.shape == (4, 3, 5, 6, 2)
    corners = set()
    for clip, original in zip(out, CLIPS):
        windows = [(top, left) for top in range(4) for left in range(5)
                   if np.array_equal(clip, original[:, top:top + 5, left:left + 6])]
        assert len(windows) == 1  # every frame cropped at the same place
        corners.add(windows[0])
    assert len(corners) > 1  # different clips, different windows


def test_random_rotation_by_a_quarter_turn_is_rot90_and_zero_is_identity():
    square = IMAGES[:, :8, :8]
    quarter = layers.RandomRotation((0.25, 0.25), seed=0)(square, training=True).data
    np.testing.assert_allclose(quarter, np.rot90(square, axes=(1, 2)), atol=1e-3)  # CCW
    still = layers.RandomRotation((0.0, 0.0), fill_mode="constant")(IMAGES, training=True).data
    np.testing.assert_allclose(still, IMAGES, atol=1e-3)
    clips = layers.RandomRotation(0.5, seed=3)(np.repeat(CLIPS[:, :1], 3, axis=1), training=True)
    np.testing.assert_array_equal(clips.data[:, 0], clips.data[:, 2])  # equal frames stay equal


def test_random_zoom_reads_the_centre_scaled_and_fills_outside():
    ramp = np.broadcast_to(np.arange(10, dtype=np.float32)[None, None, :, None], (2, 8, 10, 1))
    zoom_in = layers.RandomZoom((-0.5, -0.5), seed=0)(ramp, training=True).data
    np.testing.assert_allclose(zoom_in[0, 0, :, 0], 4.5 + 0.5 * (np.arange(10) - 4.5), atol=1e-5)
    zoom_out = layers.RandomZoom((1.0, 1.0), fill_mode="constant", fill_value=-1)(
        ramp, training=True).data  # z = 2: the outer quarter on each side reads outside
    assert zoom_out[0, 0, 0, 0] == -1 and zoom_out[0, 4, 5, 0] == pytest.approx(5.5)


def test_fill_modes_map_indices_as_keras():
    index = np.arange(-4, 8)
    np.testing.assert_array_equal(fix_indices(index, 4, "reflect"),
                                  [3, 2, 1, 0, 0, 1, 2, 3, 3, 2, 1, 0])
    np.testing.assert_array_equal(fix_indices(index, 4, "wrap"), [0, 1, 2, 3] * 3)
    np.testing.assert_array_equal(fix_indices(index, 4, "nearest"),
                                  [0, 0, 0, 0, 0, 1, 2, 3, 3, 3, 3, 3])


def test_random_contrast_scales_each_clip_about_its_frame_means():
    out = layers.RandomContrast((0.5, 0.5), value_range=(-1e9, 1e9), seed=5)(
        CLIPS, training=True).data
    means = CLIPS.mean(axis=(2, 3), keepdims=True)
    factors = (out - means) / (CLIPS - means)
    for clip in factors:  # one factor for all frames, pixels and channels of a clip
        np.testing.assert_allclose(clip, clip.flat[0], rtol=1e-3)
        assert 0.5 <= clip.flat[0] <= 1.5
    clipped = layers.RandomContrast(0.9, seed=1)(IMAGES, training=True).data
    assert clipped.min() >= 0 and clipped.max() <= 255


def test_seeds_and_the_shared_generator_make_runs_repeat():
    a = layers.RandomRotation(0.2, seed=7)(IMAGES, training=True).data
    b = layers.RandomRotation(0.2, seed=7)(IMAGES, training=True).data
    np.testing.assert_array_equal(a, b)
    set_random_seed(11)
    c = layers.RandomZoom(0.3)(IMAGES, training=True).data
    set_random_seed(11)
    np.testing.assert_array_equal(c, layers.RandomZoom(0.3)(IMAGES, training=True).data)


@pytest.mark.parametrize("factor, message", [
    (1.5, r"in the range \[-1.0, 1.0\]"), ("big", "expected a number"), ((0.1, 0.2, 0.3), "two"),
])
def test_factor_checks_name_the_layer_and_argument(factor, message):
    with pytest.raises(ValueError, match=f"RandomRotation layer .*`factor`.*{message}"):
        layers.RandomRotation(factor)


def test_a_clip_must_have_rank_4_or_5():
    with pytest.raises(ValueError, match="expected min_ndim=4"):
        layers.CenterCrop(2, 2)(np.zeros((3, 4, 4)))
    with pytest.raises(ValueError, match="expected images .* or clips"):
        layers.CenterCrop(2, 2)(np.zeros((1, 2, 3, 4, 4, 1)))


# --- gradients ----------------------------------------------------------------------------------


def x64(shape, seed=0):
    data = np.random.default_rng(seed).standard_normal(shape)
    return Tensor(data, dtype=np.float64, requires_grad=True)


def test_gradcheck_resize_pad_and_affine_transform():
    assert gradcheck(lambda x: resize(x, (3, 7)), [x64((2, 5, 4, 2))])
    assert gradcheck(lambda x: resize(x, (2, 2), "nearest"), [x64((1, 5, 4, 1))])
    assert gradcheck(lambda x: Pad2D.apply(x, pads=(1, 2, 0, 1), value=3.0), [x64((2, 3, 3, 1))])
    transforms = np.array([[0.9, -0.3, 0.7, 0.3, 0.9, -0.4, 0, 0], [1.3, 0, -1, 0, 0.7, 0.9, 0, 0]])
    for fill_mode in ("reflect", "wrap", "constant", "nearest"):
        assert gradcheck(lambda x, m=fill_mode: affine_transform(x, transforms, fill_mode=m,
                                                                 fill_value=2.0),
                         [x64((2, 5, 6, 2))])


@pytest.mark.parametrize("make", [
    lambda: layers.RandomFlip(seed=3, dtype="float64"),
    lambda: layers.RandomCrop(3, 4, seed=3, dtype="float64"),
    lambda: layers.RandomRotation(0.2, seed=3, dtype="float64"),
    lambda: layers.RandomContrast(0.4, value_range=(-10, 10), seed=3, dtype="float64"),
    lambda: layers.CenterCrop(3, 3, dtype="float64"),
])
def test_gradcheck_layers_in_training_on_clips(make):
    assert gradcheck(lambda x: make()(x, training=True), [x64((2, 2, 5, 6, 1))])


def test_a_model_with_augmentation_layers_trains_with_a_schedule():
    from tinyvid import optimizers
    from tinyvid.models import Sequential
    from tinyvid.optimizers.schedules import CosineDecay
    from tinyvid.utils import to_categorical

    set_random_seed(0)
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 24)
    frames = (rng.random((24, 10, 10, 3)) * 60 + labels[:, None, None, None] * 150).astype(np.uint8)
    model = Sequential([layers.Input(shape=(10, 10, 3)), layers.Rescaling(1 / 255),
                        layers.RandomFlip(), layers.RandomCrop(8, 8), layers.RandomContrast(0.2),
                        layers.Conv2D(4, 3, activation="relu"), layers.Flatten(),
                        layers.Dense(2, activation="softmax")])
    model.compile(optimizer=optimizers.AdamW(learning_rate=CosineDecay(0.05, decay_steps=30)),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(frames, to_categorical(labels, 2), batch_size=8, epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.predict(frames, verbose=0).shape == (24, 2)  # inference: the central 8x8
    assert model.optimizer.learning_rate == pytest.approx(CosineDecay(0.05, 30)(15))
