"""The ready-made video models: each builds with the documented shapes and learns a little."""

import numpy as np
import pytest

import tinyvid.layers

needed = ("Conv3D", "MaxPooling3D", "TimeDistributed", "Reshape")
if not all(hasattr(tinyvid.layers, name) for name in needed):
    pytest.skip("the temporal layers are not in tinyvid.layers", allow_module_level=True)

from tinyvid.applications import CLIP_MODELS, MODELS, RECURRENT_MODELS  # noqa: E402
from tinyvid.optimizers import Adam  # noqa: E402
from tinyvid.utils import set_random_seed  # noqa: E402


@pytest.mark.parametrize("name", sorted(MODELS))
def test_each_model_builds_and_a_few_steps_lower_the_loss(name):
    set_random_seed(0)
    frames = 2 if name == "late_fusion" else 8
    model = MODELS[name](num_classes=3, num_frames=frames, frame_size=32)
    shape = (6, frames, 32, 32, 3) if name in CLIP_MODELS else (6, 32, 32, 3)
    rng = np.random.default_rng(0)
    x = rng.random(shape, dtype=np.float32)
    if name in RECURRENT_MODELS:
        x = [x, np.ones((6, frames), dtype=bool)]
    y = np.eye(3, dtype=np.float32)[[0, 1, 2, 0, 1, 2]]
    assert model.predict(x, verbose=0).shape == (6, 3)
    model.compile(optimizer=Adam(learning_rate=1e-3), loss="categorical_crossentropy")
    before = model.evaluate(x, y, verbose=0)  # without dropout, so the comparison is fair
    for _ in range(8):
        model.train_on_batch(x, y)
    assert model.evaluate(x, y, verbose=0) < before


def test_slow_fusion_sees_more_frames_layer_by_layer():
    model = MODELS["slow_fusion"](num_classes=4, num_frames=8, frame_size=32)
    conv_times = [layer.compute_output_shape((None, 8, 32, 32, 3)) for layer in model.layers[:1]]
    assert conv_times[0][1] == 6  # the first 3-D convolution keeps 6 of 8 time steps
    kernels = [layer.kernel_size[0] for layer in model.layers if type(layer).__name__ == "Conv3D"]
    assert kernels == [3, 3, 2]


def test_c3d_keeps_time_through_pool1_and_halves_it_after():
    model = MODELS["c3d"](num_classes=4, num_frames=8, frame_size=32)
    pools = [layer.pool_size for layer in model.layers if type(layer).__name__ == "MaxPooling3D"]
    assert pools == [(1, 2, 2), (2, 2, 2), (2, 2, 2), (2, 2, 2)]
    kernels = {layer.kernel_size for layer in model.layers if type(layer).__name__ == "Conv3D"}
    assert kernels == {(3, 3, 3)}


# --- cnn_gru / cnn_lstm and the mask they take -------------------------------------------------


@pytest.mark.parametrize("name", ["cnn_gru", "cnn_lstm"])
def test_recurrent_models_take_clips_and_a_mask_that_reaches_the_recurrent_layer(name):
    set_random_seed(0)
    model = MODELS[name](num_classes=4, num_frames=6, frame_size=16)
    assert [t.shape for t in model.inputs] == [(None, 6, 16, 16, 3), (None, 6)]
    recurrent = next(layer for layer in model.layers if type(layer).__name__ in ("GRU", "LSTM"))
    assert type(recurrent).__name__ == name[4:].upper()
    node = recurrent._inbound_nodes[0]
    assert node.mask is model.inputs[1]  # GRU(units)(features, mask=mask_input)
    rng = np.random.default_rng(1)
    x = rng.random((3, 6, 16, 16, 3), dtype=np.float32)
    mask = np.ones((3, 6), dtype=bool)
    mask[0, 4:] = mask[2, 2:] = False
    other = x.copy()
    other[0, 4:] = rng.random((2, 16, 16, 3))  # what the padding holds changes nothing
    other[2, 2:] = 0.5
    p = model.predict([x, mask], verbose=0)
    np.testing.assert_allclose(model.predict([other, mask], verbose=0), p, rtol=1e-6, atol=1e-7)
    unmasked = model.predict([other, np.ones((3, 6), dtype=bool)], verbose=0)
    assert not np.allclose(unmasked[0], p[0])  # without the mask the padding would count


