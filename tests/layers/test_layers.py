"""Layers: outputs computed by hand after set_weights, gradients by gradcheck (float64),
Keras's shapes, names, initialisers and error messages."""

import numpy as np
import pytest

import tinyvid
from tinyvid import initializers
from tinyvid.layers import (
    Activation,
    AveragePooling2D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAveragePooling2D,
    Input,
    MaxPooling2D,
)
from tinyvid.tensor import Tensor
from tinyvid.utils import clear_session, set_random_seed


@pytest.fixture(autouse=True)
def fresh_names():
    clear_session()


def built(layer, input_shape):
    layer.build(input_shape)
    return layer


def images(shape, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, shape)


# --- outputs computed by hand --------------------------------------------------------------------


def test_dense_by_hand():
    layer = built(Dense(2, activation="relu"), (None, 3))
    layer.set_weights([np.array([[1.0, 0.0], [0.0, 1.0], [1.0, -2.0]]), np.array([0.5, -0.5])])
    y = layer(np.array([[1.0, 2.0, 3.0]]))
    # [1 + 3 + 0.5, 2 - 6 - 0.5] = [4.5, -4.5] -> relu -> [4.5, 0]
    np.testing.assert_array_equal(y.data, [[4.5, 0.0]])
    assert y.dtype == np.float32


def test_dense_acts_on_the_last_axis_of_a_3d_input():
    layer = built(Dense(1, use_bias=False), (None, 2, 2))
    layer.set_weights([np.array([[1.0], [10.0]])])
    np.testing.assert_array_equal(layer(np.array([[[1.0, 2.0], [3.0, 4.0]]])).data, [[[21.0], [43.0]]])


def test_conv2d_valid_by_hand():
    x = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)  # [[0 1 2] [3 4 5] [6 7 8]]
    layer = built(Conv2D(1, (2, 2)), x.shape)
    layer.set_weights([np.ones((2, 2, 1, 1)), np.array([1.0])])
    # each output is the sum of a 2x2 window, plus 1
    np.testing.assert_array_equal(layer(x).data[0, :, :, 0], [[0 + 1 + 3 + 4 + 1, 1 + 2 + 4 + 5 + 1],
                                                              [3 + 4 + 6 + 7 + 1, 4 + 5 + 7 + 8 + 1]])


def test_conv2d_same_pads_after_for_an_even_kernel_as_keras():
    x = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
    layer = built(Conv2D(1, 2, padding="same", use_bias=False), x.shape)
    layer.set_weights([np.ones((2, 2, 1, 1))])
    # Keras pads one row/column of zeros at the bottom and on the right
    np.testing.assert_array_equal(layer(x).data[0, :, :, 0], [[8, 12, 7], [20, 24, 13], [13, 15, 8]])


def test_conv2d_strides_and_channels_by_hand():
    x = np.zeros((1, 4, 4, 2), dtype=np.float32)
    x[..., 0], x[..., 1] = 1.0, 2.0
    layer = built(Conv2D(2, 2, strides=2), x.shape)
    kernel = np.zeros((2, 2, 2, 2))
    kernel[:, :, 0, 0] = 1.0  # filter 0 sums channel 0 over the window: 4
    kernel[:, :, 1, 1] = -1.0  # filter 1 subtracts channel 1: -8
    layer.set_weights([kernel, np.array([0.0, 10.0])])
    y = layer(x).data
    assert y.shape == (1, 2, 2, 2)
    np.testing.assert_array_equal(y[..., 0], 4.0)
    np.testing.assert_array_equal(y[..., 1], 2.0)


