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


# ---- the layers that see time: one small model per layer, Keras's weights, same numbers ------------

CLIP = (4, 6, 6, 2)


def _temporal_cases():
    """(id, input shape, Keras layers, tinyvid layers): each is followed by Flatten and a Dense
    softmax head, so that a loss and Adam steps reach every weight."""
    K, T = keras.layers, layers
    return [
        ("conv3d_same", CLIP, lambda: [K.Conv3D(3, 3, padding="same", activation="relu")],
         lambda: [T.Conv3D(3, 3, padding="same", activation="relu")]),
        ("conv3d_strided_same", CLIP, lambda: [K.Conv3D(3, (2, 3, 3), strides=2, padding="same")],
         lambda: [T.Conv3D(3, (2, 3, 3), strides=2, padding="same")]),
        ("conv3d_valid_dilated", CLIP, lambda: [K.Conv3D(2, 2, dilation_rate=(2, 1, 2))],
         lambda: [T.Conv3D(2, 2, dilation_rate=(2, 1, 2))]),
        ("max_pooling3d", CLIP, lambda: [K.Conv3D(3, 1), K.MaxPooling3D((1, 2, 2))],
         lambda: [T.Conv3D(3, 1), T.MaxPooling3D((1, 2, 2))]),
        ("average_pooling3d", CLIP, lambda: [K.Conv3D(3, 1), K.AveragePooling3D(2)],
         lambda: [T.Conv3D(3, 1), T.AveragePooling3D(2)]),
        ("global_average_pooling3d", CLIP, lambda: [K.Conv3D(3, 2), K.GlobalAveragePooling3D()],
         lambda: [T.Conv3D(3, 2), T.GlobalAveragePooling3D()]),
        ("global_max_pooling2d", (6, 6, 2), lambda: [K.Conv2D(3, 3), K.GlobalMaxPooling2D()],
         lambda: [T.Conv2D(3, 3), T.GlobalMaxPooling2D()]),
        ("global_average_pooling1d", (5, 3), lambda: [K.Dense(4), K.GlobalAveragePooling1D()],
         lambda: [T.Dense(4), T.GlobalAveragePooling1D()]),
        ("reshape", CLIP, lambda: [K.Conv3D(2, 1), K.Reshape((4, -1)), K.Dense(3)],
         lambda: [T.Conv3D(2, 1), T.Reshape((4, -1)), T.Dense(3)]),
        # Before BatchNormalization a bias has a zero gradient (the batch mean cancels it), so
        # Adam would move it by rounding noise alone: the layers before it have none, as usual.
        ("batch_norm_after_conv3d", CLIP,
         lambda: [K.Conv3D(3, 2, use_bias=False), K.BatchNormalization()],
         lambda: [T.Conv3D(3, 2, use_bias=False), T.BatchNormalization()]),
        ("batch_norm_after_conv2d", (6, 6, 2),
         lambda: [K.Conv2D(3, 3, use_bias=False), K.BatchNormalization(momentum=0.9)],
         lambda: [T.Conv2D(3, 3, use_bias=False), T.BatchNormalization(momentum=0.9)]),
        ("batch_norm_after_dense", (5,),
         lambda: [K.Dense(4, use_bias=False), K.BatchNormalization(center=False, epsilon=1e-2)],
         lambda: [T.Dense(4, use_bias=False), T.BatchNormalization(center=False, epsilon=1e-2)]),
        ("time_distributed_conv2d", CLIP, lambda: [K.TimeDistributed(K.Conv2D(3, 3))],
         lambda: [T.TimeDistributed(T.Conv2D(3, 3))]),
        ("time_distributed_dense", (4, 5), lambda: [K.TimeDistributed(K.Dense(3))],
         lambda: [T.TimeDistributed(T.Dense(3))]),
    ]


TEMPORAL = {case[0]: case[1:] for case in _temporal_cases()}


def temporal_twins(case, seed=0):
    shape, make_keras, make_tinyvid = TEMPORAL[case]
    keras.utils.set_random_seed(seed)
    k_model = keras.Sequential([keras.Input(shape=shape), *make_keras(), keras.layers.Flatten(),
                                keras.layers.Dense(CLASSES, activation="softmax")])
    k_model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01),
                    loss="categorical_crossentropy")
    t_model = Sequential([layers.Input(shape=shape), *make_tinyvid(), layers.Flatten(),
                          layers.Dense(CLASSES, activation="softmax")])
    t_model.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss="categorical_crossentropy")
    t_model.set_weights(k_model.get_weights())
    return k_model, t_model


def temporal_data(shape, n, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n,) + shape).astype(np.float32)
    return x, np.eye(CLASSES, dtype=np.float32)[rng.integers(0, CLASSES, n)]


