"""The layers that see time (and their helpers): Conv3D, 3-D and global poolings, Reshape,
BatchNormalization, TimeDistributed; their ops in tinyvid.nn.

Outputs computed by hand after set_weights, shapes as Keras gives them, errors matched by
message, and every layer and op through gradcheck in float64. Keras parity is in
tests/test_keras_parity.py.
"""

import numpy as np
import pytest

import tinyvid
from tinyvid import nn
from tinyvid.autograd.tensor import Tensor
from tinyvid.layers import (
    AveragePooling3D,
    BatchNormalization,
    Conv2D,
    Conv3D,
    Dense,
    Flatten,
    GlobalAveragePooling1D,
    GlobalAveragePooling3D,
    GlobalMaxPooling2D,
    Input,
    MaxPooling3D,
    Reshape,
    TimeDistributed,
)
from tinyvid.models import Sequential
from tinyvid.utils import clear_session


def leaf64(shape, seed=0):
    return Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


@pytest.fixture(autouse=True)
def fresh_names():
    clear_session()


# ---- Conv3D -------------------------------------------------------------------------------------


def test_conv3d_shapes_and_weight_layout():
    layer = Conv3D(4, (2, 3, 3), strides=(1, 2, 2), padding="same")
    y = layer(np.zeros((2, 5, 8, 7, 3), np.float32))
    assert y.shape == (2, 5, 4, 4, 4)
    assert layer.compute_output_shape((None, 5, 8, 7, 3)) == (None, 5, 4, 4, 4)
    assert [w.shape for w in layer.get_weights()] == [(2, 3, 3, 3, 4), (4,)]
    assert Conv3D(2, 3).compute_output_shape((None, 4, 6, 6, 1)) == (None, 2, 4, 4, 2)


def test_conv3d_sums_a_window_of_time_by_hand():
    layer = Conv3D(1, (2, 1, 1), use_bias=True)
    layer.build((None, 3, 1, 1, 1))
    layer.set_weights([np.ones((2, 1, 1, 1, 1)), np.array([0.5])])
    x = np.array([1.0, 2.0, 4.0], np.float32).reshape(1, 3, 1, 1, 1)
    np.testing.assert_allclose(layer(x).data.ravel(), [3.5, 6.5])  # 1+2+0.5, 2+4+0.5


def test_conv3d_rejects_bad_arguments_naming_the_layer():
    with pytest.raises(ValueError, match=r"Conv3D layer 'c': invalid value for argument `strides`"):
        Conv3D(2, 3, strides=(1, 2), name="c")
    with pytest.raises(ValueError, match=r"`filters`"):
        Conv3D(0, 3)
    with pytest.raises(ValueError, match=r"`dilation_rate`"):
        Conv3D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match=r"expected ndim=5, found ndim=4"):
        Conv3D(2, 3)(np.zeros((1, 4, 4, 3), np.float32))
    with pytest.raises(ValueError, match=r"negative or zero"):
        Conv3D(2, 3)(np.zeros((1, 2, 4, 4, 3), np.float32))


def test_conv3d_function_checks_its_arguments_once():
    with pytest.raises(ValueError, match=r"conv3d: input has 3 channels"):
        nn.conv3d(np.zeros((1, 3, 3, 3, 3)), np.zeros((1, 1, 1, 2, 1)))


# ---- gradients: every layer and op passes gradcheck in float64 ----------------------------------

WEIGHTED = [
    (lambda: Conv3D(2, (2, 2, 2), padding="same", activation="tanh", dtype="float64"),
     (2, 3, 3, 3, 2)),
    (lambda: Conv3D(2, 2, strides=(1, 2, 1), dtype="float64"), (1, 3, 4, 3, 1)),
    (lambda: BatchNormalization(dtype="float64"), (3, 2, 2, 2, 2)),
    (lambda: BatchNormalization(axis=1, center=False, dtype="float64"), (4, 3, 2)),
    (lambda: TimeDistributed(Conv2D(2, 2, dtype="float64"), dtype="float64"), (2, 3, 3, 3, 1)),
    (lambda: TimeDistributed(Dense(3, dtype="float64"), dtype="float64"), (2, 3, 4)),
]


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("make, shape", WEIGHTED)
def test_weighted_layers_pass_gradcheck(make, shape, training):
    layer = make()
    x = leaf64(shape)
    layer(x)  # build
    trainable = layer.trainable_weights
    assert tinyvid.gradcheck(lambda x, *weights: layer(x, training=training), [x, *trainable])


