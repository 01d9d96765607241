""".keras and .weights.h5 files, configs and JSON, without Keras: round trips, the file layout,
atomic writes, and the errors for wrong names, truncated files, other formats, unknown layers."""

import io
import json
import os
import zipfile

import h5py
import numpy as np
import pytest

import tinyvid
from tinyvid import Input, Model, Sequential
from tinyvid import layers as L
from tinyvid.models import load_model, model_from_json
from tinyvid.training import keras_format
from tinyvid.utils import clear_session


@pytest.fixture(autouse=True)
def fresh_names():
    clear_session()


def every_layer_sequential():
    """One of each layer tinyvid has, in a chain."""
    return Sequential([
        Input(shape=(8, 8, 3)),
        L.Conv2D(4, 3, padding="same", activation="relu", kernel_initializer="he_uniform"),
        L.MaxPooling2D(), L.AveragePooling2D(pool_size=1, strides=1, padding="same"),
        L.Conv2D(2, (2, 2), strides=2, use_bias=False, bias_initializer="ones"),
        L.GlobalAveragePooling2D(keepdims=True), L.Flatten(), L.Dropout(0.25, seed=3),
        L.Dense(5, activation="tanh", kernel_initializer=tinyvid.initializers.RandomNormal(0.0, 0.1)),
        L.Activation("sigmoid"), L.Dense(3, activation="softmax"),
    ])


def fusion_model():
    a, b = Input(shape=(4,), name="a"), Input(shape=(4,), name="b")
    shared = L.Dense(3, activation="relu", name="shared")
    merged = [shared(a), shared(b)]
    joined = L.Concatenate()([L.Add()(merged), L.Multiply()(merged), L.Average()(merged)])
    return Model([a, b], [L.Dense(2, activation="softmax", name="label")(joined),
                          L.Dense(1, name="score")(joined)])


def frames(n=6):
    return np.random.default_rng(0).random((n, 8, 8, 3), dtype=np.float32)


def test_every_layers_config_rebuilds_the_same_layer():
    for layer in every_layer_sequential().layers + fusion_model().layers:
        config = layer.get_config()
        json.dumps(config)  # plain values only
        copy = type(layer).from_config(config)
        assert copy.get_config() == config, type(layer).__name__