def test_pooling_by_hand():
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    np.testing.assert_array_equal(MaxPooling2D()(x).data[0, :, :, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(AveragePooling2D()(x).data[0, :, :, 0], [[2.5, 4.5], [10.5, 12.5]])
    np.testing.assert_array_equal(GlobalAveragePooling2D()(x).data, [[7.5]])
    assert GlobalAveragePooling2D(keepdims=True)(x).shape == (1, 1, 1, 1)


def test_average_pooling_same_divides_by_real_pixels_only():
    x = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
    y = AveragePooling2D(padding="same")(x).data[0, :, :, 0]
    np.testing.assert_allclose(y, [[2.0, 3.5], [6.5, 8.0]])  # [[0 1 3 4], [2 5], [6 7], [8]]


def test_flatten_keeps_channels_last_order():
    x = np.arange(8, dtype=np.float32).reshape(1, 2, 2, 2)
    np.testing.assert_array_equal(Flatten()(x).data, x.reshape(1, 8))


def test_activation_layer_and_names():
    x = np.array([[-1.0, 0.0, 2.0]])
    np.testing.assert_array_equal(Activation("relu")(x).data, [[0, 0, 2]])
    np.testing.assert_array_equal(Activation("linear")(x).data, x)
    np.testing.assert_allclose(Activation("softmax")(x).data.sum(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(Activation("tanh")(x).data, np.tanh(x), rtol=1e-6)
    np.testing.assert_allclose(Activation("sigmoid")(x).data, 1 / (1 + np.exp(-x)), rtol=1e-6)
    assert tinyvid.activations.get(None) is tinyvid.activations.linear


def test_dropout_is_identity_at_inference_and_inverted_in_training():
    x = np.ones((200, 50), dtype=np.float32)
    layer = Dropout(0.25, seed=1)
    np.testing.assert_array_equal(layer(x).data, x)  # training=False
    y = layer(x, training=True).data
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.75)}  # kept values are scaled up
    assert abs((y == 0).mean() - 0.25) < 0.02
    assert y.dtype == np.float32
    np.testing.assert_array_equal(Dropout(0.0)(x, training=True).data, x)
    np.testing.assert_array_equal(Dropout(1.0)(x, training=True).data, 0 * x)


def test_dropout_noise_shape_drops_whole_feature_maps():
    x = np.ones((2, 3, 3, 4), dtype=np.float32)
    y = Dropout(0.5, noise_shape=(None, 1, 1, 4), seed=0)(x, training=True).data
    assert np.all(y == y[:, :1, :1, :])  # constant over height and width


def test_dropout_masks_follow_set_random_seed():
    x = np.ones((4, 8), dtype=np.float32)
    set_random_seed(3)
    first = Dropout(0.5)(x, training=True).data
    set_random_seed(3)
    np.testing.assert_array_equal(Dropout(0.5)(x, training=True).data, first)


# --- gradients: every layer passes gradcheck in float64 ---------------------------------------


def leaf64(array):
    return Tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


@pytest.mark.parametrize("make, shape", [
    (lambda: Dense(3, activation="tanh", dtype="float64"), (2, 4)),
    (lambda: Dense(3, activation="softmax", dtype="float64"), (2, 4)),
    (lambda: Conv2D(2, 3, activation="sigmoid", dtype="float64"), (2, 5, 5, 2)),
    (lambda: Conv2D(2, 2, strides=2, padding="same", dtype="float64"), (1, 5, 5, 3)),
    (lambda: Conv2D(2, 3, dilation_rate=2, dtype="float64"), (1, 6, 6, 1)),
])
def test_weighted_layers_pass_gradcheck(make, shape):
    layer = make()
    x = leaf64(images(shape))
    layer.build(x.shape)
    assert all(w.dtype == np.float64 for w in layer.weights)
    for w in layer.weights:  # non-zero biases, so that their gradient is really exercised
        w.data[...] = np.random.default_rng(5).uniform(-0.5, 0.5, w.shape)
    assert tinyvid.gradcheck(lambda x, *weights: layer(x), [x, *layer.weights])


@pytest.mark.parametrize("make, shape", [
    (lambda: MaxPooling2D(dtype="float64"), (2, 4, 4, 2)),
    (lambda: MaxPooling2D(3, strides=2, padding="same", dtype="float64"), (1, 5, 5, 1)),
    (lambda: AveragePooling2D(dtype="float64"), (2, 4, 4, 2)),
    (lambda: AveragePooling2D(2, padding="same", dtype="float64"), (1, 3, 3, 2)),
    (lambda: GlobalAveragePooling2D(dtype="float64"), (2, 3, 3, 2)),
    (lambda: Flatten(dtype="float64"), (2, 3, 2, 2)),
    (lambda: Activation("relu", dtype="float64"), (3, 4)),
    (lambda: Activation("softmax", dtype="float64"), (3, 4)),
])
def test_layers_without_weights_pass_gradcheck(make, shape):
    layer = make()
    x = images(shape)
    x = x + 1e-3 * np.arange(x.size).reshape(shape)  # no ties for max, no exact zeros for relu
    assert tinyvid.gradcheck(lambda x: layer(x), [leaf64(x)])


def test_dropout_passes_gradcheck_with_a_fixed_mask():
    # A fresh layer with the same seed draws the same mask at every call of gradcheck.
    assert tinyvid.gradcheck(lambda x: Dropout(0.4, seed=7, dtype="float64")(x, training=True),
                             [leaf64(images((3, 5)))])


def test_float64_layer_rejects_float32_tensors_that_require_grad():
    layer = Dense(2, dtype="float64")
    with pytest.raises(ValueError, match="layer with dtype='float32'|build the layer with dtype"):
        layer(Tensor(np.ones((1, 3), dtype=np.float32), requires_grad=True))


# --- shapes, names, weights -----------------------------------------------------------------------


@pytest.mark.parametrize("layer, input_shape", [
    (Conv2D(4, 3), (2, 9, 7, 3)),
    (Conv2D(4, (3, 2), strides=(2, 1), padding="same"), (2, 9, 7, 3)),
    (Conv2D(4, 3, dilation_rate=2), (1, 9, 9, 1)),
    (MaxPooling2D(), (2, 9, 7, 3)),
    (MaxPooling2D(3, strides=2, padding="same"), (2, 9, 7, 3)),
    (AveragePooling2D((2, 3)), (1, 6, 6, 2)),
    (GlobalAveragePooling2D(), (2, 5, 5, 3)),
    (Flatten(), (2, 5, 5, 3)),
    (Dense(6), (2, 5)),
])
def test_compute_output_shape_matches_the_output(layer, input_shape):
    y = layer(np.zeros(input_shape, dtype=np.float32))
    assert layer.compute_output_shape((None,) + input_shape[1:]) == (None,) + y.shape[1:]


def test_auto_names_are_keras_names():
    names = [Conv2D(1, 1).name, Conv2D(1, 1).name, Dense(1).name, MaxPooling2D().name,
             GlobalAveragePooling2D().name, Dense(1, name="head").name, Dense(1).name]
    assert names == ["conv2d", "conv2d_1", "dense", "max_pooling2d", "global_average_pooling2d",
                     "head", "dense_1"]


def test_weights_are_float32_tensors_in_keras_layouts():
    conv = built(Conv2D(8, (3, 5)), (None, 10, 10, 3))
    dense = built(Dense(4), (None, 7))
    assert [w.shape for w in conv.weights] == [(3, 5, 3, 8), (8,)]
    assert [w.shape for w in dense.get_weights()] == [(7, 4), (4,)]
    assert all(w.dtype == np.float32 and w.requires_grad for w in conv.weights + dense.weights)
    assert conv.count_params() == 3 * 5 * 3 * 8 + 8 and dense.count_params() == 7 * 4 + 4
    assert conv.trainable_weights == conv.weights
    np.testing.assert_array_equal(dense.get_weights()[1], 0)  # zero biases


def test_set_weights_casts_and_checks():
    dense = built(Dense(2), (None, 3))
    dense.set_weights([np.ones((3, 2), dtype=np.float64), [1, 2]])
    assert dense.kernel.dtype == np.float32
    with pytest.raises(ValueError, match=r"Layer 'dense': weight 'kernel' has shape \(3, 2\), but the value given has shape \(2, 3\)"):
        dense.set_weights([np.ones((2, 3)), np.ones(2)])
    with pytest.raises(ValueError, match="Layer 'dense' expects 2 weights"):
        dense.set_weights([np.ones((3, 2))])
    with pytest.raises(ValueError, match="not been built"):
        Dense(2).set_weights([])


def test_glorot_uniform_uses_keras_fans_and_is_seeded():
    assert initializers.compute_fans((3, 3, 32, 64)) == (9 * 32, 9 * 64)
    assert initializers.compute_fans((230400, 64)) == (230400, 64)
    assert initializers.compute_fans((10,)) == (10, 10)
    values = initializers.GlorotUniform(seed=1)((3, 3, 32, 64), np.float32)
    limit = np.sqrt(6 / (9 * 32 + 9 * 64))
    assert values.dtype == np.float32 and np.abs(values).max() <= limit
    assert abs(values.std() - limit / np.sqrt(3)) < 0.01 * limit  # U(-l, l) has std l / sqrt(3)
    np.testing.assert_array_equal(values, initializers.GlorotUniform(seed=1)((3, 3, 32, 64), np.float32))
    set_random_seed(0)
    first = built(Conv2D(4, 3), (None, 5, 5, 2)).get_weights()[0]
    set_random_seed(0)
    np.testing.assert_array_equal(built(Conv2D(4, 3), (None, 5, 5, 2)).get_weights()[0], first)


def test_input_declares_a_shape():
    layer = Input(shape=(64, 64, 3))
    assert layer.shape == (None, 64, 64, 3) and layer.name == "input_layer"
    with pytest.raises(ValueError, match="`shape`"):
        Input(shape=64)


# --- error messages: who, what was expected, what came ---------------------------------------------


def test_input_of_the_wrong_shape_names_the_layer_and_both_shapes():
    Conv2D(1, 1)  # takes the name "conv2d"
    layer = built(Conv2D(32, 3), (None, 64, 64, 3))
    with pytest.raises(ValueError, match=(
            r"^Input 0 of layer 'conv2d_1' is incompatible with the layer: expected axis -1 of input "
            r"shape to have value 3, but received input with shape \(8, 64, 64, 1\)$")):
        layer(np.zeros((8, 64, 64, 1), dtype=np.float32))
    with pytest.raises(ValueError, match=r"layer 'conv2d_1' .* expected ndim=4, found ndim=3"):
        layer(np.zeros((8, 64, 64), dtype=np.float32))
    with pytest.raises(ValueError, match=r"layer 'dense' .* expected min_ndim=2, found ndim=1"):
        Dense(2)(np.zeros(3))


@pytest.mark.parametrize("make, pattern", [
    (lambda: Conv2D(0, 3), r"Conv2D layer 'conv2d': invalid value for argument `filters`.*filters=0"),
    (lambda: Conv2D(32, (3,)), r"Conv2D layer 'conv2d': invalid value for argument `kernel_size`.*\(3,\)"),
    (lambda: Conv2D(32, 3, padding="full"), r"Conv2D layer 'conv2d': invalid value for argument `padding`.*'full'"),
    (lambda: Conv2D(32, 3, activation="swishy"), r"Conv2D layer 'conv2d': invalid value for argument `activation`.*swishy.*relu"),
    (lambda: Conv2D(32, 3, strides=0), r"argument `strides`"),
    (lambda: Conv2D(32, 3, strides=2, dilation_rate=2), r"argument `dilation_rate`"),
    (lambda: Conv2D(32, 3, data_format="channels_first"), r"argument `data_format`"),
    (lambda: Dense(0), r"Dense layer 'dense': invalid value for argument `units`.*units=0"),
    (lambda: Dense(2.5), r"argument `units`"),
    (lambda: Dense(4, activation="nope"), r"Dense layer 'dense': invalid value for argument `activation`"),
    (lambda: Dropout(1.5), r"Dropout layer 'dropout': invalid value for argument `rate`.*1.5"),
    (lambda: MaxPooling2D(pool_size=0), r"MaxPooling2D layer 'max_pooling2d': .*`pool_size`"),
    (lambda: AveragePooling2D(padding="causal"), r"`padding`"),
    (lambda: Conv2D(4, 3, input_shape=(8, -8, 3)), r"`input_shape`"),
])
def test_bad_arguments_name_the_layer_and_the_argument(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()


def test_unknown_keyword_and_too_small_input():
    with pytest.raises(TypeError, match="Unrecognized keyword arguments passed to Dense"):
        Dense(2, kernel_size=3)
    with pytest.raises(ValueError, match=r"Conv2D layer 'conv2d': computed output size"):
        Conv2D(1, 5)(np.zeros((1, 3, 3, 1)))
    with pytest.raises(ValueError, match=r"count_params.*isn't built"):
        Dense(1).count_params()


@pytest.mark.parametrize("make", [
    lambda: tinyvid.layers.Conv2D(4, 3, activation="relu"),
    lambda: tinyvid.layers.Dense(5, activation="relu"),
    lambda: tinyvid.layers.Conv3D(2, 3, activation="relu"),
])
def test_a_layers_relu_overwrites_its_own_output_and_gives_the_same_gradients(make):
    """The pre-activation array is not kept beside the output (one array, not two)."""
    rng = np.random.default_rng(0)
    layer = make()
    shape = {"Conv2D": (2, 6, 6, 3), "Dense": (4, 7), "Conv3D": (1, 4, 5, 5, 2)}[type(layer).__name__]
    x = tinyvid.Tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)
    y = layer(x)
    assert y.op == "ReLU" and np.shares_memory(y._ctx.inputs[0].data, y.data)
    (y * y).sum().backward()
    got = [x.grad] + [w.grad for w in layer.trainable_weights]

    layer.activation = tinyvid.activations.linear  # the same layer, relu as a separate op
    x2 = tinyvid.Tensor(x.data, requires_grad=True)
    for w in layer.trainable_weights:
        w.grad = None
    z = layer(x2)
    r = z.relu()
    assert not np.shares_memory(z.data, r.data)
    (r * r).sum().backward()
    want = [x2.grad] + [w.grad for w in layer.trainable_weights]
    np.testing.assert_allclose(y.data, r.data, rtol=1e-6)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
