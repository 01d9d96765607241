"""GRU, LSTM, Masking and masks: hand-checked outputs, what a mask does, gradients, errors.

Keras parity is in tests/test_keras_parity_recurrent.py; here, what can be checked by hand or
against tinyvid itself, and gradcheck in float64 through sequences of 5 and more steps.
"""

import math

import numpy as np
import pytest

import tinyvid
from tinyvid import initializers, layers, nn
from tinyvid.models import Sequential


def sigmoid(a):
    return 1 / (1 + math.exp(-a))


def gru_1x1(kernel, recurrent, bias=None, **kwargs):
    layer = layers.GRU(1, **kwargs)
    layer.build((None, None, 1))
    bias = np.zeros((2, 3)) if bias is None else bias
    layer.set_weights([np.array([kernel]), np.array([recurrent]), bias])
    return layer


# --- hand-checked outputs ----------------------------------------------------------------------


def test_gru_two_steps_by_hand():
    wz, wr, wh, uz, ur, uh = 0.5, -0.3, 0.8, 0.2, 0.4, -0.6
    bias = np.array([[0.1, 0.0, -0.1], [0.0, 0.2, 0.3]])  # input bias, recurrent bias
    layer = gru_1x1([wz, wr, wh], [uz, ur, uh], bias, return_sequences=True)
    xs = [1.0, -2.0]
    h, expected = 0.0, []
    for x in xs:
        z = sigmoid(x * wz + 0.1 + h * uz + 0.0)
        r = sigmoid(x * wr + 0.0 + h * ur + 0.2)
        hh = math.tanh(x * wh - 0.1 + r * (h * uh + 0.3))
        h = z * h + (1 - z) * hh
        expected.append(h)
    out = layer(np.array(xs, dtype=np.float32).reshape(1, 2, 1))
    np.testing.assert_allclose(out.data.ravel(), expected, rtol=1e-6)


def test_lstm_one_step_by_hand():
    layer = layers.LSTM(1)
    layer.build((None, 1, 1))
    w = [0.5, -0.4, 0.3, 0.9]  # i, f, c, o
    layer.set_weights([np.array([w]), np.zeros((1, 4)), np.array([0.0, 1.0, 0.0, 0.0])])
    x = 2.0
    i, f, g, o = sigmoid(x * w[0]), sigmoid(x * w[1] + 1), math.tanh(x * w[2]), sigmoid(x * w[3])
    c = f * 0.0 + i * g
    assert layer(np.full((1, 1, 1), x, np.float32)).item() == pytest.approx(o * math.tanh(c),
                                                                            rel=1e-6)


