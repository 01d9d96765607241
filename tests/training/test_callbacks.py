"""The callbacks beyond History and EarlyStopping, by hand: LearningRateScheduler,
ReduceLROnPlateau, CSVLogger, TerminateOnNaN, LambdaCallback, ModelCheckpoint's options."""

import csv

import numpy as np
import pytest

from tinyvid import callbacks, layers, optimizers
from tinyvid.models import Sequential
from tinyvid.utils import set_random_seed, to_categorical


def model_and_data(learning_rate=0.01, optimizer=None):
    set_random_seed(0)
    model = Sequential([layers.Input(shape=(4,)), layers.Dense(3, activation="softmax")])
    model.compile(optimizer=optimizer or optimizers.SGD(learning_rate=learning_rate),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(1)
    return model, rng.standard_normal((12, 4)).astype(np.float32), to_categorical(
        rng.integers(0, 3, 12), 3)


class Scripted(callbacks.Callback):
    """Puts scripted values of `key` into the epoch logs (before the callbacks after it)."""

    def __init__(self, key, values):
        super().__init__()
        self.key, self.values = key, list(values)

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


def test_learning_rate_scheduler_sets_alpha_each_epoch_and_logs_it(capsys):
    model, x, y = model_and_data(learning_rate=0.1)
    seen = []
    record = callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: seen.append(model.optimizer.learning_rate))
    scheduler = callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch else lr,
                                                verbose=1)
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[scheduler, record])
    assert seen == [0.1, 0.05, 0.025] and history.history["learning_rate"] == seen
    assert "Epoch 2: LearningRateScheduler setting learning rate to 0.05." in capsys.readouterr().out
    older = callbacks.LearningRateScheduler(lambda epoch: 0.3 / (epoch + 1))  # epoch alone
    model.fit(x, y, epochs=2, verbose=0, callbacks=[older])
    assert model.optimizer.learning_rate == pytest.approx(0.15)
    with pytest.raises(ValueError, match="should be a float. Got: 'fast'"):
        model.fit(x, y, epochs=1, verbose=0,
                  callbacks=[callbacks.LearningRateScheduler(lambda e, lr: "fast")])


def test_reduce_lr_on_plateau_waits_patience_then_cooldown():
    model, x, y = model_and_data(learning_rate=1.0)
    losses = [1.0, 0.9, 0.95, 0.96, 0.97, 0.98, 0.99, 0.5, 0.6, 0.7]
    history = model.fit(x, y, epochs=len(losses), verbose=0, callbacks=[
        Scripted("val_loss", losses),
        callbacks.ReduceLROnPlateau(factor=0.5, patience=2, cooldown=1, min_lr=0.2)])
    # improvement at 0, 1; waits 2, 3 -> halve after epoch 3. Epoch 4 ends the cooldown first
    # and so counts as a wait (Keras's order), 5 too -> halve after 5; improvement at 7; waits
    # 8, 9 -> 0.25 halves to max(0.125, 0.2). The logs hold the rate each epoch ran with.
    assert history.history["learning_rate"] == pytest.approx(
        [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25])
    assert model.optimizer.learning_rate == pytest.approx(0.2)
    with pytest.raises(ValueError, match="does not support a factor >= 1.0"):
        callbacks.ReduceLROnPlateau(factor=1.0)
    with pytest.raises(ValueError, match="ReduceLROnPlateau: invalid value for argument `patience`"):
        callbacks.ReduceLROnPlateau(patience=-1)


def test_csv_logger_writes_one_row_per_epoch_and_appends(tmp_path):
    model, x, y = model_and_data()
    path = tmp_path / "log.csv"
    model.fit(x, y, epochs=2, verbose=0, callbacks=[callbacks.CSVLogger(path)])
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [row[0] for row in rows[1:]] == ["0", "1"] and rows[1][3] == "NA"
    history = model.fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.CSVLogger(path, append=True,
                                                                                   separator=";")])
    last = path.read_text().splitlines()
    assert len(last) == 4 and last[-1].split(";")[2] == str(history.history["loss"][0])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow is the point
