"""tinyvid and Keras 3 read each other's files, and weigh samples alike.

- a model saved by tinyvid (`model.save('m.keras')`) loads in Keras with the same predictions,
  and a model saved by Keras loads in tinyvid with the same predictions, for every layer type
  tinyvid has, Sequential and functional (shared layers, merges, two inputs, two outputs);
- `.weights.h5` files go both ways;
- the same weights after the same SGD steps with class_weight and with sample_weight.

Runs only where keras is installed (with the torch backend); skipped cleanly elsewhere.
"""

import os
import warnings

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

import tinyvid  # noqa: E402
from tinyvid import layers as L  # noqa: E402
from tinyvid.models import load_model  # noqa: E402
from tinyvid.utils import clear_session  # noqa: E402


@pytest.fixture(autouse=True)
def fresh_names():
    clear_session()
    keras.backend.clear_session()


def every_layer(lib):
    """One of each layer tinyvid has, as a Sequential model of `lib` (keras or tinyvid)."""
    layers = lib.layers
    return lib.Sequential([
        lib.Input(shape=(8, 8, 3)),
        layers.Conv2D(4, 3, padding="same", activation="relu", kernel_initializer="he_uniform"),
        layers.MaxPooling2D(), layers.AveragePooling2D(pool_size=2, strides=1, padding="same"),
        layers.Conv2D(3, (2, 2), strides=2, dilation_rate=1, bias_initializer="ones"),
        layers.GlobalAveragePooling2D(keepdims=True), layers.Flatten(), layers.Dropout(0.25, seed=3),
        layers.Dense(5, activation="tanh"), layers.Activation("sigmoid"),
        layers.Dense(3, activation="softmax"),
    ])


def fusion(lib):
    """Two inputs through one shared Conv2D tower, merged four ways, two outputs."""
    layers = lib.layers
    a, b = lib.Input(shape=(6, 6, 2), name="left"), lib.Input(shape=(6, 6, 2), name="right")
    tower = layers.Conv2D(3, 3, activation="relu", name="tower")
    pool = layers.GlobalAveragePooling2D()
    left, right = pool(tower(a)), pool(tower(b))
    joined = layers.Concatenate()([layers.Add()([left, right]), layers.Multiply()([left, right]),
                                   layers.Average()([left, right])])
    return lib.Model([a, b], [layers.Dense(2, activation="softmax", name="label")(joined),
                              layers.Dense(1, name="score")(joined)])


def frames(shape, seed=0):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def keras_predict(model, x):
    out = model.predict(x, verbose=0)
    return [np.asarray(o) for o in out] if isinstance(out, list) else [np.asarray(out)]


def tinyvid_predict(model, x):
    out = model.predict(x, verbose=0)
    return out if isinstance(out, list) else [out]


def assert_same(a, b):
    assert len(a) == len(b)
    for p, q in zip(a, b):
        np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("build, x", [
    (every_layer, frames((5, 8, 8, 3))),
    (fusion, [frames((4, 6, 6, 2), 1), frames((4, 6, 6, 2), 2)]),
])
def test_a_model_saved_by_tinyvid_loads_in_keras(tmp_path, build, x):
    model = build(tinyvid)
    model.compile(optimizer="adam", loss="mse")
    model.save(tmp_path / "tinyvid.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the optimizer's state is not saved: Keras says so
        loaded = keras.models.load_model(tmp_path / "tinyvid.keras")
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    assert_same(keras_predict(loaded, x), tinyvid_predict(model, x))


@pytest.mark.parametrize("build, x", [
    (every_layer, frames((5, 8, 8, 3))),
    (fusion, [frames((4, 6, 6, 2), 1), frames((4, 6, 6, 2), 2)]),
])
def test_a_model_saved_by_keras_loads_in_tinyvid(tmp_path, build, x):
    model = build(keras)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    model.save(tmp_path / "keras.keras")
    loaded = load_model(tmp_path / "keras.keras")
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    assert_same(tinyvid_predict(loaded, x), keras_predict(model, x))
    assert loaded.compiled and loaded.optimizer.learning_rate == pytest.approx(0.01)


def test_weights_files_go_both_ways(tmp_path):
    mine, theirs = every_layer(tinyvid), every_layer(keras)
    mine.save_weights(tmp_path / "mine.weights.h5")
    theirs.load_weights(tmp_path / "mine.weights.h5")
    x = frames((3, 8, 8, 3))
    assert_same(keras_predict(theirs, x), tinyvid_predict(mine, x))
    other = every_layer(keras)
    other.save_weights(tmp_path / "theirs.weights.h5")
    mine.load_weights(tmp_path / "theirs.weights.h5")
    assert_same(tinyvid_predict(mine, x), keras_predict(other, x))


def test_a_keras_layer_tinyvid_lacks_is_named(tmp_path):
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3),
                              keras.layers.LayerNormalization(), keras.layers.Dense(2)])
    model.save(tmp_path / "norm.keras")
    with pytest.raises(ValueError, match=r"load_model\('.*norm.keras'\): layer class 'LayerNormalization' is not one tinyvid has"):
        load_model(tmp_path / "norm.keras")