def test_lstm_starts_with_forget_bias_one_and_orthogonal_recurrent_kernel():
    layer = layers.LSTM(3)
    layer.build((None, 4, 5))
    kernel, recurrent, bias = layer.get_weights()
    assert kernel.shape == (5, 12) and recurrent.shape == (3, 12) and bias.shape == (12,)
    np.testing.assert_array_equal(bias, [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(3), atol=1e-6)
    assert not _built(layers.LSTM(3, unit_forget_bias=False)).get_weights()[2].any()


def test_gru_weight_layouts_follow_reset_after():
    assert [w.shape for w in _built(layers.GRU(4)).get_weights()] == [(5, 12), (4, 12), (2, 12)]
    assert [w.shape for w in _built(layers.GRU(4, reset_after=False)).get_weights()] == [
        (5, 12), (4, 12), (12,)]
    assert [w.shape for w in _built(layers.GRU(4, use_bias=False)).get_weights()] == [
        (5, 12), (4, 12)]


def _built(layer, shape=(None, 3, 5)):
    layer.build(shape)
    return layer


def test_orthogonal_initializer():
    w = initializers.Orthogonal(gain=2.0, seed=1)((6, 4), np.float32)
    np.testing.assert_allclose(w.T @ w, 4 * np.eye(4), atol=1e-5)  # columns orthogonal, length 2
    assert w.flags.c_contiguous and w.dtype == np.float32
    np.testing.assert_array_equal(w, initializers.Orthogonal(gain=2.0, seed=1)((6, 4)))
    with pytest.raises(ValueError, match="at least two axes"):
        initializers.Orthogonal()((5,))


# --- shapes and options ----------------------------------------------------------------------


@pytest.mark.parametrize("cls", [layers.GRU, layers.LSTM])
def test_output_shapes_and_return_state(cls):
    x = np.random.default_rng(0).standard_normal((2, 5, 3)).astype(np.float32)
    assert cls(4)(x).shape == (2, 4)
    assert cls(4, return_sequences=True)(x).shape == (2, 5, 4)
    out = cls(4, return_sequences=True, return_state=True)(x)
    assert [o.shape for o in out] == [(2, 5, 4)] + [(2, 4)] * (2 if cls is layers.LSTM else 1)
    np.testing.assert_array_equal(out[0].data[:, -1], out[1].data)  # the last state is h_T
    assert cls(4).compute_output_shape((None, 5, 3)) == (None, 4)
    assert cls(4, return_sequences=True).compute_output_shape((None, 5, 3)) == (None, 5, 4)


@pytest.mark.parametrize("cls", [layers.GRU, layers.LSTM])
def test_go_backwards_reads_the_reversed_sequence(cls):
    x = np.random.default_rng(1).standard_normal((2, 5, 3)).astype(np.float32)
    forward, backward = cls(4, return_sequences=True), cls(4, return_sequences=True,
                                                            go_backwards=True)
    backward.build((None, 5, 3))
    forward.build((None, 5, 3))
    backward.set_weights(forward.get_weights())
    np.testing.assert_allclose(backward(x).data, forward(x[:, ::-1]).data, rtol=1e-6)


@pytest.mark.parametrize("argument", ["dropout", "recurrent_dropout"])
def test_dropout_only_in_training_and_reproducible_with_a_seed(argument):
    x = np.random.default_rng(2).standard_normal((8, 5, 3)).astype(np.float32)
    layer = layers.GRU(4, seed=3, **{argument: 0.5})
    plain = layers.GRU(4)
    layer.build((None, 5, 3))
    plain.build((None, 5, 3))
    plain.set_weights(layer.get_weights())
    np.testing.assert_array_equal(layer(x).data, plain(x).data)  # inference: no dropout
    assert not np.allclose(layer(x, training=True).data, plain(x).data)
    again = layers.GRU(4, seed=3, **{argument: 0.5})
    again.build((None, 5, 3))
    again.set_weights(layer.get_weights())
    layer._generator = tinyvid.training.rng.generator_for(3)
    np.testing.assert_array_equal(layer(x, training=True).data, again(x, training=True).data)


# --- masks ---------------------------------------------------------------------------------------


def test_masking_makes_the_mask_and_zeroes_the_masked_steps():
    x = np.ones((2, 4, 3), dtype=np.float32)
    x[0, 2:] = 5.0
    x[1, 0, :2] = 5.0  # not every feature is the mask value: a real step
    masking = layers.Masking(mask_value=5.0)
    np.testing.assert_array_equal(masking.compute_mask(x), [[1, 1, 0, 0], [1, 1, 1, 1]])
    y = masking(x)
    assert not y.data[0, 2:].any() and y.data[1, 0, 0] == 5.0
    np.testing.assert_array_equal(y._keras_mask, masking.compute_mask(x))


@pytest.mark.parametrize("cls", [layers.GRU, layers.LSTM])
def test_a_masked_step_keeps_the_previous_state_and_output(cls):
    x = np.random.default_rng(4).standard_normal((2, 6, 3)).astype(np.float32)
    mask = np.ones((2, 6), bool)
    mask[0, 3:] = False  # a short clip
    mask[1, [0, 1, 4]] = False  # gaps at the start and in the middle
    layer = cls(4, return_sequences=True)
    out = layer(x, mask=mask).data
    np.testing.assert_array_equal(out[0, 3:], np.broadcast_to(out[0, 2], (3, 4)))
    np.testing.assert_array_equal(out[1, :2], 0.0)  # no real step yet: the zero initial state
    np.testing.assert_array_equal(out[1, 4], out[1, 3])
    # The padded steps' values change nothing; the short clip gives its own 3-step result.
    noisy = x.copy()
    noisy[~mask] = 100.0
    np.testing.assert_array_equal(layer(noisy, mask=mask).data, out)
    np.testing.assert_allclose(out[0, 2], layer(x[:1, :3]).data[0, 2], rtol=1e-6)


@pytest.mark.parametrize("cls", [layers.GRU, layers.LSTM])
def test_masked_steps_contribute_nothing_to_the_gradients(cls):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 5, 3))
    mask = np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 1]], bool)
    layer = cls(4, dtype="float64")
    xt = tinyvid.Tensor(x, requires_grad=True)
    layer(xt, mask=mask).sum().backward()
    assert not xt.grad[~mask].any() and xt.grad[mask].all()
    grads = [w.grad.copy() for w in layer.weights]
    noisy = x.copy()
    noisy[~mask] = 7.0
    for w in layer.weights:
        w.grad = None
    layer(tinyvid.Tensor(noisy), mask=mask).sum().backward()
    for before, w in zip(grads, layer.weights):
        np.testing.assert_array_equal(w.grad, before)