def test_terminate_on_nan_stops_after_the_batch_or_raises(capsys):
    model, x, y = model_and_data(learning_rate=1e30)  # the loss overflows at once
    x = x * 1e20
    history = model.fit(x, y, batch_size=4, epochs=3, verbose=0,
                        callbacks=[callbacks.TerminateOnNaN()])
    assert len(history.epoch) == 1 and "Invalid loss, terminating training" in capsys.readouterr().out
    assert model.optimizer.iterations < 3
    model, x, y = model_and_data(learning_rate=1e30)
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch"):
        model.fit(x * 1e20, y, batch_size=4, epochs=1, verbose=0,
                  callbacks=[callbacks.TerminateOnNaN(raise_error=True)])


def test_lambda_callback_runs_the_functions_it_was_given():
    model, x, y = model_and_data()
    calls = []
    model.fit(x, y, batch_size=6, epochs=2, verbose=0, callbacks=[callbacks.LambdaCallback(
        on_train_begin=lambda logs: calls.append("begin"),
        on_epoch_end=lambda epoch, logs: calls.append(f"epoch {epoch} {sorted(logs)}"),
        on_train_batch_end=lambda batch, logs: calls.append(f"batch {batch}"),
        on_train_end=lambda logs: calls.append("end"))])
    assert calls == ["begin", "batch 0", "batch 1", "epoch 0 ['accuracy', 'loss']", "batch 0",
                     "batch 1", "epoch 1 ['accuracy', 'loss']", "end"]
    with pytest.raises(ValueError, match="argument `on_epoch_end`: expected a function"):
        callbacks.LambdaCallback(on_epoch_end=3)


def test_model_checkpoint_every_few_batches_and_weights_only(tmp_path):
    model, x, y = model_and_data()
    checkpoint = callbacks.ModelCheckpoint(str(tmp_path / "c-{epoch}-{batch}.weights.npz"),
                                           save_freq=2, save_weights_only=True)
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[checkpoint])
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "c-1-2.weights.npz", "c-2-1.weights.npz", "c-2-3.weights.npz"]  # every 2nd of 6 batches
    model.load_weights(tmp_path / "c-2-3.weights.npz")
    with pytest.raises(ValueError, match="uses the key 'val_loss', which the logs of epoch 1 do not have"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[
            callbacks.ModelCheckpoint(str(tmp_path / "m-{val_loss:.2f}.weights.npz"))])
    with pytest.raises(KeyError):  # a KeyError too, as in Keras
        callbacks.ModelCheckpoint("{nope}.npz").format_path(0, None, {})
    with pytest.raises(ValueError, match="invalid value for argument `save_freq`"):
        callbacks.ModelCheckpoint("x.npz", save_freq=0)


def test_model_checkpoint_save_best_only_with_initial_threshold(tmp_path, capsys):
    model, x, y = model_and_data()
    checkpoint = callbacks.ModelCheckpoint(str(tmp_path / "best-{epoch}.weights.npz"),
                                           save_best_only=True, initial_value_threshold=0.8,
                                           verbose=1)
    model.fit(x, y, epochs=4, verbose=0, callbacks=[Scripted("val_loss", [0.9, 0.7, 0.75, 0.6]),
                                                     checkpoint])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best-2.weights.npz", "best-4.weights.npz"]
    assert "Epoch 3: val_loss did not improve from 0.70000" in capsys.readouterr().out


def test_model_checkpoint_saves_the_whole_model_to_a_keras_file(tmp_path):
    model, x, y = model_and_data()
    saved = []
    model.save = lambda path: saved.append(path)  # the functional helper's model.save
    model.fit(x, y, epochs=2, verbose=0, callbacks=[
        callbacks.ModelCheckpoint(str(tmp_path / "m-{epoch}.keras"))])
    assert saved == [str(tmp_path / "m-1.keras"), str(tmp_path / "m-2.keras")]
