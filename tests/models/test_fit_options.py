"""fit's options, each against values computed by hand: class_weight, sample_weight,
initial_epoch, steps_per_epoch, validation_freq, validation_steps; generators and lists of
batches; predict_on_batch, test_on_batch, evaluate with sample_weight."""

import numpy as np
import pytest

from tinyvid import Input, Model, Sequential
from tinyvid.callbacks import Callback
from tinyvid.layers import Dense
from tinyvid.losses import MeanSquaredError
from tinyvid.optimizers import SGD
from tinyvid.utils import clear_session


@pytest.fixture(autouse=True)
def fresh_names():
    clear_session()


X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, -1.0]], np.float32)
Y = np.array([[1.0], [2.0], [0.0], [1.0]], np.float32)
W0 = np.array([[0.5], [-0.5]], np.float32)


def linear_model(lr=0.1):
    """y_hat = x @ w, no bias, MSE, plain SGD: one step is w - lr * grad J by hand."""
    model = Sequential([Input(shape=(2,)), Dense(1, use_bias=False)])
    model.compile(optimizer=SGD(learning_rate=lr), loss="mse")
    model.set_weights([W0])
    return model


def sgd_step_by_hand(x, y, weights, lr=0.1):
    """J = sum_i s_i (x_i w - y_i)^2 / n  =>  grad J = 2/n sum_i s_i (x_i w - y_i) x_i."""
    residual = x @ W0 - y
    grad = 2 / len(x) * x.T @ (weights[:, None] * residual)
    return W0 - lr * grad


def test_the_loss_weighs_each_sample_and_divides_by_the_batch_size():
    y_pred = X @ W0
    loss = MeanSquaredError()(Y, y_pred, sample_weight=np.array([1, 0, 2, 0.5]))
    per_sample = ((y_pred - Y) ** 2)[:, 0]
    np.testing.assert_allclose(loss.item(), (per_sample * [1, 0, 2, 0.5]).sum() / 4, rtol=1e-6)
    with pytest.raises(ValueError, match=r"sample_weight of shape \(3,\) does not match the per-sample losses of shape \(4,\)"):
        MeanSquaredError()(Y, y_pred, sample_weight=np.ones(3))


def test_sample_weight_changes_the_step_as_computed_by_hand():
    weights = np.array([1.0, 0.0, 2.0, 0.5], np.float32)
    model = linear_model()
    model.fit(X, Y, sample_weight=weights, batch_size=4, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(model.get_weights()[0], sgd_step_by_hand(X, Y, weights), rtol=1e-5)
    model = linear_model()
    logs = model.evaluate(X, Y, sample_weight=weights, verbose=0)
    np.testing.assert_allclose(logs, (weights * ((X @ W0 - Y) ** 2)[:, 0]).sum() / 4, rtol=1e-5)


def test_class_weight_weighs_each_sample_by_its_class():
    model = Sequential([Input(shape=(2,)), Dense(2, activation="softmax", use_bias=False)])
    model.compile(optimizer=SGD(0.1), loss="sparse_categorical_crossentropy")
    kernel = np.array([[1.0, -1.0], [0.5, 2.0]], np.float32)
    model.set_weights([kernel])
    labels = np.array([0, 1, 1, 0])
    logits = X @ kernel
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    per_sample = -log_p[np.arange(4), labels]
    loss = model.train_on_batch(X, labels, class_weight={0: 1.0, 1: 3.0})  # the loss before the step
    np.testing.assert_allclose(loss, (per_sample * [1, 3, 3, 1]).sum() / 4, rtol=1e-5)
    one_hot = Sequential([Input(shape=(2,)), Dense(2, activation="softmax", use_bias=False)])
    one_hot.compile(optimizer=SGD(0.1), loss="categorical_crossentropy")
    one_hot.set_weights([kernel])
    one_hot.fit(X, np.eye(2)[labels], class_weight={1: 3.0}, batch_size=4, verbose=0)
    model.set_weights([kernel])
    model.fit(X, labels, class_weight={0: 1.0, 1: 3.0}, batch_size=4, shuffle=False, verbose=0)
    np.testing.assert_allclose(one_hot.get_weights()[0], model.get_weights()[0], rtol=1e-6)
    with pytest.raises(ValueError, match="cannot use `class_weight` and `sample_weight` at the same time"):
        model.fit(X, labels, class_weight={0: 1.0}, sample_weight=np.ones(4), verbose=0)


class Recorder(Callback):
    def __init__(self):
        super().__init__()
        self.epochs, self.batches = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)

    def on_train_batch_begin(self, batch, logs=None):
        self.batches.append(batch)


class IndexedBatches:
    """A PyDataset whose batch i is the sample i alone, recording which batches were asked for."""

    def __init__(self):
        self.asked, self.epoch_ends = [], 0

    def __len__(self):
        return 4

    def __getitem__(self, i):
        self.asked.append(i)
        return X[i:i + 1], Y[i:i + 1]

    def on_epoch_end(self):
        self.epoch_ends += 1


