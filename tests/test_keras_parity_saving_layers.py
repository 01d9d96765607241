"""Whole-model saving with Keras 3 for the video layers: 3-D convolution and pooling, batch
normalisation, TimeDistributed, GRU, LSTM, Masking, Reshape, the global poolings, the
preprocessing layers and the merges, one model per family.

- a model saved by tinyvid loads in Keras with the same predictions (inference), and a model
  saved by Keras loads in tinyvid with the same predictions;
- both libraries write the same model.weights.h5 layout (the same dataset paths and shapes);
- the compile_config of a .keras file carries RMSprop, AdamW and the learning-rate schedules
  both ways.

Runs only where keras is installed (with the torch backend); skipped cleanly elsewhere.
"""

import io
import os
import warnings
import zipfile

import h5py
import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

import tinyvid  # noqa: E402
from tinyvid.applications import MODELS  # noqa: E402
from tinyvid.models import load_model  # noqa: E402
from tinyvid.utils import clear_session  # noqa: E402


@pytest.fixture(autouse=True)
def fresh_names():
    clear_session()
    keras.backend.clear_session()


def clips(lib):
    """Conv3D, BatchNormalization, the 3-D poolings, GlobalAveragePooling3D."""
    layers = lib.layers
    return lib.Sequential([
        lib.Input(shape=(4, 6, 6, 2)),
        layers.Conv3D(3, 3, padding="same", activation="relu", bias_initializer="ones"),
        layers.BatchNormalization(momentum=0.9, epsilon=1e-2),
        layers.MaxPooling3D(pool_size=(1, 2, 2)),
        layers.AveragePooling3D(pool_size=2, strides=1, padding="same"),
        layers.Conv3D(2, (2, 1, 1), strides=(2, 1, 1), use_bias=False),
        layers.GlobalAveragePooling3D(),
        layers.Dense(3, activation="softmax"),
    ])


def frames_then_time(lib):
    """TimeDistributed (a Conv2D, a GlobalMaxPooling2D), Reshape, LSTM, BatchNormalization
    without scale and center."""
    layers = lib.layers
    return lib.Sequential([
        lib.Input(shape=(3, 6, 6, 2)),
        layers.TimeDistributed(layers.Conv2D(4, 3, activation="relu")),
        layers.TimeDistributed(layers.GlobalMaxPooling2D()),
        layers.Reshape((3, 2, 2)), layers.Reshape((3, -1)),
        layers.BatchNormalization(center=False, scale=False),
        layers.LSTM(5, return_sequences=True, unit_forget_bias=False),
        layers.LSTM(3, go_backwards=True),
        layers.Dense(2),
    ])


def sequences(lib):
    """Masking, GRU (both reset_after), LSTM, GlobalAveragePooling1D over the real steps."""
    layers = lib.layers
    return lib.Sequential([
        lib.Input(shape=(6, 4)),
        layers.Masking(mask_value=0.0),
        layers.GRU(5, return_sequences=True, dropout=0.2, recurrent_dropout=0.1, seed=1),
        layers.GRU(4, return_sequences=True, reset_after=False, activation="relu"),
        layers.LSTM(3, return_sequences=True, recurrent_activation="tanh"),
        layers.GlobalAveragePooling1D(),
        layers.Dense(2, activation="sigmoid"),
    ])


def preprocessing(lib):
    """Every preprocessing layer; the random ones are the identity in inference, in both
    libraries. RandomCrop gets an image of its own size: on a larger one, Keras 3.15 returns the
    image uncropped in inference (tinyvid takes the central window, as Keras documents)."""
    layers = lib.layers
    return lib.Sequential([
        lib.Input(shape=(10, 12, 3)),
        layers.Rescaling(1 / 127.5, offset=-1.0),
        layers.Resizing(9, 10, crop_to_aspect_ratio=True),
        layers.CenterCrop(6, 6),
        layers.RandomFlip("horizontal", seed=1), layers.RandomCrop(6, 6, seed=2),
        layers.RandomRotation(0.1, fill_mode="nearest", seed=3),
        layers.RandomZoom((-0.2, 0.1), width_factor=0.1, seed=4),
        layers.RandomContrast(0.3, value_range=(-1, 1), seed=5),
        layers.Conv2D(2, 3), layers.GlobalMaxPooling2D(), layers.Dense(2),
    ])


