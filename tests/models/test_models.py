"""Sequential: the document's snippet verbatim, fit/evaluate/predict, summary, saving, callbacks,
data sources, reproducibility and error messages."""

import os
import pickle

import numpy as np
import pytest

import tinyvid
from tinyvid import callbacks as tv_callbacks
from tinyvid.layers import Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D
from tinyvid.models import Sequential
from tinyvid.optimizers import GD, SGD, Adam
from tinyvid.utils import clear_session, set_random_seed, to_categorical


@pytest.fixture(autouse=True)
def fresh_names():
    clear_session()


def blobs(n=120, k=3, d=4, seed=0):
    """k well-separated Gaussian clusters in d dimensions: (x (n, d) float32, labels (n,))."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    centres = 4 * np.eye(k, d)
    return (centres[labels] + rng.standard_normal((n, d))).astype(np.float32), labels


def small_classifier(d=4, k=3, optimizer="adam", loss="categorical_crossentropy", metrics=("accuracy",)):
    model = Sequential([Input(shape=(d,)), Dense(16, activation="relu"), Dense(k, activation="softmax")])
    model.compile(optimizer=optimizer, loss=loss, metrics=list(metrics))
    return model


def frames(n, size=16, k=3, seed=0):
    """Frames whose class is the colour channel that is brightest: separable by the document's model."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    x = rng.uniform(0, 0.5, (n, size, size, 3)).astype(np.float32)
    x[np.arange(n), :, :, labels] += 0.5
    return x, to_categorical(labels, k)


# --- the source document's example, verbatim ----------------------------------------------------------


def test_the_documents_snippet_runs_verbatim(capsys):
    frame_size, num_classes = 16, 3
    X_train, y_train = frames(48, frame_size, num_classes, seed=1)
    X_val, y_val = frames(16, frame_size, num_classes, seed=2)
    snippet = '''
import tinyvid
from tinyvid.models import Sequential
from tinyvid.layers import Dense, Conv2D, Flatten
from tinyvid.optimizers import Adam

model = Sequential()
model.add(Conv2D(32, (3, 3), activation='relu', input_shape=(frame_size, frame_size, 3)))
model.add(Conv2D(64, (3, 3), activation='relu'))
model.add(Flatten())
model.add(Dense(64, activation='relu'))
model.add(Dense(num_classes, activation='softmax'))
optimizer = Adam(lr=0.001)
model.compile(optimizer=optimizer, loss='categorical_crossentropy', metrics=['accuracy'])
model.fit(X_train, y_train, batch_size=32, epochs=10, validation_data=(X_val, y_val))
'''
    namespace = dict(frame_size=frame_size, num_classes=num_classes, X_train=X_train, y_train=y_train,
                     X_val=X_val, y_val=y_val)
    exec(snippet, namespace)
    history = namespace["model"].history.history
    assert sorted(history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert all(len(values) == 10 for values in history.values())
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] >= 0.9
    out = capsys.readouterr().out
    assert "Epoch 1/10" in out and "Epoch 10/10" in out
    assert "2/2 ━━━━━━━━━━━━━━━━━━━━ " in out and " - val_loss: " in out


def test_the_documents_model_has_kerass_parameter_count(capsys):
    model = Sequential()
    model.add(Conv2D(32, (3, 3), activation="relu", input_shape=(64, 64, 3)))
    model.add(Conv2D(64, (3, 3), activation="relu"))
    model.add(Flatten())
    model.add(Dense(64, activation="relu"))
    model.add(Dense(10, activation="softmax"))
    # Keras: Conv2D (3*3*c_in + 1) * filters; Dense (in + 1) * units
    counts = [(9 * 3 + 1) * 32, (9 * 32 + 1) * 64, 0, (60 * 60 * 64 + 1) * 64, (64 + 1) * 10]
    assert [layer.count_params() for layer in model.layers] == counts
    assert model.count_params() == sum(counts) == 14_765_706
    model.summary()
    out = capsys.readouterr().out
    assert out.startswith('Model: "sequential"\n')
    for text in ["Layer (type)", "Output Shape", "Param #", "conv2d (Conv2D)", "(None, 62, 62, 32)",
                 "conv2d_1 (Conv2D)", "(None, 60, 60, 64)", "flatten (Flatten)", "(None, 230400)",
                 "14,745,664", "dense_1 (Dense)", "(None, 10)",
                 " Total params: 14,765,706 (56.33 MB)", " Trainable params: 14,765,706 (56.33 MB)",
                 " Non-trainable params: 0 (0.00 B)"]:
        assert text in out, text


