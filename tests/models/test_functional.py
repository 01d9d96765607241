"""The functional API: Input, layers called on symbolic tensors, Model(inputs, outputs), shared
layers, merge layers, several outputs, summary's "Connected to", get_layer and pop."""

import numpy as np
import pytest

import tinyvid
from tinyvid import Input, Model, Sequential
from tinyvid.layers import (
    Add,
    Average,
    Concatenate,
    Conv2D,
    Dense,
    KerasTensor,
    Multiply,
)
from tinyvid.utils import clear_session


@pytest.fixture(autouse=True)
def fresh_names():
    clear_session()


def two_tower_model():
    """Late fusion: one Dense tower shared by two inputs, the two halves added, then a head."""
    a, b = Input(shape=(3,), name="a"), Input(shape=(3,), name="b")
    tower = Dense(2, name="tower")
    merged = Add()([tower(a), tower(b)])
    return Model([a, b], Dense(1, name="head")(merged)), tower


def test_input_is_a_symbolic_tensor_and_layers_record_nodes():
    x = Input(shape=(16, 16, 3))
    assert isinstance(x, KerasTensor) and x.shape == (None, 16, 16, 3) and x.dtype == np.float32
    y = Conv2D(4, 3)(x)
    assert isinstance(y, KerasTensor) and y.shape == (None, 14, 14, 4)
    layer, node_index, tensor_index = y._keras_history
    assert layer.name == "conv2d" and layer.built and (node_index, tensor_index) == (0, 0)
    assert tinyvid.Input is tinyvid.layers.Input and tinyvid.Model is tinyvid.models.Model
    assert tinyvid.Sequential is tinyvid.models.Sequential
    with pytest.raises(ValueError, match="symbolic: it has no values"):
        np.asarray(x)


def test_a_shared_layer_has_one_set_of_weights_and_gets_both_gradients():
    model, tower = two_tower_model()
    assert [layer.name for layer in model.layers] == ["a", "b", "tower", "add", "head"]
    assert len(model.weights) == 4 and model.count_params() == (3 * 2 + 2) + (2 + 1)
    w, c = np.arange(6, dtype=np.float32).reshape(3, 2), np.array([1, -1], np.float32)
    model.set_weights([w, c, np.ones((2, 1), np.float32), np.zeros(1, np.float32)])
    xa, xb = np.ones((1, 3), np.float32), np.full((1, 3), 2.0, np.float32)
    y = model([xa, xb])
    # head(tower(a) + tower(b)) = sum over units of (xa + xb) @ w + 2 c
    np.testing.assert_allclose(y.data, ((xa + xb) @ w + 2 * c).sum(axis=1, keepdims=True))
    y.sum().backward()
    np.testing.assert_allclose(tower.kernel.grad, (xa + xb).T @ np.ones((1, 2)))  # both calls


def test_merge_layers_compute_what_they_say():
    a, b = np.array([[1.0, 2.0]]), np.array([[3.0, -4.0]])
    np.testing.assert_allclose(Add()([a, b]).data, [[4, -2]])
    np.testing.assert_allclose(Multiply()([a, b]).data, [[3, -8]])
    np.testing.assert_allclose(Average()([a, b]).data, [[2, -1]])
    np.testing.assert_allclose(Concatenate()([a, b]).data, [[1, 2, 3, -4]])
    np.testing.assert_allclose(Concatenate(axis=1)([a[:, :, None], b[:, :, None]]).data.shape, (1, 4, 1))
    x, y = Input(shape=(4, 2)), Input(shape=(4, 5))
    assert Concatenate()([x, y]).shape == (None, 4, 7)
    with pytest.raises(ValueError, match=r"Concatenate layer 'concatenate_3': a `Concatenate` layer requires inputs with matching shapes"):
        Concatenate(axis=1)([x, y])
    with pytest.raises(ValueError, match=r"Add layer 'add_1': inputs must have the same shape"):
        Add()([x, y])
    with pytest.raises(ValueError, match="should be called on a list of at least 2 inputs"):
        Multiply()([x])


@pytest.mark.parametrize("layer", [Add, Multiply, Average, Concatenate])
def test_merge_gradients_pass_gradcheck(layer):
    rng = np.random.default_rng(0)
    a = tinyvid.Tensor(rng.standard_normal((2, 3)), requires_grad=True)
    b = tinyvid.Tensor(rng.standard_normal((2, 3)), requires_grad=True)
    merge = layer(dtype="float64")
    tinyvid.gradcheck(lambda a, b: (merge([a, b]) ** 2).sum(), [a, b])