def merged_clips(lib):
    """A functional model: one Conv3D tower shared by two clips, merged four ways."""
    layers = lib.layers
    a, b = lib.Input(shape=(3, 5, 5, 2), name="rgb"), lib.Input(shape=(3, 5, 5, 2), name="flow")
    tower = layers.Conv3D(3, 2, activation="relu", name="tower")
    pool = layers.GlobalAveragePooling3D()
    left, right = pool(tower(a)), pool(tower(b))
    joined = layers.Concatenate(axis=-1)([layers.Add()([left, right]),
                                          layers.Multiply()([left, right]),
                                          layers.Average()([left, right])])
    normed = layers.BatchNormalization()(layers.Dense(4)(joined))
    return lib.Model([a, b], layers.Dense(2, activation="softmax", name="label")(normed))


def masked_sequences(lib):
    """A functional model over padded sequences: Masking's mask reaches a GRU, an LSTM and
    GlobalAveragePooling1D (Keras records it as NotEqual and Any op nodes, which tinyvid's
    Masking replaces)."""
    layers = lib.layers
    steps = lib.Input(shape=(6, 4))
    states = layers.GRU(4, return_sequences=True)(layers.Masking()(steps))
    summary = layers.Concatenate()([layers.LSTM(2)(states), layers.GlobalAveragePooling1D()(states)])
    return lib.Model(steps, layers.Dense(2)(summary))


def data(shape, seed=0, scale=1.0):
    return (np.random.default_rng(seed).random(shape, dtype=np.float32) * scale)


def padded_sequences():
    x = data((5, 6, 4), 3) + 0.1
    x[0, 4:] = 0.0  # padding: Masking hides these steps
    x[2, 2:] = 0.0
    return x


FAMILIES = {
    "clips": (clips, lambda: data((3, 4, 6, 6, 2))),
    "frames_then_time": (frames_then_time, lambda: data((4, 3, 6, 6, 2), 1)),
    "sequences": (sequences, padded_sequences),
    "preprocessing": (preprocessing, lambda: data((3, 10, 12, 3), 2, scale=255.0)),
    "merged_clips": (merged_clips, lambda: [data((3, 3, 5, 5, 2), 4), data((3, 3, 5, 5, 2), 5)]),
    "masked_sequences": (masked_sequences, padded_sequences),
}


def randomize_statistics(model):
    """Moving means and variances away from 0 and 1, so that loading them is tested."""
    rng = np.random.default_rng(7)
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            weights = layer.get_weights()
            weights[-2] = rng.normal(0, 0.5, weights[-2].shape).astype(np.float32)
            weights[-1] = rng.uniform(0.5, 2.0, weights[-1].shape).astype(np.float32)
            layer.set_weights(weights)


def predict(model, x):
    return np.asarray(model.predict(x, verbose=0))


def h5_layout(path):
    """{dataset path: shape} of a .keras file's model.weights.h5, optimizer state left out."""
    with zipfile.ZipFile(path) as archive:
        weights = archive.read("model.weights.h5")
    layout = {}
    with h5py.File(io.BytesIO(weights), "r") as h5:
        h5.visititems(lambda name, item: layout.__setitem__(name, item.shape)
                      if isinstance(item, h5py.Dataset) and not name.startswith("optimizer")
                      else None)
    return layout