UNWEIGHTED = [
    (lambda: MaxPooling3D((1, 2, 2), dtype="float64"), (2, 2, 4, 4, 2)),
    (lambda: MaxPooling3D(2, strides=1, padding="same", dtype="float64"), (1, 3, 3, 3, 1)),
    (lambda: AveragePooling3D(2, padding="same", dtype="float64"), (1, 3, 3, 3, 2)),
    (lambda: GlobalAveragePooling3D(dtype="float64"), (2, 2, 3, 3, 2)),
    (lambda: GlobalMaxPooling2D(dtype="float64"), (2, 3, 3, 2)),
    (lambda: GlobalAveragePooling1D(dtype="float64"), (2, 4, 3)),
    (lambda: Reshape((-1, 2), dtype="float64"), (2, 3, 4)),
]


@pytest.mark.parametrize("make, shape", UNWEIGHTED)
def test_layers_without_weights_pass_gradcheck(make, shape):
    layer = make()
    assert tinyvid.gradcheck(lambda x: layer(x), [leaf64(shape)])


def test_nn_ops_pass_gradcheck():
    x, w, b = leaf64((1, 3, 4, 3, 2), 1), leaf64((2, 3, 2, 2, 2), 2), leaf64((2,), 3)
    assert tinyvid.gradcheck(lambda x, w, b: nn.conv3d(x, w, b, (1, 2, 1), "same"), [x, w, b])
    assert tinyvid.gradcheck(lambda x: nn.max_pool3d(x, 2, 1, "same"), [x])
    assert tinyvid.gradcheck(lambda x: nn.avg_pool3d(x, (1, 2, 2), None, "same"), [x])
    gamma, beta = leaf64((2,), 4), leaf64((2,), 5)
    mean, variance = np.zeros(2), np.ones(2)
    for training in (True, False):
        def bn(x, gamma, beta, training=training):
            return nn.batch_normalization(x, gamma, beta, mean.copy(), variance.copy(),
                                          training=training)
        assert tinyvid.gradcheck(bn, [x, gamma, beta])


def test_gradcheck_fails_on_a_wrong_batch_norm_gradient():
    class NoGradThroughStatistics(nn.BatchNormTraining):
        @staticmethod
        def backward(ctx, grad_output):
            x_hat, inv_std, gamma = ctx.saved_tensors
            return grad_output * gamma * inv_std, None, None  # ignores mu and sigma^2

    x, gamma = leaf64((4, 3)), leaf64((3,), 1)

    def wrong(x, gamma):
        mean, variance = nn.normalization.moments(x.data, 1)
        return NoGradThroughStatistics.apply(x, gamma, None, mean=mean, variance=variance,
                                             axis=1, epsilon=1e-3)

    with pytest.raises(tinyvid.GradcheckError):
        tinyvid.gradcheck(wrong, [x, gamma])


# ---- pooling, global pooling, Reshape -----------------------------------------------------------


def test_pooling3d_shapes():
    x = np.zeros((2, 8, 6, 6, 3), np.float32)
    assert MaxPooling3D()(x).shape == (2, 4, 3, 3, 3)
    assert MaxPooling3D((1, 2, 2)).compute_output_shape((None, 8, 6, 6, 3)) == (None, 8, 3, 3, 3)
    assert AveragePooling3D(3, strides=2, padding="same")(x).shape == (2, 4, 3, 3, 3)
    assert GlobalAveragePooling3D()(x).shape == (2, 3)
    assert GlobalAveragePooling3D(keepdims=True).compute_output_shape(x.shape) == (2, 1, 1, 1, 3)
    with pytest.raises(ValueError, match=r"MaxPooling3D layer 'p': invalid value for argument "
                                         r"`pool_size`"):
        MaxPooling3D((2, 2), name="p")


def test_global_poolings_by_hand():
    x = np.arange(8, dtype=np.float32).reshape(1, 2, 2, 2)
    np.testing.assert_allclose(GlobalMaxPooling2D()(x).data, [[6, 7]])
    clip = np.arange(16, dtype=np.float32).reshape(1, 2, 2, 2, 2)
    np.testing.assert_allclose(GlobalAveragePooling3D()(clip).data, [[7, 8]])