def test_several_outputs_fit_with_a_loss_per_output_and_keras_names():
    x_in = Input(shape=(4,), name="x")
    hidden = Dense(8, activation="relu")(x_in)
    classes = Dense(3, activation="softmax", name="classes")(hidden)
    value = Dense(1, name="value")(hidden)
    model = Model(x_in, [classes, value])
    model.compile(optimizer="adam", loss=["sparse_categorical_crossentropy", "mse"],
                  metrics=[["accuracy"], ["mae"]], loss_weights=[1.0, 0.5])
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 4)).astype(np.float32)
    y = [rng.integers(0, 3, 32), x[:, :1] * 2]
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0).history
    assert list(history) == ["loss", "classes_loss", "value_loss", "classes_accuracy", "value_mae"]
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["loss"], logs["classes_loss"] + 0.5 * logs["value_loss"], rtol=1e-5)
    predictions = model.predict(x, verbose=0)
    assert [p.shape for p in predictions] == [(32, 3), (32, 1)]
    model.compile(optimizer="sgd", loss={"classes": "sparse_categorical_crossentropy"})
    only_classes = model.fit(x, {"classes": y[0], "value": y[1]}, epochs=1, verbose=0).history
    assert sorted(only_classes) == ["classes_loss", "loss"]  # the value output is not trained


def test_dict_inputs_and_outputs():
    inputs = {"frames": Input(shape=(2,)), "audio": Input(shape=(3,))}
    merged = Concatenate()([inputs["frames"], inputs["audio"]])
    model = Model(inputs, {"label": Dense(2, activation="softmax")(merged)})
    assert model.input_names == ["frames", "audio"] and model.output_names == ["label"]
    model.compile(loss={"label": "categorical_crossentropy"}, optimizer="sgd")
    x = {"frames": np.zeros((4, 2)), "audio": np.ones((4, 3))}
    out = model.predict(x, verbose=0)
    assert set(out) == {"label"} and out["label"].shape == (4, 2)
    model.fit(x, {"label": np.eye(2)[[0, 1, 0, 1]]}, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"missing data for inputs \['audio'\]"):
        model.predict({"frames": np.zeros((4, 2))}, verbose=0)


def test_summary_has_kerass_connected_to_column():
    model, _ = two_tower_model()
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Connected to" in lines[2] and 'Model: "functional"' == lines[0]
    for cell in ("│ a[0][0],  ", "│ b[0][0]  ", "│ tower[0][0],  ", "│ tower[1][0]  ", "│ add[0][0]  "):
        assert cell in text
    assert " Total params: 11 (44.00 B)" in text


def test_get_layer_and_pop():
    model, tower = two_tower_model()
    assert model.get_layer("tower") is tower and model.get_layer(index=-1).name == "head"
    with pytest.raises(ValueError, match=r"No such layer: nope. Existing layers are: \['a', 'b', 'tower', 'add', 'head'\]"):
        model.get_layer("nope")
    with pytest.raises(ValueError, match="Was asked to retrieve layer at index 9 but model only has 5 layers"):
        model.get_layer(index=9)
    with pytest.raises(ValueError, match="Provide either a layer name or layer index"):
        model.get_layer()
    stack = Sequential([Input(shape=(3,)), Dense(2), Dense(1)])
    assert stack.pop().name == "dense_1" and [layer.name for layer in stack.layers] == ["dense"]
    assert stack.predict(np.zeros((2, 3)), verbose=0).shape == (2, 2)
    stack.pop()
    with pytest.raises(ValueError, match="has no layers to pop"):
        stack.pop()


def test_graph_errors_name_what_is_wrong():
    a, b = Input(shape=(3,)), Input(shape=(3,))
    y = Add()([a, b])
    with pytest.raises(ValueError, match="graph disconnected: the output depends on input 'input_layer_1'"):
        Model(a, y)
    with pytest.raises(ValueError, match="must be symbolic tensors made by Input"):
        Model(a, np.zeros(3))
    with pytest.raises(ValueError, match="called on a mix of symbolic inputs"):
        Add()([a, np.zeros((1, 3))])
    model = Model([a, b], y)
    with pytest.raises(ValueError, match=r"expects 2 inputs .* received 1 input tensor"):
        model(np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"Input 1 of layer 'functional_2' is incompatible with the layer: expected shape=\(None, 3\), found shape=\(1, 4\)"):
        model([np.zeros((1, 3)), np.zeros((1, 4))])
    d = Dense(2, name="d2")
    d(Input(shape=(3,)))
    with pytest.raises(ValueError, match=r"Input 0 of layer 'd2' is incompatible .* axis -1 .* value 3"):
        d(Input(shape=(4,)))