@pytest.mark.parametrize("family", FAMILIES)
def test_a_model_saved_by_tinyvid_loads_in_keras_with_the_same_predictions(tmp_path, family):
    build, make_x = FAMILIES[family]
    model = build(tinyvid)
    randomize_statistics(model)
    model.compile(optimizer="adam", loss="mse")
    model.save(tmp_path / "tinyvid.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras warns about optimizer state it cannot restore
        loaded = keras.models.load_model(tmp_path / "tinyvid.keras")
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    x = make_x()
    np.testing.assert_allclose(predict(loaded, x), predict(model, x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_model_saved_by_keras_loads_in_tinyvid_with_the_same_predictions(tmp_path, family):
    build, make_x = FAMILIES[family]
    model = build(keras)
    randomize_statistics(model)
    model.compile(optimizer=keras.optimizers.RMSprop(0.01), loss="mse")
    model.save(tmp_path / "keras.keras")
    loaded = load_model(tmp_path / "keras.keras")
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    assert [type(layer).__name__ for layer in loaded.layers] == [
        type(layer).__name__ for layer in model.layers]
    x = make_x()
    np.testing.assert_allclose(predict(loaded, x), predict(model, x), rtol=1e-4, atol=1e-5)
    for mine, theirs in zip(loaded.layers, model.layers):
        for a, b in zip(mine.get_weights(), theirs.get_weights()):
            np.testing.assert_array_equal(a, b)
    assert isinstance(loaded.optimizer, tinyvid.optimizers.RMSprop)


@pytest.mark.parametrize("family", FAMILIES)
def test_both_libraries_write_the_same_weights_layout(tmp_path, family):
    build, _ = FAMILIES[family]
    build(tinyvid).save(tmp_path / "tinyvid.keras")
    build(keras).save(tmp_path / "keras.keras")
    assert h5_layout(tmp_path / "tinyvid.keras") == h5_layout(tmp_path / "keras.keras")


def test_every_new_layers_config_is_one_keras_accepts_and_gives_back():
    """Each config key tinyvid writes is Keras's, and Keras's config of the layer it makes from
    it reads back into tinyvid as the same layer."""
    layers = tinyvid.layers
    for layer in [layers.Conv3D(2, (1, 2, 3), strides=2, padding="same"),
                  layers.MaxPooling3D((1, 2, 2)), layers.AveragePooling3D(2, strides=1),
                  layers.GlobalAveragePooling3D(keepdims=True), layers.GlobalMaxPooling2D(),
                  layers.GlobalAveragePooling1D(), layers.Reshape((2, -1)),
                  layers.BatchNormalization(axis=1, momentum=0.5, center=False),
                  layers.TimeDistributed(layers.Dense(2, activation="relu")),
                  layers.GRU(3, reset_after=False, return_state=True, go_backwards=True),
                  layers.LSTM(3, unit_forget_bias=False, dropout=0.5, seed=4),
                  layers.Masking(-1.0), layers.Rescaling(2.0, offset=1.0),
                  layers.Resizing(4, 5, interpolation="nearest"), layers.CenterCrop(2, 3),
                  layers.RandomFlip("vertical", seed=1), layers.RandomCrop(2, 2, seed=2),
                  layers.RandomRotation((-0.2, 0.1), seed=3), layers.RandomZoom(0.2, 0.3),
                  layers.RandomContrast(0.4, seed=5), layers.Add(), layers.Average(),
                  layers.Multiply(), layers.Concatenate(axis=1)]:
        name = type(layer).__name__
        config = layer.get_config()
        k_layer = getattr(keras.layers, name).from_config(dict(config))
        k_config = k_layer.get_config()
        assert set(config) == set(k_config), name
        back = type(layer).from_config(k_config)
        assert back.get_config() == config, name


OPTIMIZERS = [
    ("RMSprop", dict(learning_rate=0.02, rho=0.8, momentum=0.5, centered=True)),
    ("AdamW", dict(learning_rate=0.003, weight_decay=0.01, beta_1=0.8)),
    ("SGD", dict(learning_rate=0.1, momentum=0.9, nesterov=True)),
    ("Adam", dict(learning_rate=("ExponentialDecay", dict(
        initial_learning_rate=0.1, decay_steps=10, decay_rate=0.5, staircase=True)))),
    ("RMSprop", dict(learning_rate=("PiecewiseConstantDecay", dict(
        boundaries=[5, 10], values=[0.1, 0.01, 0.001])))),
    ("AdamW", dict(learning_rate=("CosineDecay", dict(
        initial_learning_rate=0.0, decay_steps=20, warmup_target=0.1, warmup_steps=5)))),
]


def make_optimizer(lib, name, kwargs):
    kwargs = dict(kwargs)
    if isinstance(kwargs["learning_rate"], tuple):
        schedule, arguments = kwargs["learning_rate"]
        kwargs["learning_rate"] = getattr(lib.optimizers.schedules, schedule)(**arguments)
    return getattr(lib.optimizers, name)(**kwargs)


def tiny(lib):
    return lib.Sequential([lib.Input(shape=(4,)), lib.layers.Dense(2)])


def learning_rates(optimizer, steps=(0, 3, 7, 12, 30)):
    rate = optimizer._learning_rate if hasattr(optimizer, "_learning_rate") else None
    if callable(rate):
        return [float(rate(step)) for step in steps]
    return [float(np.asarray(optimizer.learning_rate))]


@pytest.mark.parametrize("name, kwargs", OPTIMIZERS,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(OPTIMIZERS)])
def test_compile_configs_carry_the_optimizers_and_schedules_both_ways(tmp_path, name, kwargs):
    model = tiny(tinyvid)
    model.compile(optimizer=make_optimizer(tinyvid, name, kwargs), loss="mse")
    model.save(tmp_path / "tinyvid.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        in_keras = keras.models.load_model(tmp_path / "tinyvid.keras")
    k_optimizer = make_optimizer(keras, name, kwargs)
    assert type(in_keras.optimizer).__name__ == name
    k_config, loaded_config = k_optimizer.get_config(), in_keras.optimizer.get_config()
    assert set(loaded_config) == set(k_config)
    for key in set(k_config) - {"name", "learning_rate"}:
        assert loaded_config[key] == pytest.approx(k_config[key]), key

    k_model = tiny(keras)
    k_model.compile(optimizer=k_optimizer, loss="mse")
    k_model.save(tmp_path / "keras.keras")
    in_tinyvid = load_model(tmp_path / "keras.keras")
    t_optimizer = make_optimizer(tinyvid, name, kwargs)
    assert type(in_tinyvid.optimizer) is type(t_optimizer)
    t_config, back_config = t_optimizer.get_config(), in_tinyvid.optimizer.get_config()
    assert set(back_config) == set(t_config)
    for key in set(t_config) - {"name", "learning_rate"}:
        assert back_config[key] == pytest.approx(t_config[key]), key
    np.testing.assert_allclose(learning_rates(in_tinyvid.optimizer), learning_rates(t_optimizer),
                               rtol=1e-6)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_application_model_goes_both_ways(tmp_path, name):
    """tinyvid.applications' video models (shared towers, Conv3D, TimeDistributed, ...)."""
    model = MODELS[name](3, frame_size=32 if name == "slow_fusion" else 16)
    model.save(tmp_path / "tinyvid.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        in_keras = keras.models.load_model(tmp_path / "tinyvid.keras")
    if isinstance(model, tinyvid.Sequential):
        x = data((2,) + tuple(model._input_shape[1:]), 6)
    else:  # cnn_gru, cnn_lstm: [clips, mask], the mask 1.0 for real frames, the last one padding
        clips = data((2,) + tuple(model.inputs[0].shape[1:]), 6)
        mask = np.ones((2,) + tuple(model.inputs[1].shape[1:]), np.float32)
        mask[:, -1] = 0
        x = [clips, mask]
    np.testing.assert_allclose(predict(in_keras, x), predict(model, x), rtol=1e-4, atol=1e-6)
    in_keras.save(tmp_path / "keras.keras")
    back = load_model(tmp_path / "keras.keras")
    np.testing.assert_allclose(predict(back, x), predict(in_keras, x), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("family", ["frames_then_time", "sequences"])
def test_weights_files_go_both_ways(tmp_path, family):
    build, make_x = FAMILIES[family]
    mine, theirs = build(tinyvid), build(keras)
    randomize_statistics(mine)
    mine.save_weights(tmp_path / "mine.weights.h5")
    theirs.load_weights(tmp_path / "mine.weights.h5")
    x = make_x()
    np.testing.assert_allclose(predict(theirs, x), predict(mine, x), rtol=1e-4, atol=1e-5)
    other = build(keras)
    other.save_weights(tmp_path / "theirs.weights.h5")
    mine.load_weights(tmp_path / "theirs.weights.h5")
    np.testing.assert_allclose(predict(mine, x), predict(other, x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("family", ["clips", "frames_then_time"])
def test_training_resumes_in_keras_with_the_momentum_for_the_video_layers(tmp_path, family):
    """A step in tinyvid, save, a step in Keras: the weights equal two steps in tinyvid, so
    SGD's momentum reached Keras in the order of the layers' weights (a cell's, a wrapped
    layer's, BatchNormalization's gamma and beta). SGD, not Adam: on this model Adam's steps
    already differ between the two libraries without any saving (it divides near-zero
    gradients by their own size, so float32 rounding decides the step)."""
    build, make_x = FAMILIES[family]
    model = build(tinyvid)
    model.compile(optimizer=tinyvid.optimizers.SGD(0.05, momentum=0.9), loss="mse")
    x = make_x()
    y = np.random.default_rng(8).random(model.predict(x, verbose=0).shape, dtype=np.float32)
    model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    model.save(tmp_path / "one_step.keras")
    in_keras = keras.models.load_model(tmp_path / "one_step.keras")
    in_keras.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    for a, b in zip(in_keras.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