def test_a_sequential_model_round_trips_through_a_keras_file(tmp_path):
    model = every_layer_sequential()
    model.compile(optimizer=tinyvid.optimizers.SGD(0.05, momentum=0.9), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    path = tmp_path / "model.keras"
    model.save(path)
    assert os.listdir(tmp_path) == ["model.keras"]  # no temporary left behind
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
        config = json.loads(archive.read("config.json"))
        with h5py.File(io.BytesIO(archive.read("model.weights.h5"))) as h5:
            assert h5["vars"].attrs["name"] == "sequential"
            assert h5["layers/conv2d_1/vars"].attrs["name"] == "conv2d_1"
            assert h5["layers/dense/vars/0"].shape == (2, 5) and "layers/flatten/vars" in h5
    assert config["class_name"] == "Sequential" and config["config"]["layers"][0]["class_name"] == "InputLayer"
    assert config["compile_config"]["optimizer"]["config"]["momentum"] == 0.9
    loaded = load_model(path)
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    np.testing.assert_array_equal(loaded.predict(frames(), verbose=0), model.predict(frames(), verbose=0))
    assert loaded.compiled and isinstance(loaded.optimizer, tinyvid.optimizers.SGD)
    assert loaded.optimizer.momentum == 0.9 and loaded.get_layer(index=6).seed == 3
    loaded.fit(frames(), np.eye(3)[[0, 1, 2, 0, 1, 2]], epochs=1, verbose=0)


def test_a_functional_model_round_trips_with_shared_layers(tmp_path):
    model = fusion_model()
    model.compile(optimizer="adam", loss={"label": "categorical_crossentropy", "score": "mse"},
                  metrics={"label": ["accuracy"]})
    x = [np.ones((2, 4), np.float32), np.arange(8, dtype=np.float32).reshape(2, 4)]
    model.save(tmp_path / "fusion.keras")
    loaded = load_model(tmp_path / "fusion.keras")
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    assert len(loaded.get_layer("shared")._inbound_nodes) == 2  # still one layer called twice
    for a, b in zip(loaded.predict(x, verbose=0), model.predict(x, verbose=0)):
        np.testing.assert_array_equal(a, b)
    history = loaded.fit(x, [np.eye(2), np.zeros((2, 1))], epochs=1, verbose=0).history
    assert "label_accuracy" in history and "score_loss" in history
    rebuilt = model_from_json(model.to_json())
    assert rebuilt.get_config() == model.get_config()


def test_save_weights_writes_kerass_h5_or_npz_and_refuses_anything_else(tmp_path):
    model = fusion_model()
    model.save_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5") as h5:
        assert sorted(h5["layers"]) == ["add", "average", "concatenate", "dense", "dense_1",
                                        "dense_2", "input_layer", "input_layer_1", "multiply"]
        assert h5["layers/dense/vars"].attrs["name"] == "shared"
    copy = fusion_model()
    copy.load_weights(tmp_path / "w.weights.h5")
    for a, b in zip(model.get_weights(), copy.get_weights()):
        np.testing.assert_array_equal(a, b)
    model.save_weights(tmp_path / "w.npz")
    copy.load_weights(tmp_path / "w.npz")
    for bad in ("x.h5", "x.keras", "x.weights"):
        with pytest.raises(ValueError, match=rf"must end in `.weights.h5` .* or `.npz` .*filepath=.*{bad}"):
            model.save_weights(tmp_path / bad)
    with pytest.raises(ValueError, match=r"must end in `.keras`.*Received: filepath=.*m.h5"):
        model.save(tmp_path / "m.h5")
    assert sorted(os.listdir(tmp_path)) == ["w.npz", "w.weights.h5"]


def test_a_crash_while_saving_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    model = every_layer_sequential()
    path = tmp_path / "m.keras"
    model.save(path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(zipfile.ZipFile, "writestr", crash)
    with pytest.raises(KeyboardInterrupt):
        model.save(path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["m.keras"]


def test_broken_files_give_errors_naming_the_file_and_change_nothing(tmp_path):
    model = every_layer_sequential()
    path = tmp_path / "m.keras"
    model.save(path)
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(path.read_bytes()[:300])
    with pytest.raises(ValueError, match=r"cannot read '.*truncated.keras' as a Keras .keras file"):
        load_model(truncated)
    other = tmp_path / "weights.keras"
    with open(other, "wb") as file:
        np.savez(file, a=np.zeros(2))  # a zip, but not a .keras archive
    with pytest.raises(ValueError, match=r"'.*weights.keras'.*it has no config.json"):
        load_model(other)
    with pytest.raises(FileNotFoundError, match="missing.keras"):
        load_model(tmp_path / "missing.keras")
    unknown = tmp_path / "conv1d.keras"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(unknown, "w") as target:
        config = json.loads(source.read("config.json"))
        config["config"]["layers"][3]["class_name"] = "Conv1D"
        target.writestr("config.json", json.dumps(config))
        target.writestr("model.weights.h5", source.read("model.weights.h5"))
    with pytest.raises(ValueError, match=r"load_model\('.*conv1d.keras'\): layer class 'Conv1D' is not one tinyvid has"):
        load_model(unknown)
    wider = Sequential([Input(shape=(4,)), L.Dense(6)])
    before = wider.get_weights()
    narrow = Sequential([Input(shape=(4,)), L.Dense(5)])
    narrow.save_weights(tmp_path / "narrow.weights.h5")
    with pytest.raises(ValueError, match=r"'.*narrow.weights.h5'.*layer 'dense_2' weight 0 \('kernel'\) has shape \(4, 6\) in the model but \(4, 5\)"):
        wider.load_weights(tmp_path / "narrow.weights.h5")
    for a, b in zip(before, wider.get_weights()):
        np.testing.assert_array_equal(a, b)
    not_h5 = tmp_path / "text.weights.h5"
    not_h5.write_text("hello")
    with pytest.raises(ValueError, match=r"cannot read '.*text.weights.h5' as an HDF5 weights file"):
        wider.load_weights(not_h5)


def test_unsupported_keras_options_are_refused_by_name():
    config = L.Dense(2).get_config()
    config["kernel_regularizer"] = {"class_name": "L2", "config": {"l2": 0.01}}
    with pytest.raises(ValueError, match=r"Dense layer 'dense': tinyvid does not support `kernel_regularizer`"):
        L.Dense.from_config(config)
    assert keras_format.weight_paths(Sequential([Input(shape=(2,)), L.Dense(2), L.Dense(1)]))[1][1] == "layers/dense_1"


def test_a_weights_file_holding_text_is_refused_before_any_weight_changes(tmp_path):
    model = Sequential([Input(shape=(2,)), L.Dense(2), L.Dense(1)])
    path = tmp_path / "text.weights.h5"
    model.save_weights(path)
    with h5py.File(path, "a") as h5:
        del h5["layers/dense_1/vars/0"]
        h5["layers/dense_1/vars"].create_dataset("0", data=np.array([[b"ab"], [b"cd"]]))
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"'.*text.weights.h5'\): layer 'dense_1' weight 0 \('kernel'\) holds \|S2 values, not numbers"):
        model.load_weights(path)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