def test_global_average_pooling1d_averages_only_the_real_steps():
    x = np.array([[[1.0], [3.0], [100.0]], [[2.0], [4.0], [6.0]]], np.float32)
    mask = np.array([[True, True, False], [True, True, True]])
    layer = GlobalAveragePooling1D()
    np.testing.assert_allclose(layer(x, mask=mask).data, [[2.0], [4.0]])
    np.testing.assert_allclose(layer(x).data, [[104 / 3], [4.0]])
    assert layer.compute_mask(x, mask) is None
    grad_x = leaf64((2, 3, 2))
    assert tinyvid.gradcheck(lambda x: GlobalAveragePooling1D(dtype="float64").call(x, mask=mask),
                             [grad_x])
    with pytest.raises(ValueError, match=r"argument `mask`: expected booleans of shape \(batch, time\) = \(2, 3\)"):
        layer(x, mask=mask[:, :2])


def test_reshape_infers_minus_one_and_names_bad_sizes():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    y = Reshape((2, -1))(x)
    assert y.shape == (2, 2, 6)
    np.testing.assert_array_equal(y.data, x.reshape(2, 2, 6))
    assert Reshape((-1, 4)).compute_output_shape((None, 3, 4)) == (None, 3, 4)
    with pytest.raises(ValueError, match=r"total size of the tensor must be unchanged"):
        Reshape((5,)).compute_output_shape((None, 3, 4))
    with pytest.raises(ValueError, match=r"Reshape layer 'r': invalid value for argument "
                                         r"`target_shape`"):
        Reshape((-1, -1), name="r")


# ---- BatchNormalization -------------------------------------------------------------------------


def test_batch_norm_weights_in_keras_order_with_moving_statistics_not_trainable():
    layer = BatchNormalization()
    layer.build((None, 4, 4, 3))
    assert [w.name.split("/")[-1] for w in layer.weights] == [
        "gamma", "beta", "moving_mean", "moving_variance"]
    assert layer.trainable_weights == layer.weights[:2]
    assert layer.non_trainable_weights == layer.weights[2:]
    np.testing.assert_array_equal(layer.get_weights()[3], np.ones(3))
    layer.trainable = False
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 4


def test_batch_norm_training_uses_batch_statistics_and_updates_the_moving_ones():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((16, 5, 3)) * 3 + 2).astype(np.float32)
    layer = BatchNormalization(momentum=0.9, epsilon=1e-3)
    y = layer(x, training=True).data
    np.testing.assert_allclose(y.mean(axis=(0, 1)), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=(0, 1)), x.var(axis=(0, 1)) / (x.var(axis=(0, 1)) + 1e-3),
                               rtol=1e-4)
    mean, var = x.mean(axis=(0, 1)), x.var(axis=(0, 1))
    np.testing.assert_allclose(layer.moving_mean.data, 0.1 * mean, rtol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.data, 0.9 + 0.1 * var, rtol=1e-5)
    # inference: the moving statistics, and nothing is updated
    before = layer.get_weights()
    y = layer(x, training=False).data
    expected = (x - layer.moving_mean.data) / np.sqrt(layer.moving_variance.data + 1e-3)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    for a, b in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_frozen_batch_norm_runs_in_inference_mode():
    layer = BatchNormalization(trainable=False)
    x = np.random.default_rng(1).standard_normal((8, 2)).astype(np.float32) + 5
    np.testing.assert_allclose(layer(x, training=True).data, x / np.sqrt(1 + 1e-3), rtol=1e-6)
    np.testing.assert_array_equal(layer.moving_mean.data, 0)


