"""BackupAndRestore: a training run killed (SIGKILL, in a real process) at random moments and
started again ends with the very weights of a run never killed; the backup is atomic, checked
before anything changes, and removed at the end."""

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from tinyvid import callbacks, layers, optimizers
from tinyvid.models import Sequential
from tinyvid.utils import set_random_seed, to_categorical

TRAINING = textwrap.dedent("""
    import sys, time
    import numpy as np
    from tinyvid import callbacks, layers, optimizers
    from tinyvid.models import Sequential
    from tinyvid.utils import set_random_seed, to_categorical

    backup_dir, progress, out, epochs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    data = np.random.default_rng(0)
    x = data.standard_normal((40, 6)).astype(np.float32)
    y = to_categorical(data.integers(0, 3, 40), 3)
    set_random_seed(1)
    model = Sequential([layers.Input(shape=(6,)), layers.Dense(8, activation="relu"),
                        layers.Dropout(0.3), layers.Dense(3, activation="softmax")])
    model.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss="categorical_crossentropy")

    def note(epoch, logs=None):
        with open(progress, "a") as file:
            file.write(f"{epoch}\\n")

    def slow_down(batch, logs=None):
        time.sleep(0.02)  # long enough for a kill to land in any part of an epoch

    model.fit(x, y, batch_size=8, epochs=epochs, shuffle=True, verbose=0, callbacks=[
        callbacks.BackupAndRestore(backup_dir) if backup_dir != "-" else callbacks.Callback(),
        callbacks.LambdaCallback(on_epoch_begin=note, on_train_batch_end=slow_down)])
    np.savez(out, *model.get_weights())
""")

EPOCHS = 12


def train(script, tmp_path, backup_dir, out):
    return subprocess.Popen([sys.executable, str(script), str(backup_dir), str(tmp_path / "progress"),
                             str(out), str(EPOCHS)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def epochs_begun(tmp_path):
    path = tmp_path / "progress"
    return [int(line) for line in path.read_text().split()] if path.exists() else []


@pytest.mark.slow
def test_a_run_killed_several_times_ends_with_the_weights_of_an_unkilled_run(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(TRAINING)
    unkilled = train(script, tmp_path, "-", tmp_path / "unkilled.npz")
    assert unkilled.wait(timeout=120) == 0, unkilled.stderr.read().decode()
    (tmp_path / "progress").unlink()

    backup_dir, delays, starts = tmp_path / "backup", [], []
    for _ in range(4):
        begun = len(epochs_begun(tmp_path))
        child = train(script, tmp_path, backup_dir, tmp_path / "killed.npz")
        while len(epochs_begun(tmp_path)) == begun and child.poll() is None:
            time.sleep(0.01)  # wait until this run is training: kills land in training, not import
        starts.append(epochs_begun(tmp_path)[begun:begun + 1])
        delays.append(round(random.uniform(0.0, 0.8), 3))
        time.sleep(delays[-1])
        child.send_signal(signal.SIGKILL)
        child.wait()
    final = train(script, tmp_path, backup_dir, tmp_path / "killed.npz")
    assert final.wait(timeout=120) == 0, final.stderr.read().decode()
    starts.append(epochs_begun(tmp_path)[-1:])
    story = f"kills after {delays} s of training; the runs started at epochs {starts}"
    assert any(start and start[0] > 0 for start in starts), f"no run resumed: {story}"
    with np.load(tmp_path / "unkilled.npz") as a, np.load(tmp_path / "killed.npz") as b:
        for key in a.files:
            assert np.array_equal(a[key], b[key]), f"weights {key} differ; {story}"
    assert not backup_dir.exists()  # delete_checkpoint=True: removed once training ended


def small_model():
    set_random_seed(3)
    model = Sequential([layers.Input(shape=(4,)), layers.Dense(5, activation="relu"),
                        layers.Dropout(0.5, seed=7), layers.Dense(2, activation="softmax")])
    model.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss="categorical_crossentropy")
    return model


def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((24, 4)).astype(np.float32), to_categorical(rng.integers(0, 2, 24), 2)


class StopAfter(callbacks.Callback):
    """Stands for a kill between epochs: stops fit after `epochs` epochs, skipping on_train_end's
    clean-up by leaving the backup in place."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            self.model.stop_training = True


def test_in_process_resume_equals_an_uninterrupted_run_with_a_seeded_dropout(tmp_path):
    x, y = data()
    whole = small_model()
    whole.fit(x, y, batch_size=6, epochs=5, verbose=0)
    first = small_model()
    backup = callbacks.BackupAndRestore(tmp_path / "b", delete_checkpoint=False)
    first.fit(x, y, batch_size=6, epochs=5, verbose=0, callbacks=[backup, StopAfter(2)])
    assert (tmp_path / "b" / "latest.backup.npz").exists()
    resumed = small_model()  # a new process would build the model afresh
    history = resumed.fit(x, y, batch_size=6, epochs=5, verbose=0, callbacks=[
        callbacks.BackupAndRestore(tmp_path / "b")])
    assert history.epoch == [2, 3, 4] and resumed.optimizer.iterations == 20
    for a, b in zip(whole.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not (tmp_path / "b").exists()


def test_a_broken_or_foreign_backup_is_refused_naming_the_file_and_changes_nothing(tmp_path):
    x, y = data()
    folder = tmp_path / "b"
    folder.mkdir()
    (folder / "latest.backup.npz").write_bytes(b"not a zip file")
    (folder / ".latest.backup.npz.abc.tmp").write_bytes(b"half")
    model = small_model()
    before = model.get_weights()
    with pytest.raises(ValueError, match="cannot read the backup '.*latest.backup.npz'"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.BackupAndRestore(folder)])
    assert not (folder / ".latest.backup.npz.abc.tmp").exists()  # a killed save's leftover
    other = Sequential([layers.Input(shape=(4,)), layers.Dense(3), layers.Dense(2)])
    other.compile(optimizer="adam", loss="mse")
    callbacks.BackupAndRestore(tmp_path / "c").set_model(other)
    saver = callbacks.BackupAndRestore(tmp_path / "c")
    saver.set_model(other)
    saver.save()
    model = small_model()
    before = model.get_weights()
    with pytest.raises(ValueError, match="holds weights of shapes"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.BackupAndRestore(tmp_path / "c")])
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert model.optimizer.iterations == 0
    with pytest.raises(ValueError, match="BackupAndRestore: invalid value for argument `save_freq`"):
        callbacks.BackupAndRestore(tmp_path, save_freq="batch")


def test_save_freq_in_batches_writes_during_the_epoch(tmp_path):
    x, y = data()
    saves = []
    backup = callbacks.BackupAndRestore(tmp_path / "b", save_freq=2, delete_checkpoint=False)
    original = backup.save
    backup.save = lambda: (saves.append(backup._batch), original())
    small_model().fit(x, y, batch_size=6, epochs=2, verbose=0, callbacks=[backup])
    assert saves == [2, 4, 2, 4]
    assert [p.name for p in (tmp_path / "b").iterdir()] == ["latest.backup.npz"]
    assert os.path.getsize(tmp_path / "b" / "latest.backup.npz") > 0