def test_initial_epoch_resumes_at_that_epoch():
    recorder = Recorder()
    history = linear_model().fit(X, Y, epochs=3, initial_epoch=1, verbose=0, callbacks=[recorder])
    assert recorder.epochs == [1, 2] and history.epoch == [1, 2] and len(history.history["loss"]) == 2
    with pytest.raises(ValueError, match="`initial_epoch` must be an integer >= 0"):
        linear_model().fit(X, Y, initial_epoch=-1, verbose=0)


def test_steps_per_epoch_carries_on_where_the_last_epoch_stopped():
    data, model = IndexedBatches(), linear_model()
    model.fit(data, epochs=3, steps_per_epoch=3, verbose=0)
    assert data.asked == [0, 1, 2, 3, 0, 1, 2, 3, 0] and data.epoch_ends == 2
    assert model.optimizer.iterations == 9


def test_a_generator_of_batches_with_and_without_steps_per_epoch():
    def forever():
        while True:
            yield X[:2], Y[:2]
            yield X[2:], Y[2:], np.array([1.0, 0.0])  # (x, y, sample_weight) batches too

    model = linear_model()
    history = model.fit(forever(), epochs=2, steps_per_epoch=3, verbose=0)
    assert model.optimizer.iterations == 6 and len(history.history["loss"]) == 2

    def finite():
        yield X[:2], Y[:2]
        yield X[2:], Y[2:]

    model = linear_model()
    with pytest.warns(UserWarning, match="Your input ran out of data"):
        history = model.fit(finite(), epochs=3, verbose=0)
    assert model.optimizer.iterations == 2 and history.epoch == [0]
    expected = linear_model()
    expected.fit(X, Y, batch_size=2, shuffle=False, verbose=0)
    np.testing.assert_allclose(model.get_weights()[0], expected.get_weights()[0], rtol=1e-6)
    with pytest.raises(ValueError, match="`y` must be None when `x` is a generator"):
        model.fit(finite(), Y, verbose=0)


def test_a_list_of_batches_is_walked_each_epoch():
    model = linear_model()
    batches = [(X[:2], Y[:2]), (X[2:], Y[2:])]
    model.fit(batches, epochs=2, verbose=0)
    assert model.optimizer.iterations == 4
    weighted = [(X, Y, np.array([1.0, 0.0, 2.0, 0.5], np.float32))]
    assert linear_model().evaluate(weighted, verbose=0) == pytest.approx(
        linear_model().evaluate(X, Y, sample_weight=weighted[0][2], verbose=0), rel=1e-6)


def test_validation_freq_and_validation_steps():
    model = linear_model()
    history = model.fit(X, Y, epochs=4, batch_size=2, validation_data=(X, Y), validation_freq=2,
                        verbose=0).history
    assert len(history["loss"]) == 4 and len(history["val_loss"]) == 2
    model = linear_model(lr=0.0)  # no learning: the validation loss is the first batch's loss
    history = model.fit(X, Y, epochs=1, batch_size=1, validation_data=(X, Y), validation_steps=1,
                        verbose=0).history
    assert history["val_loss"][0] == pytest.approx(float(((X[:1] @ W0 - Y[:1]) ** 2).mean()), rel=1e-6)
    with pytest.raises(ValueError, match="`validation_freq` must be an integer >= 1"):
        model.fit(X, Y, validation_data=(X, Y), validation_freq=0, verbose=0)


def test_weighted_validation_data_and_validation_split_with_sample_weight():
    weights = np.array([1.0, 0.0, 2.0, 0.5], np.float32)
    model = linear_model(lr=0.0)
    history = model.fit(X, Y, validation_data=(X, Y, weights), verbose=0).history
    assert history["val_loss"][0] == pytest.approx(
        float((weights * ((X @ W0 - Y) ** 2)[:, 0]).sum() / 4), rel=1e-5)
    history = model.fit(X, Y, sample_weight=weights, validation_split=0.5, verbose=0).history
    assert history["val_loss"][0] == pytest.approx(
        float((weights[2:] * ((X[2:] @ W0 - Y[2:]) ** 2)[:, 0]).sum() / 2), rel=1e-5)


def test_predict_on_batch_and_test_on_batch():
    model = linear_model()
    np.testing.assert_allclose(model.predict_on_batch(X), X @ W0)
    assert model.test_on_batch(X, Y) == pytest.approx(float(((X @ W0 - Y) ** 2).mean()))
    np.testing.assert_array_equal(model.get_weights()[0], W0)  # nothing trained
    x_in = Input(shape=(2,))
    two = Model(x_in, [Dense(1, name="p")(x_in), Dense(2, name="q")(x_in)])
    two.compile(loss="mse", optimizer="sgd")
    out = two.predict_on_batch(X)
    assert [o.shape for o in out] == [(4, 1), (4, 2)]
    logs = two.test_on_batch(X, [Y, np.zeros((4, 2))], return_dict=True)
    assert list(logs) == ["loss", "p_loss", "q_loss"]
    assert logs["loss"] == pytest.approx(logs["p_loss"] + logs["q_loss"], rel=1e-6)


def test_a_list_of_samples_is_one_input_for_a_one_input_model():
    model = linear_model()
    as_list = model.predict([X[0], X[1], X[2]], verbose=0)
    np.testing.assert_allclose(as_list, X[:3] @ W0)
    model.fit(list(X), list(Y), batch_size=4, epochs=1, verbose=0)  # stacked, as NumPy would
