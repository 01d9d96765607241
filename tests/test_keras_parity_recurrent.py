"""GRU, LSTM and Masking compute what Keras 3 computes, on the same weights.

Outputs with and without masks, with and without return_sequences (and go_backwards,
return_state, reset_after=False), float32 to ~1e-6; and a small sequence classifier
(Masking -> GRU or LSTM -> Dense softmax) holding the same weights as Keras's after the same
Adam steps on the same padded batches. Skipped cleanly where keras is not installed.
"""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

from tinyvid import initializers, layers, optimizers  # noqa: E402
from tinyvid.models import Sequential  # noqa: E402

BATCH, STEPS, FEATURES, UNITS, CLASSES = 4, 6, 5, 3, 2


def padded_sequences(seed, n=BATCH):
    """Sequences `(n, STEPS, FEATURES)` whose samples have 6, 4, 1, ... real steps, then zeros
    (as clips shorter than the sequence are padded), and one padded at the front."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, STEPS, FEATURES)).astype(np.float32)
    lengths = [STEPS, 4, 1, 3][:n]
    for i, length in enumerate(lengths):
        x[i, length:] = 0.0
    if n > 3:
        x[3, :2] = 0.0  # a gap at the start: the state stays zero until the first real step
    return x


def keras_output(layer, x, masked):
    if masked:
        model = keras.Sequential([keras.Input((STEPS, FEATURES)), keras.layers.Masking(), layer])
        out = model(x)
    else:
        out = layer(x)
    return [keras.ops.convert_to_numpy(o) for o in (out if isinstance(out, (list, tuple)) else [out])]


def tinyvid_output(layer, keras_layer, x, masked):
    layer.build((None, STEPS, FEATURES))
    layer.set_weights([keras.ops.convert_to_numpy(w) for w in keras_layer.get_weights()])
    out = layer(layers.Masking()(x)) if masked else layer(x)
    return [o.data for o in (out if isinstance(out, list) else [out])]


@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "sequences"])
@pytest.mark.parametrize("name", ["GRU", "LSTM"])
def test_outputs_match_keras(name, return_sequences, masked):
    check_against_keras(name, {"return_sequences": return_sequences}, masked)


# The other options, each once, masked, on the whole output sequence.
OPTIONS = [
    ("GRU", {"reset_after": False}),
    ("GRU", {"go_backwards": True}),
    ("GRU", {"activation": "relu", "recurrent_activation": "hard_sigmoid"}),
    ("GRU", {"use_bias": False}),
    ("LSTM", {"go_backwards": True}),
    ("LSTM", {"unit_forget_bias": False}),
]


@pytest.mark.parametrize("name, kwargs", OPTIONS, ids=[f"{n}{k}" for n, k in OPTIONS])
def test_options_match_keras(name, kwargs):
    check_against_keras(name, {"return_sequences": True, **kwargs}, masked=True)


def check_against_keras(name, kwargs, masked):
    keras.utils.set_random_seed(1)
    k_layer = getattr(keras.layers, name)(UNITS, **kwargs)
    t_layer = getattr(layers, name)(UNITS, **kwargs)
    x = padded_sequences(seed=2)
    expected = keras_output(k_layer, x, masked)
    got = tinyvid_output(t_layer, k_layer, x, masked)
    assert [g.shape for g in got] == [e.shape for e in expected]
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["GRU", "LSTM"])
@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
def test_return_state_matches_keras(name, masked):
    keras.utils.set_random_seed(3)
    k_layer = getattr(keras.layers, name)(UNITS, return_sequences=True, return_state=True)
    t_layer = getattr(layers, name)(UNITS, return_sequences=True, return_state=True)
    x = padded_sequences(seed=4)
    expected = keras_output(k_layer, x, masked)
    got = tinyvid_output(t_layer, k_layer, x, masked)
    assert len(got) == len(expected) == (2 if name == "GRU" else 3)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name, kwargs", [("GRU", {}), ("GRU", {"reset_after": False}),
                                          ("LSTM", {})])
def test_weight_shapes_and_initial_bias_match_keras(name, kwargs):
    k_layer = getattr(keras.layers, name)(UNITS, **kwargs)
    k_layer.build((None, STEPS, FEATURES))
    t_layer = getattr(layers, name)(UNITS, **kwargs)
    t_layer.build((None, STEPS, FEATURES))
    k_weights = [keras.ops.convert_to_numpy(w) for w in k_layer.get_weights()]
    assert [w.shape for w in t_layer.get_weights()] == [w.shape for w in k_weights]
    assert t_layer.count_params() == k_layer.count_params()
    np.testing.assert_array_equal(t_layer.get_weights()[2], k_weights[2])  # zeros, or [0, 1, 0, 0]


def test_orthogonal_matches_keras_in_distribution():
    """Random, so not the same numbers: the same shape, orthonormal rows, and signs fixed by
    diag(R) > 0, as keras.initializers.Orthogonal."""
    ours = initializers.get("orthogonal")((UNITS, 3 * UNITS), np.float32)
    theirs = keras.ops.convert_to_numpy(keras.initializers.Orthogonal()((UNITS, 3 * UNITS)))
    for w in (ours, theirs):
        assert w.shape == (UNITS, 3 * UNITS)
        np.testing.assert_allclose(w @ w.T, np.eye(UNITS), atol=1e-5)


def classifier_keras(name):
    model = keras.Sequential([
        keras.Input((STEPS, FEATURES)), keras.layers.Masking(),
        getattr(keras.layers, name)(UNITS), keras.layers.Dense(CLASSES, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01),
                  loss="categorical_crossentropy")
    return model


def classifier_tinyvid(name):
    model = Sequential([
        layers.Input((STEPS, FEATURES)), layers.Masking(),
        getattr(layers, name)(UNITS), layers.Dense(CLASSES, activation="softmax"),
    ])
    model.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss="categorical_crossentropy")
    return model


@pytest.mark.parametrize("name", ["GRU", "LSTM"])
def test_same_weights_after_adam_steps_on_padded_batches(name):
    keras.utils.set_random_seed(5)
    k_model, t_model = classifier_keras(name), classifier_tinyvid(name)
    t_model.set_weights([keras.ops.convert_to_numpy(w) for w in k_model.get_weights()])
    rng = np.random.default_rng(6)
    for step in range(3):
        x = padded_sequences(seed=7 + step)
        y = np.eye(CLASSES, dtype=np.float32)[rng.integers(0, CLASSES, BATCH)]
        k_loss = float(k_model.train_on_batch(x, y))
        t_loss = float(t_model.train_on_batch(x, y))
        assert t_loss == pytest.approx(k_loss, rel=1e-5)
    for t_w, k_w in zip(t_model.get_weights(), k_model.get_weights()):
        # Adam moves each weight by about lr per step: compare on that scale (3 x 1e-2).
        np.testing.assert_allclose(t_w, keras.ops.convert_to_numpy(k_w), rtol=0, atol=1e-5)