def test_cnn_gru_on_a_short_clip_equals_the_real_frames_alone():
    """A clip of 3 real frames padded to 6 gives what a 3-frame model gives on the 3 frames."""
    set_random_seed(0)
    long = MODELS["cnn_gru"](num_classes=2, num_frames=6, frame_size=16)
    short = MODELS["cnn_gru"](num_classes=2, num_frames=3, frame_size=16)
    short.set_weights(long.get_weights())
    x = np.random.default_rng(2).random((2, 3, 16, 16, 3), dtype=np.float32)
    padded = np.concatenate([x, np.zeros_like(x)], axis=1)
    mask = np.arange(6)[None].repeat(2, 0) < 3
    np.testing.assert_allclose(long.predict([padded, mask], verbose=0),
                               short.predict([x, np.ones((2, 3), bool)], verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_a_symbolic_mask_keyword_is_recorded_run_and_saved_in_the_config():
    from tinyvid import Input, Model
    from tinyvid.layers import GRU, Dense, GlobalAveragePooling1D

    set_random_seed(0)
    steps, mask_input = Input(shape=(5, 3)), Input(shape=(5,))
    model = Model([steps, mask_input], Dense(2)(GRU(4)(steps, mask=mask_input)))
    x = np.random.default_rng(0).random((2, 5, 3), dtype=np.float32)
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=bool)
    gru = next(layer for layer in model.layers if type(layer).__name__ == "GRU")
    expected = model.layers[-1](gru(x, mask=mask)).data
    np.testing.assert_allclose(model.predict([x, mask], verbose=0), expected, rtol=1e-6)
    gru_config = next(c for c in model.get_config()["layers"] if c["class_name"] == "GRU")
    kwargs = gru_config["inbound_nodes"][0]["kwargs"]
    assert kwargs["mask"]["config"]["keras_history"][0] == mask_input._keras_history.layer.name

    # a layer whose config round-trips: the rebuilt graph passes the mask again
    average = Model([steps, mask_input], GlobalAveragePooling1D()(steps, mask=mask_input))
    rebuilt = Model.from_config(average.get_config())
    means = np.stack([x[0, :3].mean(axis=0), x[1].mean(axis=0)])
    for one in (average, rebuilt):
        np.testing.assert_allclose(one.predict([x, mask], verbose=0), means, rtol=1e-6)


def test_a_mask_of_the_wrong_kind_or_shape_is_refused_when_the_graph_is_built():
    from tinyvid import Input
    from tinyvid.layers import GRU

    steps = Input(shape=(5, 3))
    with pytest.raises(ValueError, match="`mask` of type ndarray"):
        GRU(4, name="gru_a")(steps, mask=np.ones((1, 5), dtype=bool))
    with pytest.raises(ValueError, match=r"GRU layer 'gru_b': invalid value for argument `mask`"):
        GRU(4, name="gru_b")(steps, mask=Input(shape=(4,)))


def test_every_model_builds_at_the_least_frames_and_size_the_cli_allows():
    from tinyvid.training.video_training import MINIMUM_SHAPES, takes_mask

    assert set(MINIMUM_SHAPES) == set(MODELS)
    for name, (frames, size) in MINIMUM_SHAPES.items():
        model = MODELS[name](2, num_frames=frames, frame_size=size)
        shape = (1, frames, size, size, 3) if name in CLIP_MODELS else (1, size, size, 3)
        x = np.zeros(shape, dtype=np.float32)
        inputs = [x, np.ones((1, frames), dtype=bool)] if takes_mask(name) else x
        assert model.predict(inputs, verbose=0).shape == (1, 2), name
