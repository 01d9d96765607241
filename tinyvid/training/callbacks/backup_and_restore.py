"""BackupAndRestore: a training run that is killed resumes where it was, with the same result.

After every epoch (or every `save_freq` batches) the callback writes one file,
`<backup_dir>/latest.backup.npz`, holding everything the rest of the run depends on:

    weights/0, weights/1, ...     the model's weights (model.get_weights() order)
    optimizer/0, optimizer/1, ... the optimizer's variables: step count, learning rate, Adam's
                                  moments ... (Optimizer.save_own_variables)
    metadata                      JSON, as bytes: the epochs completed, the batch, and the
                                  state of every random generator (tinyvid's shared one, which
                                  shuffles and drops out, and any layer's own seeded one)

It is written to a temporary file in the same folder and renamed over the previous backup, so
a kill at any moment leaves either the previous backup or the new one, whole. When `fit` starts
again with the same callback, `on_train_begin` loads the file (checking every array before
changing anything), and sets `model._initial_epoch`, as Keras does, so that `fit` continues with
the next epoch. With save_freq='epoch' the resumed run computes exactly what an unkilled run
computes; with a number of batches it resumes at the start of the epoch it was in, with the
weights of the last save (Keras's behaviour), which is not the same run.
"""

from __future__ import annotations

import glob
import json
import os
import tempfile
import zipfile
from typing import Any

import numpy as np

from tinyvid.training import rng
from tinyvid.training.callbacks.base import Callback
from tinyvid.training.callbacks.model_checkpoint import check_save_freq

BACKUP_NAME = "latest.backup.npz"


class BackupAndRestore(Callback):
    """Back up the training state regularly; restore it when `fit` starts again.

    Args:
        backup_dir: the folder for the backup (created when needed). Use one folder per run.
        save_freq: 'epoch' (after every epoch) or an integer: after every that many batches.
        delete_checkpoint: remove the backup when training ends normally (a run that ended
            is not resumed by the next `fit`).
    """

    def __init__(self, backup_dir: str | os.PathLike[str], save_freq: str | int = "epoch",
                 delete_checkpoint: bool = True) -> None:
        super().__init__()
        if not backup_dir:
            raise ValueError("BackupAndRestore: invalid value for argument `backup_dir`: expected "
                             f"a folder. Received: backup_dir={backup_dir!r}")
        check_save_freq(save_freq, "BackupAndRestore")
        self.backup_dir, self.save_freq = os.fspath(backup_dir), save_freq
        self.delete_checkpoint = delete_checkpoint
        self.path = os.path.join(self.backup_dir, BACKUP_NAME)
        self._epochs_done, self._batch, self._batches_since_save = 0, 0, 0

    # --- restoring -------------------------------------------------------------------------------

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        for stale in glob.glob(os.path.join(self.backup_dir, f".{BACKUP_NAME}.*.tmp")):
            os.remove(stale)  # a temporary file left by a run killed while saving
        self._epochs_done, self._batch, self._batches_since_save = 0, 0, 0
        if not os.path.exists(self.path):
            return
        if not getattr(self.model, "built", True):
            raise ValueError(f"BackupAndRestore: to restore '{self.path}', the model must be built "
                             f"before fit (give it an Input or input_shape=, or call it on data)")
        self.restore()

    def restore(self) -> None:
        """Load the backup into the model, its optimizer and the random generators."""
        stored = _read(self.path)
        weights = self.model.get_weights()
        saved_weights = _numbered(stored, "weights/")
        optimizer = self.model.optimizer
        optimizer.build(self.model.trainable_weights)
        saved_optimizer = _numbered(stored, "optimizer/")
        if len(saved_weights) != len(weights) or any(
                a.shape != b.shape for a, b in zip(weights, saved_weights)):
            raise ValueError(f"BackupAndRestore: the backup '{self.path}' holds weights of shapes "
                             f"{[w.shape for w in saved_weights]}, the model has "
                             f"{[w.shape for w in weights]}; was it made by another model?")
        try:
            metadata = json.loads(bytes(stored["metadata"]).decode("utf-8"))
            epoch, generators = int(metadata["epoch"]), metadata["generators"]
        except (KeyError, ValueError, TypeError) as error:
            raise ValueError(f"BackupAndRestore: cannot read the metadata of '{self.path}': "
                             f"{error}") from error
        mine = _generators(self.model)
        if sorted(generators) != sorted(mine):
            raise ValueError(f"BackupAndRestore: the backup '{self.path}' holds random generators "
                             f"{sorted(generators)}, the model has {sorted(mine)}")
        before: dict[str, np.ndarray] = {}
        optimizer.save_own_variables(before)
        optimizer.load_own_variables({str(i): v for i, v in enumerate(saved_optimizer)})
        try:
            self.model.set_weights(saved_weights)
        except ValueError:
            optimizer.load_own_variables(before)  # a failed load changes nothing
            raise
        for name, state in generators.items():
            mine[name].bit_generator.state = state
        self.model._initial_epoch = epoch
        self._epochs_done = epoch

    # --- backing up ------------------------------------------------------------------------------

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._batch = batch + 1
        if self.save_freq == "epoch":
            return
        self._batches_since_save += 1
        if isinstance(self.save_freq, int) and self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self.save()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epochs_done, self._batch = epoch + 1, 0
        if self.save_freq == "epoch":
            self.save()

    def save(self) -> None:
        """Write the backup file, atomically."""
        arrays = {f"weights/{i}": w for i, w in enumerate(self.model.get_weights())}
        store: dict[str, np.ndarray] = {}
        self.model.optimizer.save_own_variables(store)
        arrays.update({f"optimizer/{key}": value for key, value in store.items()})
        metadata = {"epoch": self._epochs_done, "batch": self._batch,
                    "generators": {name: g.bit_generator.state
                                   for name, g in _generators(self.model).items()}}
        arrays["metadata"] = np.frombuffer(json.dumps(metadata).encode("utf-8"), dtype=np.uint8)
        os.makedirs(self.backup_dir, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{BACKUP_NAME}.", suffix=".tmp",
                                             dir=self.backup_dir)
        try:
            with os.fdopen(handle, "wb") as file:
                np.savez(file, **arrays)
                file.flush()
                os.fsync(file.fileno())  # on disk before the rename
            os.replace(temporary, self.path)
        except BaseException:
            if os.path.exists(temporary):
                os.remove(temporary)
            raise

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self.delete_checkpoint and os.path.exists(self.path):
            os.remove(self.path)
            if not os.listdir(self.backup_dir):
                os.rmdir(self.backup_dir)  # only when it holds nothing else


def _generators(model: Any) -> dict[str, np.random.Generator]:
    """Every random generator the run draws from: tinyvid's shared one, and each layer's own."""
    found = {"tinyvid": rng.generator()}
    for index, layer in enumerate(getattr(model, "layers", [])):
        for attribute, value in sorted(vars(layer).items()):
            if isinstance(value, np.random.Generator) and value is not found["tinyvid"]:
                found[f"{index}:{type(layer).__name__}.{attribute}"] = value
    return found


def _numbered(stored: dict[str, np.ndarray], prefix: str) -> list[np.ndarray]:
    count = sum(key.startswith(prefix) for key in stored)
    return [stored[f"{prefix}{i}"] for i in range(count)]


def _read(path: str) -> dict[str, np.ndarray]:
    """{key: array} from the backup file, or an error naming the file. Never unpickles."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, AttributeError) as error:
        raise ValueError(f"BackupAndRestore: cannot read the backup '{path}': {error}") from error