def test_sequential_passes_the_mask_from_masking_through_dense_to_the_gru():
    x = np.random.default_rng(6).standard_normal((3, 5, 4)).astype(np.float32)
    x[0, 3:] = 0.0
    x[2, :1] = 0.0
    model = Sequential([layers.Input((5, 4)), layers.Masking(), layers.Dense(6),
                        layers.GRU(2, return_sequences=True), layers.GRU(3)])
    dense, gru1, gru2 = model.layers[1:]
    mask = np.any(x != 0, axis=-1)
    expected = gru2(gru1(dense(x), mask=mask), mask=mask).data
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-6)
    # The same model without Masking, given the mask by hand, agrees too.
    unmasked = Sequential([layers.Input((5, 4)), dense, gru1, gru2])
    np.testing.assert_allclose(unmasked(x, mask=mask).data, expected, rtol=1e-6)
    assert not np.allclose(unmasked(x).data, expected)


def test_which_layers_pass_a_mask_on():
    x = np.ones((2, 3, 4), dtype=np.float32)
    mask = np.array([[1, 1, 0], [1, 0, 0]], bool)
    assert layers.Dense(2).supports_masking and layers.Dropout(0.5).supports_masking
    np.testing.assert_array_equal(layers.Dense(2)(x, mask=mask)._keras_mask, mask)
    assert getattr(layers.Flatten()(x, mask=mask), "_keras_mask", None) is None  # dropped
    assert layers.GRU(2).compute_mask(x, mask) is None  # consumed: the output has no time axis
    np.testing.assert_array_equal(layers.GRU(2, return_sequences=True)(x, mask=mask)._keras_mask,
                                  mask)


def test_layer_call_receives_the_mask_only_if_it_takes_one():
    seen = []

    class TakesMask(layers.Layer):
        def call(self, x, training=False, mask=None):
            seen.append(mask)
            return x

    class IgnoresMask(layers.Layer):
        def call(self, x, training=False):
            return x

    mask = np.array([[True, False]])
    TakesMask()(np.ones((1, 2, 3)), mask=mask)
    np.testing.assert_array_equal(seen[0], mask)
    IgnoresMask()(np.ones((1, 2, 3)), mask=mask)  # no TypeError
    assert not IgnoresMask().supports_masking and not TakesMask().supports_masking


# --- gradients: float64 gradcheck through 5+ steps, masked and unmasked ------------------------

MASK = np.array([[1, 1, 1, 0, 0, 1], [0, 0, 1, 1, 1, 1]], bool)


@pytest.mark.parametrize("mask", [None, MASK], ids=["unmasked", "masked"])
@pytest.mark.parametrize("name, kwargs", [
    ("GRU", {}), ("GRU", {"reset_after": False}), ("GRU", {"return_sequences": True}),
    ("LSTM", {}), ("LSTM", {"return_sequences": True, "go_backwards": True}),
])
def test_layer_gradcheck_float64(name, kwargs, mask):
    rng = np.random.default_rng(7)
    layer = getattr(layers, name)(2, dtype="float64", **kwargs)
    layer.build((None, 6, 3))
    layer.set_weights([rng.standard_normal(w.shape) * 0.7 for w in layer.weights])
    x = tinyvid.Tensor(rng.standard_normal((2, 6, 3)), requires_grad=True)
    assert tinyvid.gradcheck(lambda x, *weights: layer(x, mask=mask), [x, *layer.weights])


@pytest.mark.parametrize("mask", [None, MASK], ids=["unmasked", "masked"])
@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_function_gradcheck_with_initial_state_and_recurrent_dropout(mask, reset_after):
    rng = np.random.default_rng(8)
    n = 2
    xw, u, h0 = (tinyvid.Tensor(rng.standard_normal(s), requires_grad=True)
                 for s in [(2, 6, 3 * n), (n, 3 * n), (2, n)])
    b = tinyvid.Tensor(rng.standard_normal(3 * n), requires_grad=True) if reset_after else None
    keep = np.array([[2.0, 0.0], [2.0, 2.0]])  # a recurrent dropout mask, rate 0.5
    inputs = [xw, u, h0] + ([b] if b is not None else [])
    assert tinyvid.gradcheck(
        lambda xw, u, h0, b=None: nn.gru(xw, u, b, h0, mask=mask, reset_after=reset_after,
                                         recurrent_dropout_mask=keep), inputs)


@pytest.mark.parametrize("mask", [None, MASK], ids=["unmasked", "masked"])
def test_lstm_function_gradcheck_with_initial_states_and_recurrent_dropout(mask):
    rng = np.random.default_rng(9)
    n = 2
    xw, u, h0, c0 = (tinyvid.Tensor(rng.standard_normal(s), requires_grad=True)
                     for s in [(2, 6, 4 * n), (n, 4 * n), (2, n), (2, n)])
    keep = np.array([[0.0, 2.0], [2.0, 2.0]])
    assert tinyvid.gradcheck(
        lambda xw, u, h0, c0: nn.lstm(xw, u, h0, c0, mask=mask, recurrent_dropout_mask=keep),
        [xw, u, h0, c0])


