"""Configs of the video layers without Keras: Keras's keys and values written out by hand, the
round trip through from_config, Keras-only keys refused away from their defaults, the weights'
paths in a .keras file, and .keras round trips with the new optimizers and schedules."""

import io
import json
import zipfile

import h5py
import numpy as np
import pytest

import tinyvid
from tinyvid import layers as L
from tinyvid.models import load_model
from tinyvid.utils import clear_session


@pytest.fixture(autouse=True)
def fresh_names():
    clear_session()


def without_base(config):
    return {k: v for k, v in config.items() if k not in ("name", "trainable", "dtype")}


GLOROT = {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": None},
          "registered_name": None}
ZEROS = {"module": "keras.initializers", "class_name": "Zeros", "config": {},
         "registered_name": None}
ONES = {**ZEROS, "class_name": "Ones"}
NO_EXTRAS = {"kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
             "kernel_constraint": None, "bias_constraint": None}


def test_conv3d_and_3d_pooling_configs_are_kerass():
    conv = L.Conv3D(4, (1, 3, 3), strides=(1, 2, 2), padding="same", activation="relu")
    assert without_base(conv.get_config()) == {
        "filters": 4, "kernel_size": [1, 3, 3], "strides": [1, 2, 2], "padding": "same",
        "data_format": "channels_last", "dilation_rate": [1, 1, 1], "groups": 1,
        "activation": "relu", "use_bias": True, "kernel_initializer": GLOROT,
        "bias_initializer": ZEROS, **NO_EXTRAS}
    pool = L.MaxPooling3D((1, 2, 2))
    assert without_base(pool.get_config()) == {
        "pool_size": [1, 2, 2], "padding": "valid", "strides": [1, 2, 2],
        "data_format": "channels_last"}
    assert without_base(L.AveragePooling3D(2, strides=1, padding="same").get_config())[
        "strides"] == [1, 1, 1]
    for cls in (L.GlobalAveragePooling3D, L.GlobalMaxPooling2D, L.GlobalAveragePooling1D):
        assert without_base(cls(keepdims=True).get_config()) == {
            "data_format": "channels_last", "keepdims": True}


def test_batch_normalization_reshape_and_masking_configs_are_kerass():
    norm = L.BatchNormalization(axis=1, momentum=0.9, epsilon=0.01, center=False)
    assert without_base(norm.get_config()) == {
        "axis": 1, "momentum": 0.9, "epsilon": 0.01, "center": False, "scale": True,
        "beta_initializer": ZEROS, "gamma_initializer": ONES, "moving_mean_initializer": ZEROS,
        "moving_variance_initializer": ONES, "beta_regularizer": None, "gamma_regularizer": None,
        "beta_constraint": None, "gamma_constraint": None, "synchronized": False,
        "renorm": False, "renorm_clipping": None, "renorm_momentum": 0.99}
    assert without_base(L.Reshape((8, -1)).get_config()) == {"target_shape": [8, -1]}
    assert without_base(L.Masking(-1).get_config()) == {"mask_value": -1.0}


def test_recurrent_configs_are_kerass():
    gru = L.GRU(3, return_sequences=True, reset_after=False, dropout=0.25, seed=7)
    config = gru.get_config()
    assert config["units"] == 3 and config["reset_after"] is False and config["seed"] == 7
    assert config["activation"] == "tanh" and config["recurrent_activation"] == "sigmoid"
    assert config["recurrent_initializer"]["class_name"] == "Orthogonal"
    assert (config["stateful"], config["unroll"], config["zero_output_for_mask"]) == (
        False, False, False)
    assert "unit_forget_bias" not in config
    lstm = L.LSTM(2, unit_forget_bias=False, go_backwards=True).get_config()
    assert lstm["unit_forget_bias"] is False and lstm["go_backwards"] is True
    assert "reset_after" not in lstm


def test_time_distributed_nests_the_wrapped_layers_serialized_form():
    wrapper = L.TimeDistributed(L.Conv2D(2, 3, name="frame_conv"), name="per_frame")
    config = wrapper.get_config()
    assert config["name"] == "per_frame"
    assert config["layer"]["class_name"] == "Conv2D"
    assert config["layer"]["config"]["name"] == "frame_conv"
    copy = L.TimeDistributed.from_config(json.loads(json.dumps(config)))
    assert isinstance(copy.layer, L.Conv2D) and copy.layer.name == "frame_conv"
    assert copy.layer.filters == 2 and copy.get_config() == config


@pytest.mark.parametrize("layer", [
    L.Conv3D(2, 3, dilation_rate=2), L.MaxPooling3D((2, 1, 1), strides=1),
    L.AveragePooling3D(), L.GlobalAveragePooling3D(), L.GlobalMaxPooling2D(keepdims=True),
    L.GlobalAveragePooling1D(), L.Reshape((2, 3)), L.BatchNormalization(scale=False),
    L.TimeDistributed(L.Dense(3)), L.GRU(2, return_state=True), L.LSTM(2, dropout=0.1),
    L.Masking(0.5), L.Rescaling([1.0, 2.0], offset=0.5), L.Resizing(3, 4),
    L.CenterCrop(2, 2), L.RandomFlip(seed=1), L.RandomCrop(3, 3, seed=2),
    L.RandomRotation(0.2), L.RandomZoom(0.1, 0.2), L.RandomContrast(0.5),
    L.Add(), L.Multiply(), L.Average(), L.Concatenate(axis=1),
], ids=lambda layer: type(layer).__name__)
def test_every_config_is_json_and_rebuilds_the_same_layer(layer):
    config = json.loads(json.dumps(layer.get_config()))
    copy = type(layer).from_config(config)
    assert copy.get_config() == layer.get_config()