@pytest.mark.parametrize("before", ["conv2d", "conv3d", "dense"])
def test_batch_norm_after_conv2d_conv3d_dense_trains_saves_and_loads(before, tmp_path):
    shapes = {"conv2d": (6, 6, 2), "conv3d": (3, 6, 6, 2), "dense": (5,)}
    first = {"conv2d": lambda: Conv2D(3, 3), "conv3d": lambda: Conv3D(3, 2),
             "dense": lambda: Dense(3)}[before]
    model = Sequential([Input(shape=shapes[before]), first(), BatchNormalization(), Flatten(),
                        Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    rng = np.random.default_rng(2)
    x = rng.random((8,) + shapes[before], dtype=np.float32)
    y = np.eye(2, dtype=np.float32)[rng.integers(0, 2, 8)]
    bn = model.layers[1]
    assert all(w not in model.trainable_weights for w in bn.non_trainable_weights)
    model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    assert not np.allclose(bn.moving_mean.data, 0)  # updated by the layer during fit
    assert not np.allclose(bn.gamma.data, 1)  # updated by the optimizer
    path = tmp_path / "bn.weights.npz"
    model.save_weights(path)
    predictions = model.predict(x, verbose=0)
    clear_session()
    twin = Sequential([Input(shape=shapes[before]), first(), BatchNormalization(), Flatten(),
                       Dense(2, activation="softmax")])
    twin.load_weights(path)
    for a, b in zip(twin.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(twin.predict(x, verbose=0), predictions)


def test_batch_norm_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"BatchNormalization layer 'b': invalid value for "
                                         r"argument `momentum`"):
        BatchNormalization(momentum=2, name="b")
    with pytest.raises(ValueError, match=r"`epsilon`"):
        BatchNormalization(epsilon=0)
    with pytest.raises(ValueError, match=r"`axis`: the input has 2 axes"):
        BatchNormalization(axis=3)(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"batch_normalization: expected `gamma` of shape \(3,\)"):
        nn.batch_normalization(np.zeros((2, 3)), np.ones(2), None, np.zeros(3), np.ones(3))


# ---- TimeDistributed ----------------------------------------------------------------------------


def test_time_distributed_applies_one_layer_to_every_frame():
    inner = Conv2D(4, 3, activation="relu")
    layer = TimeDistributed(inner)
    x = np.random.default_rng(3).random((2, 5, 8, 8, 3), dtype=np.float32)
    y = layer(x).data
    assert y.shape == (2, 5, 6, 6, 4)
    assert layer.compute_output_shape((None, 5, 8, 8, 3)) == (None, 5, 6, 6, 4)
    assert layer.weights == inner.weights and len(layer.get_weights()) == 2  # one set of weights
    for t in range(5):
        np.testing.assert_allclose(y[:, t], inner(x[:, t]).data, rtol=1e-6)
    assert layer.count_params() == 3 * 3 * 3 * 4 + 4


def test_time_distributed_in_a_model_summary_trains_saves_and_loads(tmp_path):
    def build():
        model = Sequential([Input(shape=(4, 6, 6, 1)), TimeDistributed(Conv2D(2, 3)),
                            TimeDistributed(Flatten()), GlobalAveragePooling1D(),
                            Dense(2, activation="softmax")])
        model.compile(optimizer="adam", loss="categorical_crossentropy")
        return model

    model = build()
    lines = []
    model.summary(print_fn=lines.append)
    at = next(i for i, line in enumerate(lines) if "│ time_distributed " in line)
    row = lines[at] + lines[at + 1]  # Keras wraps "name (Type)" over two lines when long
    assert "(TimeDistributed)" in row and "(None, 4, 4, 4, 2)" in row and "20" in row
    x = np.random.default_rng(4).random((4, 4, 6, 6, 1), dtype=np.float32)
    y = np.eye(2, dtype=np.float32)[[0, 1, 0, 1]]
    before = model.get_weights()[0].copy()
    model.fit(x, y, batch_size=2, epochs=1, verbose=0)
    assert not np.allclose(model.get_weights()[0], before)
    model.save_weights(tmp_path / "td.weights.npz")
    clear_session()
    twin = build()
    twin.load_weights(tmp_path / "td.weights.npz")
    np.testing.assert_array_equal(twin.predict(x, verbose=0), model.predict(x, verbose=0))


def test_time_distributed_needs_a_layer_and_a_time_axis():
    with pytest.raises(ValueError, match=r"TimeDistributed layer 't': invalid value for argument "
                                         r"`layer`"):
        TimeDistributed("conv", name="t")
    with pytest.raises(ValueError, match=r"expected min_ndim=3"):
        TimeDistributed(Dense(2))(np.zeros((2, 3), np.float32))