def test_gradcheck_catches_a_wrong_gate_derivative(monkeypatch):
    from tinyvid.nn import recurrent

    tanh, derivative = recurrent.ACTIVATIONS["tanh"]
    monkeypatch.setitem(recurrent.ACTIVATIONS, "tanh", (tanh, lambda y: 1.0 - y))  # wrong
    rng = np.random.default_rng(10)
    xw, u = (tinyvid.Tensor(rng.standard_normal(s), requires_grad=True)
             for s in [(1, 5, 6), (2, 6)])
    with pytest.raises(tinyvid.autograd.gradcheck.GradcheckError):
        tinyvid.gradcheck(lambda xw, u: nn.gru(xw, u), [xw, u])


def test_fit_lowers_the_loss_of_a_masked_gru_classifier():
    """Which of two features is larger at the last real step of a padded sequence."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((64, 6, 2)).astype(np.float32)
    lengths = rng.integers(2, 7, 64)
    for i, length in enumerate(lengths):
        x[i, length:] = 0.0
    last = x[np.arange(64), lengths - 1]
    y = np.eye(2, dtype=np.float32)[(last[:, 0] > last[:, 1]).astype(int)]
    tinyvid.utils.set_random_seed(0)
    model = Sequential([layers.Input((6, 2)), layers.Masking(), layers.GRU(8),
                        layers.Dense(2, activation="softmax")])
    model.compile(optimizer=tinyvid.optimizers.Adam(learning_rate=0.03),
                  loss="categorical_crossentropy")
    history = model.fit(x, y, batch_size=16, epochs=10, verbose=0)
    assert history.history["loss"][-1] < 0.6 * history.history["loss"][0]


# --- errors: who, what was expected, what came ------------------------------------------------


@pytest.mark.parametrize("kwargs, match", [
    ({"units": 0}, r"GRU layer 'gru\w*': invalid value for argument `units`"),
    ({"units": 2, "activation": "softmax"}, r"argument `activation`: expected one of"),
    ({"units": 2, "recurrent_activation": "nope"}, r"argument `recurrent_activation`"),
    ({"units": 2, "dropout": 1.5}, r"argument `dropout`: expected a float value in \[0, 1\)"),
    ({"units": 2, "recurrent_dropout": -0.1}, r"argument `recurrent_dropout`"),
    ({"units": 2, "return_sequences": "yes"}, r"argument `return_sequences`: expected True"),
    ({"units": 2, "reset_after": 1}, r"argument `reset_after`"),
    ({"units": 2, "kernel_initializer": "nope"}, r"argument `kernel_initializer`"),
])
def test_gru_argument_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        layers.GRU(**kwargs)


def test_lstm_argument_errors():
    with pytest.raises(ValueError, match=r"LSTM layer 'lstm\w*': invalid value for argument "
                                         r"`unit_forget_bias`"):
        layers.LSTM(2, unit_forget_bias="no")
    with pytest.raises(ValueError, match="Masking layer .* `mask_value`: expected a number"):
        layers.Masking(mask_value="zero")


def test_input_and_mask_errors():
    layer = layers.GRU(2)
    with pytest.raises(ValueError, match=r"expected ndim=3, found ndim=2"):
        layer(np.ones((4, 3)))
    layer(np.ones((4, 5, 3)))
    with pytest.raises(ValueError, match=r"expected axis -1 of input shape to have value 3"):
        layer(np.ones((4, 5, 2)))
    with pytest.raises(ValueError, match=r"GRU layer 'gru\w*': invalid value for argument `mask`: "
                                         r"expected booleans of shape \(batch, time\) = \(4, 5\)"):
        layer(np.ones((4, 5, 3)), mask=np.ones((4, 6), bool))
    with pytest.raises(ValueError, match=r"weight 'recurrent_kernel' has shape \(2, 6\)"):
        layer.set_weights([np.ones((3, 6)), np.ones((6, 6)), np.ones((2, 6))])
    with pytest.raises(ValueError, match=r"gru: mask must have shape \(batch, time\)"):
        nn.gru(np.ones((1, 5, 6)), np.ones((2, 6)), mask=np.ones((1, 4)))
    with pytest.raises(ValueError, match=r"lstm: u must have shape \(units, 4 \* units\)"):
        nn.lstm(np.ones((1, 5, 8)), np.ones((2, 6)))