# --- training, evaluating, predicting ------------------------------------------------------------------


def test_fit_drives_the_loss_down_on_a_separable_set_and_returns_history():
    set_random_seed(0)
    x, labels = blobs()
    model = small_classifier(optimizer=Adam(learning_rate=0.01))
    history = model.fit(x, to_categorical(labels), batch_size=16, epochs=15, verbose=0)
    assert isinstance(history, tv_callbacks.History) and model.history is history
    assert sorted(history.history) == ["accuracy", "loss"] and history.epoch == list(range(15))
    assert history.history["loss"][-1] < 0.3 * history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.95


def test_evaluate_and_predict_agree_with_the_model():
    set_random_seed(1)
    x, labels = blobs(50)
    y = to_categorical(labels)
    model = small_classifier()
    probabilities = model.predict(x, batch_size=7, verbose=0)
    assert isinstance(probabilities, np.ndarray) and probabilities.shape == (50, 3)
    np.testing.assert_allclose(probabilities, model(x).data, rtol=1e-6)
    loss, accuracy = model.evaluate(x, y, batch_size=7, verbose=0)
    expected_loss = -np.mean(np.log(probabilities[np.arange(50), labels]))
    assert loss == pytest.approx(expected_loss, rel=1e-5)  # the mean over samples, not over batches
    assert accuracy == pytest.approx(np.mean(probabilities.argmax(1) == labels))
    assert model.evaluate(x, y, verbose=0, return_dict=True) == pytest.approx({"loss": loss, "accuracy": accuracy})
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    assert isinstance(model.evaluate(x, y, verbose=0), float)  # no metrics: a scalar, as Keras


@pytest.mark.parametrize("loss, make_y, accuracy_of", [
    ("sparse_categorical_crossentropy", lambda labels: labels, "sparse"),
    ("categorical_crossentropy", lambda labels: to_categorical(labels), "categorical"),
])
def test_accuracy_is_resolved_from_the_shapes(loss, make_y, accuracy_of):
    set_random_seed(2)
    x, labels = blobs(40)
    model = small_classifier(loss=loss)
    model.fit(x, make_y(labels), epochs=2, verbose=0)
    assert model._metrics[0].fn.__name__ == f"{accuracy_of}_categorical_accuracy".replace("categorical_categorical", "categorical")


def test_binary_classification_with_sigmoid():
    set_random_seed(3)
    x, labels = blobs(80, k=2)
    model = Sequential([Input(shape=(4,)), Dense(8, activation="tanh"), Dense(1, activation="sigmoid")])
    model.compile(optimizer=Adam(learning_rate=0.05), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, labels, epochs=10, verbose=0)
    assert model._metrics[0].fn.__name__ == "binary_accuracy"
    assert history.history["accuracy"][-1] > 0.95


def test_mse_regression_with_sgd_momentum():
    set_random_seed(4)
    x = np.random.default_rng(0).standard_normal((64, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32) + 0.3
    model = Sequential([Input(shape=(3,)), Dense(1)])
    model.compile(optimizer=SGD(learning_rate=0.05, momentum=0.9), loss="mse", metrics=["mae"])
    history = model.fit(x, y, batch_size=16, epochs=30, verbose=0)
    assert history.history["loss"][-1] < 1e-3
    np.testing.assert_allclose(model.layers[0].get_weights()[0][:, 0], [1.0, -2.0, 0.5], atol=0.05)


def test_gd_uses_the_whole_training_set_as_one_batch():
    x, labels = blobs(50)
    model = small_classifier(optimizer=GD(learning_rate=0.5))
    model.fit(x, to_categorical(labels), epochs=4, verbose=0)
    assert model.optimizer.iterations == 4  # one step per epoch
    with pytest.raises(ValueError, match="GD optimizer is full-batch"):
        model.fit(x, to_categorical(labels), batch_size=10, verbose=0)


def test_train_on_batch_returns_the_loss_before_the_step():
    set_random_seed(5)
    x, labels = blobs(16)
    y = to_categorical(labels)
    model = small_classifier()
    before = model.evaluate(x, y, verbose=0)
    assert model.train_on_batch(x, y) == pytest.approx(before, rel=1e-6)
    assert model.evaluate(x, y, verbose=0)[0] < before[0]
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    assert isinstance(model.train_on_batch(x, y), float)


def test_validation_split_takes_the_last_samples():
    x, labels = blobs(50)
    model = small_classifier()
    history = model.fit(x, to_categorical(labels), validation_split=0.2, epochs=1, verbose=0)
    assert "val_loss" in history.history
    val_loss, _ = model.evaluate(x[40:], to_categorical(labels)[40:], verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(val_loss, rel=1e-6)


def test_dropout_runs_only_in_training():
    set_random_seed(6)
    model = Sequential([Input(shape=(20,)), Dropout(0.5), Dense(2)])
    x = np.ones((4, 20), dtype=np.float32)
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))
    assert not np.allclose(model(x, training=True).data, model(x).data)