@pytest.mark.parametrize("cls, arguments, key, value", [
    (L.Conv3D, dict(filters=2, kernel_size=3), "groups", 2),
    (L.GRU, dict(units=2), "stateful", True),
    (L.LSTM, dict(units=2), "unroll", True),
    (L.GRU, dict(units=2), "recurrent_regularizer", {"class_name": "L2"}),
    (L.BatchNormalization, {}, "renorm", True),
])
def test_keras_only_keys_are_refused_away_from_kerass_default(cls, arguments, key, value):
    config = {**cls(**arguments).get_config(), key: value}
    with pytest.raises(ValueError, match=rf"{cls.__name__} layer '.*': tinyvid does not support "
                                         rf"`{key}`"):
        cls.from_config(config)


def video_model():
    return tinyvid.Sequential([
        tinyvid.Input(shape=(3, 6, 6, 2)),
        L.Conv3D(3, 2, padding="same"), L.BatchNormalization(),
        L.TimeDistributed(L.Conv2D(2, 3)), L.TimeDistributed(L.Flatten()),
        L.Masking(), L.GRU(4, return_sequences=True), L.LSTM(3), L.Dense(2),
    ])


def test_weights_are_saved_where_keras_keeps_them(tmp_path):
    model = video_model()
    model.save(tmp_path / "video.keras")
    with zipfile.ZipFile(tmp_path / "video.keras") as archive:
        h5 = h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r")
    with h5:
        assert h5["layers/conv3d/vars/0"].shape == (2, 2, 2, 2, 3)
        assert [h5[f"layers/batch_normalization/vars/{i}"].shape for i in range(4)] == [(3,)] * 4
        assert h5["layers/time_distributed/layer/vars/0"].shape == (3, 3, 3, 2)
        assert h5["layers/time_distributed/layer/vars"].attrs["name"] == "conv2d"
        assert "layers/time_distributed_1/layer/vars" in h5  # Flatten: no weights
        assert [h5[f"layers/gru/cell/vars/{i}"].shape for i in range(3)] == [
            (32, 12), (4, 12), (2, 12)]
        assert [h5[f"layers/lstm/cell/vars/{i}"].shape for i in range(3)] == [
            (4, 12), (3, 12), (12,)]
        assert "vars" not in h5["layers/gru"]  # a recurrent layer's weights are its cell's


def test_a_video_model_round_trips_with_its_weights_and_statistics(tmp_path):
    model = video_model()
    norm = model.layers[1]
    norm.set_weights([w + np.arange(3, dtype=np.float32) for w in norm.get_weights()])
    model.compile(optimizer=tinyvid.optimizers.RMSprop(0.01, centered=True), loss="mse")
    model.save(tmp_path / "video.keras")
    loaded = load_model(tmp_path / "video.keras")
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    x = np.random.default_rng(0).random((2, 3, 6, 6, 2), dtype=np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert isinstance(loaded.optimizer, tinyvid.optimizers.RMSprop) and loaded.optimizer.centered


def test_schedules_round_trip_in_the_compile_config(tmp_path):
    schedule = tinyvid.optimizers.schedules.ExponentialDecay(0.1, decay_steps=4, decay_rate=0.5)
    model = tinyvid.Sequential([tinyvid.Input(shape=(3,)), L.Dense(2)])
    model.compile(optimizer=tinyvid.optimizers.AdamW(schedule, weight_decay=0.02), loss="mse")
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        optimizer = json.loads(archive.read("config.json"))["compile_config"]["optimizer"]
    assert optimizer["class_name"] == "AdamW"
    assert optimizer["config"]["learning_rate"]["class_name"] == "ExponentialDecay"
    loaded = load_model(tmp_path / "m.keras").optimizer
    assert isinstance(loaded, tinyvid.optimizers.AdamW) and loaded.weight_decay == 0.02
    rate = loaded.get_config()["learning_rate"]
    assert rate["config"] == {**schedule.get_config()}


def test_an_unknown_wrapped_layer_is_named_with_the_file(tmp_path):
    model = tinyvid.Sequential([tinyvid.Input(shape=(2, 4)), L.TimeDistributed(L.Dense(2))])
    model.save(tmp_path / "td.keras")
    with zipfile.ZipFile(tmp_path / "td.keras") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    config["config"]["layers"][1]["config"]["layer"]["class_name"] = "EinsumDense"
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "other.keras", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(ValueError, match=r"load_model\('.*other.keras'\): layer class "
                                         r"'EinsumDense' is not one tinyvid has"):
        load_model(tmp_path / "other.keras")


def test_a_config_that_does_not_fit_its_class_is_named_with_the_file(tmp_path):
    model = tinyvid.Sequential([tinyvid.Input(shape=(4,)), L.Dense(2)])
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as source:
        config = json.loads(source.read("config.json"))
        weights = source.read("model.weights.h5")
    config["config"]["layers"][1]["class_name"] = "Reshape"  # a Dense config, another class
    with zipfile.ZipFile(tmp_path / "relabelled.keras", "w") as target:
        target.writestr("config.json", json.dumps(config))
        target.writestr("model.weights.h5", weights)
    with pytest.raises(ValueError, match=r"load_model\('.*relabelled.keras'\): the config of Reshape "
                                         r"layer 'dense' does not fit tinyvid's Reshape"):
        load_model(tmp_path / "relabelled.keras")


def test_a_video_model_round_trips_through_json():
    model = video_model()
    copy = tinyvid.models.model_from_json(model.to_json())
    assert [type(layer) for layer in copy.layers] == [type(layer) for layer in model.layers]
    assert copy.layers[2].layer.get_config() == model.layers[2].layer.get_config()
    assert json.loads(copy.to_json())["config"]["layers"][1:] == json.loads(
        model.to_json())["config"]["layers"][1:]