@pytest.mark.parametrize("case", sorted(TEMPORAL))
def test_temporal_layer_same_predictions_and_weights_after_adam_steps(case):
    k_model, t_model = temporal_twins(case)
    shape = TEMPORAL[case][0]
    k_shapes = [tuple(w.shape) for w in k_model.get_weights()]
    assert [w.shape for w in t_model.get_weights()] == k_shapes
    assert t_model.count_params() == k_model.count_params()
    assert t_model.compute_output_shape((None,) + shape) == tuple(k_model.output_shape)
    x, _ = temporal_data(shape, BATCH, seed=1)
    np.testing.assert_allclose(t_model.predict(x, verbose=0),
                               np.asarray(k_model.predict(x, verbose=0)), rtol=1e-5, atol=1e-6)
    for step in range(3):
        x, y = temporal_data(shape, BATCH, seed=10 + step)
        k_loss = float(k_model.train_on_batch(x, y))
        assert t_model.train_on_batch(x, y) == pytest.approx(k_loss, rel=1e-5)
    for t_w, k_w in zip(t_model.get_weights(), k_model.get_weights()):
        np.testing.assert_allclose(t_w, np.asarray(k_w), rtol=1e-4, atol=2e-5)


@pytest.mark.parametrize("case", ["batch_norm_after_conv3d", "batch_norm_after_dense"])
def test_batch_norm_moving_statistics_after_fit_and_inference_outputs(case):
    k_model, t_model = temporal_twins(case, seed=3)
    shape = TEMPORAL[case][0]
    x, y = temporal_data(shape, 4 * BATCH, seed=4)
    x = x * 2 + 1  # statistics far from the initial (0, 1)
    k_model.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0)
    t_model.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0)
    k_bn = next(layer for layer in k_model.layers if "batch_normalization" in layer.name)
    t_bn = next(layer for layer in t_model.layers if isinstance(layer, layers.BatchNormalization))
    for name in ("moving_mean", "moving_variance"):
        np.testing.assert_allclose(getattr(t_bn, name).data,
                                   np.asarray(getattr(k_bn, name).numpy()), rtol=1e-4, atol=1e-5)
    x_test, _ = temporal_data(shape, BATCH, seed=5)
    np.testing.assert_allclose(t_model.predict(x_test, verbose=0),
                               np.asarray(k_model.predict(x_test, verbose=0)), rtol=1e-4, atol=1e-5)
    bn_input = _bn_input(k_model, x_test)
    k_out = np.asarray(k_bn(keras.ops.convert_to_tensor(bn_input), training=False).detach().cpu())
    t_out = t_bn(bn_input, training=False).data
    np.testing.assert_allclose(t_out, k_out, rtol=1e-4, atol=1e-5)


def _bn_input(k_model, x):
    """What the Keras model's BatchNormalization receives for x (the first layer's output)."""
    return np.asarray(k_model.layers[0](keras.ops.convert_to_tensor(x)).detach().cpu())


def test_global_average_pooling1d_with_a_mask_matches_keras():
    x, _ = temporal_data((5, 3), 4, seed=6)
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0], [1, 1, 0, 1, 0]], bool)
    expected = keras.layers.GlobalAveragePooling1D()(keras.ops.convert_to_tensor(x),
                                                     mask=keras.ops.convert_to_tensor(mask))
    got = layers.GlobalAveragePooling1D()(x, mask=mask).data
    np.testing.assert_allclose(got, np.asarray(expected.detach().cpu()), rtol=1e-6)


@pytest.mark.parametrize("padding, pool, strides", [("same", 2, None), ("same", 3, 2),
                                                    ("valid", (1, 2, 2), (1, 1, 1))])
def test_pooling3d_paddings_match_keras(padding, pool, strides):
    # Sizes where 'same' pads each axis evenly (or only with a pixel a 2-wide window ignores):
    # where the padding is uneven, Keras's torch backend pads average pooling by repeating the
    # edge and counts those copies; tinyvid averages the real voxels only, as Keras's
    # TensorFlow and JAX backends and tinyvid's AveragePooling2D do.
    x, _ = temporal_data((5, 5, 5, 2), 2, seed=7)
    xt = keras.ops.convert_to_tensor(x)
    for k_layer, t_layer in [(keras.layers.MaxPooling3D, layers.MaxPooling3D),
                             (keras.layers.AveragePooling3D, layers.AveragePooling3D)]:
        expected = np.asarray(k_layer(pool, strides, padding)(xt).detach().cpu())
        np.testing.assert_allclose(t_layer(pool, strides, padding)(x).data, expected, rtol=1e-6,
                                   atol=1e-7, err_msg=k_layer.__name__)
