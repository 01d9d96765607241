"""tinyvid computes what Keras 3 computes, on the source document's model (section 4.2).

Given the same weights: the same predictions and loss (float32, to ~1e-5), and the same weights
after the same Adam steps on the same batches. Runs only where keras is installed (with the
torch backend, set before keras is imported); skipped cleanly elsewhere:

    KERAS_BACKEND=torch /work/venv-torch/bin/python -m pytest tests/test_keras_parity.py -q
"""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

from tinyvid import initializers, layers, losses, optimizers  # noqa: E402
from tinyvid.models import Sequential  # noqa: E402

FRAME, CLASSES, BATCH = 12, 3, 8


def document_model_keras(input_shape=(FRAME, FRAME, 3)):
    model = keras.Sequential([
        keras.Input(shape=input_shape),
        keras.layers.Conv2D(32, (3, 3), activation="relu"),
        keras.layers.Conv2D(64, (3, 3), activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(CLASSES, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.001),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def document_model_tinyvid(input_shape=(FRAME, FRAME, 3)):
    model = Sequential()
    model.add(layers.Conv2D(32, (3, 3), activation="relu", input_shape=input_shape))
    model.add(layers.Conv2D(64, (3, 3), activation="relu"))
    model.add(layers.Flatten())
    model.add(layers.Dense(64, activation="relu"))
    model.add(layers.Dense(CLASSES, activation="softmax"))
    model.compile(optimizer=optimizers.Adam(lr=0.001), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def data(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.random((n, FRAME, FRAME, 3), dtype=np.float32)
    y = np.eye(CLASSES, dtype=np.float32)[rng.integers(0, CLASSES, n)]
    return x, y


@pytest.fixture
def twins():
    """The document's model in Keras and in tinyvid, holding the same (Keras-initialised) weights."""
    keras.utils.set_random_seed(0)
    k_model = document_model_keras()
    t_model = document_model_tinyvid()
    t_model.set_weights(k_model.get_weights())
    return k_model, t_model


def test_same_layouts_shapes_and_parameter_count(twins):
    k_model, t_model = twins
    assert [w.shape for w in t_model.get_weights()] == [tuple(w.shape) for w in k_model.get_weights()]
    assert t_model.count_params() == k_model.count_params()


def test_same_predictions_and_loss(twins):
    k_model, t_model = twins
    x, y = data(BATCH, seed=1)
    k_pred = np.asarray(k_model.predict(x, verbose=0))
    t_pred = t_model.predict(x, verbose=0)
    np.testing.assert_allclose(t_pred, k_pred, rtol=1e-5, atol=1e-6)
    k_loss = float(keras.losses.CategoricalCrossentropy()(y, k_pred))
    t_loss = t_model.evaluate(x, y, verbose=0)[0]
    assert t_loss == pytest.approx(float(k_model.evaluate(x, y, verbose=0)[0]), rel=1e-5)
    assert t_loss == pytest.approx(k_loss, rel=1e-5)


def test_same_weights_after_adam_steps(twins):
    k_model, t_model = twins
    for step in range(3):
        x, y = data(BATCH, seed=10 + step)
        k_loss = k_model.train_on_batch(x, y)[0]
        t_loss = t_model.train_on_batch(x, y)[0]
        assert t_loss == pytest.approx(float(k_loss), rel=1e-5)
    for t_w, k_w in zip(t_model.get_weights(), k_model.get_weights()):
        k_w = np.asarray(k_w)
        # Adam moves every weight by about lr per step whatever the gradient's size, so weights
        # are compared on the scale of the steps (3 x 1e-3): float32 rounding is far below it.
        np.testing.assert_allclose(t_w, k_w, rtol=0, atol=2e-6)


@pytest.mark.parametrize("name, make_keras", [
    ("categorical_crossentropy", lambda: keras.losses.CategoricalCrossentropy()),
    ("binary_crossentropy", lambda: keras.losses.BinaryCrossentropy()),
    ("mse", lambda: keras.losses.MeanSquaredError()),
])
def test_losses_match_keras_on_probabilities(name, make_keras):
    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 1, (6, 4)).astype(np.float32)
    p /= p.sum(axis=1, keepdims=True)
    y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 6)]
    expected = float(make_keras()(y, p))
    assert losses.get(name)(y, p).item() == pytest.approx(expected, rel=1e-5)


def test_sparse_categorical_crossentropy_matches_keras():
    rng = np.random.default_rng(1)
    p = rng.uniform(0.05, 1, (6, 4)).astype(np.float32)
    p /= p.sum(axis=1, keepdims=True)
    labels = rng.integers(0, 4, 6)
    expected = float(keras.losses.SparseCategoricalCrossentropy()(labels, p))
    assert losses.get("sparse_categorical_crossentropy")(labels, p).item() == pytest.approx(expected, rel=1e-5)


def test_sgd_with_nesterov_momentum_matches_keras():
    keras.utils.set_random_seed(2)
    k_model = keras.Sequential([keras.Input(shape=(5,)), keras.layers.Dense(4, activation="tanh"),
                                keras.layers.Dense(2, activation="softmax")])
    k_model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True),
                    loss="categorical_crossentropy")
    t_model = Sequential([layers.Input(shape=(5,)), layers.Dense(4, activation="tanh"),
                          layers.Dense(2, activation="softmax")])
    t_model.compile(optimizer=optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True),
                    loss="categorical_crossentropy")
    t_model.set_weights(k_model.get_weights())
    rng = np.random.default_rng(3)
    for _ in range(4):
        x = rng.standard_normal((8, 5)).astype(np.float32)
        y = np.eye(2, dtype=np.float32)[rng.integers(0, 2, 8)]
        assert t_model.train_on_batch(x, y) == pytest.approx(float(k_model.train_on_batch(x, y)), rel=1e-5)
    for t_w, k_w in zip(t_model.get_weights(), k_model.get_weights()):
        np.testing.assert_allclose(t_w, np.asarray(k_w), rtol=1e-5, atol=1e-6)


def test_glorot_uniform_limits_match_keras_for_conv_and_dense():
    for shape in [(3, 3, 3, 32), (3, 3, 32, 64), (9216, 64), (64, 3)]:
        k_values = np.asarray(keras.initializers.GlorotUniform(seed=0)(shape))
        t_values = initializers.get(layers.Dense(1).kernel_initializer)(shape)  # the default
        fan_in, fan_out = initializers.compute_fans(shape)
        limit = np.sqrt(6 / (fan_in + fan_out))
        assert np.abs(t_values).max() <= limit
        assert np.abs(k_values).max() <= limit
        # both fill the range (same fans as Keras): the largest draws come close to the limit
        assert np.abs(t_values).max() > 0.95 * limit and np.abs(k_values).max() > 0.95 * limit