def twins():
    """A Keras and a tinyvid softmax classifier with the same weights, both on plain SGD."""
    k_model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(5, activation="relu"),
                                keras.layers.Dense(3, activation="softmax")])
    t_model = tinyvid.Sequential([tinyvid.Input(shape=(4,)), L.Dense(5, activation="relu"),
                                  L.Dense(3, activation="softmax")])
    t_model.set_weights(k_model.get_weights())
    k_model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    t_model.compile(optimizer=tinyvid.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    return k_model, t_model


@pytest.mark.parametrize("option", [
    dict(class_weight={0: 0.5, 1: 2.0, 2: 1.5}),
    dict(sample_weight=np.random.default_rng(3).uniform(0, 2, 24).astype(np.float32)),
])
def test_same_weights_after_the_same_steps_with_sample_and_class_weights(option):
    keras.utils.set_random_seed(0)
    k_model, t_model = twins()
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((24, 4)).astype(np.float32), rng.integers(0, 3, 24)
    k_history = k_model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, **option)
    t_history = t_model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, **option)
    for a, b in zip(t_model.get_weights(), k_model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(t_history.history["loss"], k_history.history["loss"], rtol=1e-4)


@pytest.mark.parametrize("optimizer", ["adam", "sgd_momentum"])
def test_training_resumes_across_libraries_with_the_optimizers_state(tmp_path, optimizer):
    """Two steps in one library, save, one more step in the other: the weights equal those of
    three steps in one library, so the optimizer's state (m, v or velocity) travelled too."""
    def make(lib):
        return (lib.optimizers.Adam(0.01) if optimizer == "adam"
                else lib.optimizers.SGD(0.05, momentum=0.9))

    keras.utils.set_random_seed(0)
    k_model, t_model = twins()
    k_model.compile(optimizer=make(keras), loss="sparse_categorical_crossentropy")
    t_model.compile(optimizer=make(tinyvid), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((16, 4)).astype(np.float32), rng.integers(0, 3, 16)
    t_model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)  # two steps in tinyvid
    t_model.save(tmp_path / "t.keras")
    k_resumed = keras.models.load_model(tmp_path / "t.keras")
    k_resumed.fit(x[:8], y[:8], batch_size=8, epochs=1, shuffle=False, verbose=0)
    k_model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)  # two steps in Keras
    k_model.save(tmp_path / "k.keras")
    t_resumed = load_model(tmp_path / "k.keras")
    assert t_resumed.optimizer.iterations == 2
    t_resumed.fit(x[:8], y[:8], batch_size=8, epochs=1, shuffle=False, verbose=0)
    t_model.fit(x[:8], y[:8], batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b, c in zip(t_model.get_weights(), k_resumed.get_weights(), t_resumed.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(c, a, rtol=1e-4, atol=1e-6)