def test_set_random_seed_makes_two_runs_identical():
    x, labels = blobs(60)

    def train():
        clear_session()
        set_random_seed(123)
        model = Sequential([Input(shape=(4,)), Dense(8, activation="relu"), Dropout(0.3),
                            Dense(3, activation="softmax")])
        model.compile(optimizer="adam", loss="categorical_crossentropy")
        model.fit(x, to_categorical(labels), batch_size=8, epochs=3, verbose=0)  # shuffled
        return model.get_weights()

    for first, second in zip(train(), train()):
        np.testing.assert_array_equal(first, second)


def test_the_model_keeps_float32_for_float64_and_uint8_inputs():
    model = small_classifier()
    assert model.predict(np.ones((2, 4)), verbose=0).dtype == np.float32
    assert model.predict(np.ones((2, 4), dtype=np.uint8), verbose=0).dtype == np.float32
    model.fit(np.ones((4, 4)), np.eye(3)[[0, 1, 2, 0]], verbose=0)  # float64 labels too
    assert all(w.dtype == np.float32 for w in model.weights)


def test_a_training_step_of_the_documents_model_is_float32_throughout():
    model = Sequential([Input(shape=(10, 10, 3)), Conv2D(4, 3, activation="relu"), Conv2D(8, 3, activation="relu"),
                        Flatten(), Dense(8, activation="relu"), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    x, y = frames(4, size=10)
    loss = model.loss(y, model(x.astype(np.float64), training=True))
    stack, seen = [loss], []
    while stack:  # every tensor the loss was computed from
        node = stack.pop()
        seen.append(node.dtype)
        stack.extend(t for t in (node._ctx.inputs if node._ctx else ()) if t is not None)
    assert set(seen) == {np.dtype(np.float32)}
    loss.backward()
    assert all(w.grad.dtype == np.float32 for w in model.weights)


# --- progress output ------------------------------------------------------------------------------------


def test_verbose_levels(capsys):
    x, labels = blobs(40)
    y = to_categorical(labels)
    model = small_classifier()
    model.fit(x, y, batch_size=16, epochs=2, validation_data=(x, y))  # verbose='auto' = 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    assert lines[1].startswith("3/3 ━━━━━━━━━━━━━━━━━━━━ ")
    assert lines[1].index(" - accuracy: ") < lines[1].index(" - loss: ") < lines[1].index(" - val_accuracy: ") < lines[1].index(" - val_loss: ")
    model.fit(x, y, batch_size=16, epochs=2, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("3/3 - ") and "/step - accuracy: " in lines[1]
    model.fit(x, y, epochs=2, verbose=0)
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    assert capsys.readouterr().out == ""


def test_progress_bar_redraws_in_place_on_a_terminal(capsys, monkeypatch):
    x, labels = blobs(40)
    model = small_classifier()
    monkeypatch.setattr("sys.stdout.isatty", lambda: True, raising=False)
    model.fit(x, to_categorical(labels), batch_size=8, epochs=1)
    out = capsys.readouterr().out
    assert out.startswith("\r") and out.endswith("\n") and out.count("\n") == 1  # one line, redrawn
    assert "5/5 ━━━━━━━━━━━━━━━━━━━━ " in out.rsplit("\r", 1)[1]


def test_callback_hooks_run_in_kerass_order():
    calls = []

    class Recorder(tv_callbacks.Callback):
        def on_train_begin(self, logs=None): calls.append("train_begin")
        def on_epoch_begin(self, epoch, logs=None): calls.append(f"epoch_begin {epoch}")
        def on_batch_begin(self, batch, logs=None): calls.append(f"batch_begin {batch}")
        def on_batch_end(self, batch, logs=None): calls.append(f"batch_end {batch} {sorted(logs)}")
        def on_epoch_end(self, epoch, logs=None): calls.append(f"epoch_end {epoch} {sorted(logs)}")
        def on_train_end(self, logs=None): calls.append("train_end")

    x, labels = blobs(20)
    small_classifier().fit(x, to_categorical(labels), batch_size=10, epochs=2, verbose=0,
                           callbacks=[Recorder()])
    batch = ["batch_begin 0", "batch_end 0 ['accuracy', 'loss']", "batch_begin 1", "batch_end 1 ['accuracy', 'loss']"]
    assert calls == (["train_begin", "epoch_begin 0", *batch, "epoch_end 0 ['accuracy', 'loss']",
                      "epoch_begin 1", *batch, "epoch_end 1 ['accuracy', 'loss']", "train_end"])


# --- data sources: Keras's PyDataset protocol -----------------------------------------------------------


class Batches:
    """A minimal PyDataset: len(), [i] -> (x, y), on_epoch_end()."""

    def __init__(self, x, y, batch_size=10):
        self.x, self.y, self.batch_size, self.epochs_ended, self.requested = x, y, batch_size, 0, []

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, i):
        self.requested.append(i)
        rows = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return self.x[rows], self.y[rows]

    def on_epoch_end(self):
        self.epochs_ended += 1


def test_fit_evaluate_and_predict_on_a_data_source():
    set_random_seed(7)
    x, labels = blobs(95)
    y = to_categorical(labels)
    train, val = Batches(x, y), Batches(x[:30], y[:30], batch_size=7)
    model = small_classifier()
    history = model.fit(train, epochs=3, validation_data=val, verbose=0)
    assert train.requested == list(range(10)) * 3 and train.epochs_ended == 3
    assert len(history.history["val_loss"]) == 3
    assert model.evaluate(val, verbose=0) == pytest.approx(model.evaluate(x[:30], y[:30], verbose=0), rel=1e-6)
    np.testing.assert_allclose(model.predict(Batches(x, y), verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    with pytest.raises(ValueError, match="`batch_size` must be None when `x` is a data source"):
        model.fit(train, batch_size=32, verbose=0)
    with pytest.raises(ValueError, match="validation_split is only supported for NumPy arrays"):
        model.fit(train, validation_split=0.1, verbose=0)


# --- callbacks ----------------------------------------------------------------------------------------------


def test_early_stopping_stops_and_restores_the_best_weights():
    x, labels = blobs(40)
    y = to_categorical(labels)
    model = small_classifier()
    val_losses = iter([1.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99])
    snapshots = []

    class FakeValidation(tv_callbacks.Callback):
        """Feeds EarlyStopping a scripted val_loss and records the weights after each epoch."""

        def on_epoch_end(self, epoch, logs=None):
            logs["val_loss"] = next(val_losses)
            snapshots.append(self.model.get_weights())

    stopper = tv_callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    history = model.fit(x, y, epochs=7, verbose=0, callbacks=[FakeValidation(), stopper])
    assert history.epoch == [0, 1, 2, 3] and stopper.stopped_epoch == 3 and stopper.best_epoch == 1
    for restored, best in zip(model.get_weights(), snapshots[1]):
        np.testing.assert_array_equal(restored, best)


def test_early_stopping_modes_and_min_delta():
    stopper = tv_callbacks.EarlyStopping(monitor="val_accuracy", min_delta=0.1, patience=0)
    stopper.set_model(type("M", (), {"stop_training": False})())
    stopper.on_train_begin()
    stopper.on_epoch_end(0, {"val_accuracy": 0.5})
    stopper.on_epoch_end(1, {"val_accuracy": 0.55})  # higher is better, but by less than min_delta
    assert stopper.model.stop_training
    with pytest.raises(ValueError, match="mode must be 'auto', 'min' or 'max'"):
        tv_callbacks.EarlyStopping(mode="up")


def test_model_checkpoint_writes_each_epoch_or_the_best(tmp_path, capsys):
    x, labels = blobs(40)
    y = to_categorical(labels)
    model = small_classifier()
    every = tv_callbacks.ModelCheckpoint(str(tmp_path / "ckpt-{epoch:02d}.weights.npz"))
    model.fit(x, y, epochs=3, verbose=0, validation_data=(x, y), callbacks=[every])
    assert sorted(os.listdir(tmp_path)) == ["ckpt-01.weights.npz", "ckpt-02.weights.npz", "ckpt-03.weights.npz"]
    best_path = tmp_path / "best.weights.npz"
    best = tv_callbacks.ModelCheckpoint(str(best_path), monitor="val_loss", save_best_only=True, verbose=1)
    history = model.fit(x, y, epochs=3, verbose=0, validation_data=(x, y), callbacks=[best])
    assert best.best == min(history.history["val_loss"])
    assert f"Epoch 1: val_loss improved from inf to {history.history['val_loss'][0]:.5f}, saving model to {best_path}" in capsys.readouterr().out
    clone = small_classifier()
    clone.load_weights(best_path)
    assert clone.evaluate(x, y, verbose=0)[0] == pytest.approx(best.best, rel=1e-5)


# --- saving and loading weights -------------------------------------------------------------------------


def conv_model():
    model = Sequential([Input(shape=(8, 8, 3)), Conv2D(4, 3, activation="relu"), MaxPooling2D(),
                        Flatten(), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    return model


def test_save_and_load_round_trip_into_a_second_copy(tmp_path):
    model = conv_model()
    path = tmp_path / "model.weights.npz"
    model.save_weights(path)
    with np.load(path, allow_pickle=False) as data:
        assert sorted(data.files) == ["conv2d/0", "conv2d/1", "dense/0", "dense/1"]
    copy = conv_model()  # its layers are named conv2d_1 and dense_1 ...
    assert copy.layers[0].name == "conv2d_1"
    copy.load_weights(path)  # ... and it still loads the file
    for a, b in zip(model.get_weights(), copy.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert os.listdir(tmp_path) == ["model.weights.npz"]  # no temporary file left behind


def test_a_crash_while_saving_leaves_the_old_file_whole(tmp_path, monkeypatch):
    model = conv_model()
    path = tmp_path / "model.weights.npz"
    model.save_weights(path)
    before = path.read_bytes()
    model.set_weights([w + 1 for w in model.get_weights()])

    def crash(file, **arrays):
        file.write(b"PK\x03\x04 half a zip file")
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        model.save_weights(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.weights.npz"]
    conv_model().load_weights(path)


def test_load_errors_name_the_layer_and_the_file(tmp_path):
    path = tmp_path / "model.weights.npz"
    conv_model().save_weights(path)
    wider = Sequential([Input(shape=(8, 8, 3)), Conv2D(4, 3, activation="relu"), MaxPooling2D(),
                        Flatten(), Dense(5, activation="softmax")])
    before = wider.get_weights()
    with pytest.raises(ValueError, match=(rf"load_weights\('{path}'\): layer 'dense_1' \(saved as 'dense'\) "
                                          r"weight 0 \('kernel'\) has shape \(36, 5\) in the model but \(36, 3\) in the file")):
        wider.load_weights(path)
    for a, b in zip(before, wider.get_weights()):  # nothing was changed
        np.testing.assert_array_equal(a, b)
    deeper = Sequential([Input(shape=(8, 8, 3)), Conv2D(4, 3), MaxPooling2D(), Flatten(), Dense(3), Dense(3)])
    with pytest.raises(ValueError, match=rf"load_weights\('{path}'\): the file has no weight 0 \('kernel'\) for layer 'dense_3'"):
        deeper.load_weights(path)
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        conv_model().load_weights(tmp_path / "missing.npz")


def test_load_refuses_pickles_and_names_the_file(tmp_path):
    pickled = tmp_path / "evil.npz"
    np.savez(pickled, **{"conv2d/0": np.array([{"a": 1}], dtype=object)})  # an object array needs pickle
    with pytest.raises(ValueError, match=r"cannot read '.*evil.npz'.*allow_pickle=False"):
        conv_model().load_weights(pickled)
    raw = tmp_path / "raw.npz"
    raw.write_bytes(pickle.dumps({"conv2d/0": np.zeros(3)}))
    with pytest.raises(ValueError, match=r"cannot read '.*raw.npz'"):
        conv_model().load_weights(raw)


# --- building and error messages ---------------------------------------------------------------------------


def test_model_built_from_data_when_no_input_shape_is_given():
    model = Sequential([Dense(4), Dense(2)])
    assert not model.built
    with pytest.raises(ValueError, match="has not been built yet"):
        model.save_weights("never.npz")
    model(np.zeros((3, 5)))
    assert model.built and model.count_params() == 5 * 4 + 4 + 4 * 2 + 2


def test_fit_before_compile_says_so():
    with pytest.raises(ValueError, match=r"You must call `compile\(\)` before using the model: `fit`"):
        Sequential([Input(shape=(3,)), Dense(1)]).fit(np.zeros((4, 3)), np.zeros((4, 1)))


def test_x_and_y_of_different_lengths():
    with pytest.raises(ValueError, match="x has 10 samples but y has 9 samples"):
        small_classifier().fit(np.zeros((10, 4)), np.zeros((9, 3)), verbose=0)


def test_labels_of_the_wrong_shape_for_the_loss():
    model = small_classifier(d=4, k=10)
    with pytest.raises(ValueError, match=r"use sparse_categorical_crossentropy or one-hot labels of shape \(32, 10\)"):
        model.fit(np.zeros((32, 4)), np.zeros(32, dtype=np.int64), verbose=0)


def test_input_of_the_wrong_shape_names_the_layer():
    clear_session()
    model = Sequential([Input(shape=(16, 16, 3)), Conv2D(4, 3)])
    with pytest.raises(ValueError, match=r"layer 'conv2d' is incompatible .* axis -1 .* value 3, but received input with shape \(8, 16, 16, 1\)"):
        model.predict(np.zeros((8, 16, 16, 1)), verbose=0)
    with pytest.raises(ValueError, match=r"layer 'sequential' is incompatible .* expected shape=\(None, 16, 16, 3\), found shape=\(8, 12, 12, 3\)"):
        model.predict(np.zeros((8, 12, 12, 3)), verbose=0)
    with pytest.raises(ValueError, match=r"layer 'dense' is incompatible .* expected ndim=4 .*|layer 'conv2d_1' .* expected ndim=4"):
        Sequential([Input(shape=(10,)), Conv2D(4, 3)])


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(optimizer="adagrad", loss="mse"), r"Could not interpret optimizer identifier: 'adagrad'. Known optimizers: adam, adamw, gd, rmsprop, sgd"),
    (dict(optimizer="adam", loss="hinge"), r"Could not interpret loss identifier: 'hinge'. Known losses: .*binary_crossentropy"),
    (dict(optimizer="adam", loss="mse", metrics=["f1"]), r"Could not interpret metric identifier: 'f1'. Known metrics: accuracy"),
    (dict(optimizer="adam"), r"a loss is required"),
])
def test_compile_rejects_unknown_names_listing_known_ones(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        small_classifier().compile(**kwargs)


def test_add_checks_layers_and_names():
    model = Sequential()
    with pytest.raises(ValueError, match="Only instances of tinyvid.layers.Layer"):
        model.add("dense")
    model.add(Dense(2, name="head"))
    with pytest.raises(ValueError, match="Name 'head' is already the name of a layer in this model"):
        model.add(Dense(2, name="head"))
    with pytest.raises(ValueError, match="an Input must come before every other layer"):
        model.add(Input(shape=(3,)))


def test_to_categorical_and_set_random_seed_arguments():
    np.testing.assert_array_equal(to_categorical([2, 0], 3), [[0, 0, 1], [1, 0, 0]])
    assert to_categorical(np.array([[1], [0]])).shape == (2, 2)
    assert to_categorical([1]).dtype == np.float32
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):
        to_categorical([0, 2], 2)
    with pytest.raises(ValueError, match="Expected `seed` argument to be an integer"):
        set_random_seed(1.5)
    assert tinyvid.utils.to_categorical is to_categorical
