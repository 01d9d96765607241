"""What the distribution tests run under `mpiexec -n 2` (and, for the one-process reference, in
pytest's own process): `python -m tests.distribution.mpi_worker SCENARIO OUT [VIDEO_ROOT]`.

Each rank writes its results into OUT as rank<r>-<name>.npz / .json; the tests compare them.
"""

import json
import os
import pathlib
import signal
import sys
import time

import numpy as np

from tinyvid import distribution
from tinyvid.callbacks import Callback, EarlyStopping, ModelCheckpoint
from tinyvid.datasets import FrameBatches, VideoFolder
from tinyvid.layers import Conv2D, Dense, Flatten
from tinyvid.models import Sequential
from tinyvid.optimizers import SGD, Adam
from tinyvid.utils import set_random_seed

NUM_CLASSES = 3


def document_model(num_classes, frame_size, dtype="float32"):
    """The source document's model (tinyvid.cli.build_model), in `dtype`."""
    model = Sequential()
    model.add(Conv2D(32, (3, 3), activation="relu", input_shape=(frame_size, frame_size, 3),
                     dtype=dtype))
    model.add(Conv2D(64, (3, 3), activation="relu", dtype=dtype))
    model.add(Flatten(dtype=dtype))
    model.add(Dense(64, activation="relu", dtype=dtype))
    model.add(Dense(num_classes, activation="softmax", dtype=dtype))
    return model


def batch_norm_model(frame_size):
    """Conv2D -> BatchNormalization -> Flatten -> Dense, in float64 (None without the layer)."""
    try:
        from tinyvid.layers import BatchNormalization
    except ImportError:
        return None
    model = Sequential()
    model.add(Conv2D(4, (3, 3), input_shape=(frame_size, frame_size, 3), dtype="float64"))
    model.add(BatchNormalization(dtype="float64"))
    model.add(Flatten(dtype="float64"))
    model.add(Dense(NUM_CLASSES, activation="softmax", dtype="float64"))
    return model


def frames_and_labels(n, frame_size=8, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.random((n, frame_size, frame_size, 3))
    y = np.eye(NUM_CLASSES)[rng.integers(0, NUM_CLASSES, n)]
    return x, y


def save(out, rank, name, weights, history=None):
    np.savez(out / f"rank{rank}-{name}.npz", *weights)
    if history is not None:
        (out / f"rank{rank}-{name}.json").write_text(json.dumps(history))


def equivalence(out, rank, video_root=None):
    """Everything the one-process and the two-rank runs must agree on. Rank r seeds its
    generator with seed + r: only the broadcasts from rank 0 make the ranks agree."""
    x, y = frames_and_labels(8)
    for dtype, optimizer in (("float64", Adam(learning_rate=1e-3)), ("float32", SGD(0.05))):
        set_random_seed(100 + rank)
        model = document_model(NUM_CLASSES, 8, dtype)
        model.compile(optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"])
        history = model.fit(x.astype(dtype), y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        save(out, rank, f"one-step-{dtype}", model.get_weights(), history.history)

    set_random_seed(200 + rank)
    model = batch_norm_model(8)
    if model is not None:
        model.compile(optimizer=SGD(0.1), loss="categorical_crossentropy")
        save(out, rank, "bn-initial", model.get_weights())
        model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        save(out, rank, "bn-one-step", model.get_weights())

    # 11 samples in batches of 4: shares 2+2, 2+2, 2+1; validation 3 samples: 2+1
    x, y = frames_and_labels(14, seed=2)
    set_random_seed(7 + rank)
    model = document_model(NUM_CLASSES, 8, "float64")
    model.compile(optimizer=Adam(learning_rate=1e-3), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    callbacks = [ModelCheckpoint(out / f"checkpoint-rank{rank}.weights.npz"),
                 EarlyStopping(monitor="val_loss", patience=5)]
    history = model.fit(x[:11], y[:11], batch_size=4, epochs=2, validation_data=(x[11:], y[11:]),
                        callbacks=callbacks, verbose=0)
    save(out, rank, "fit", model.get_weights(), history.history)

    # 5 samples in batches of 4: rank 1's share of the last batch is empty
    set_random_seed(9 + rank)
    model = document_model(NUM_CLASSES, 8, "float64")
    model.compile(optimizer=SGD(0.05), loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x[:5], y[:5], batch_size=4, epochs=1, verbose=0)
    save(out, rank, "fit-empty-share", model.get_weights(), history.history)

    # rank 0 alone decides to stop after the first epoch: every rank must stop with it
    model = document_model(NUM_CLASSES, 8, "float64")
    model.compile(optimizer=SGD(0.05), loss="categorical_crossentropy")
    history = model.fit(x[:4], y[:4], batch_size=4, epochs=3, verbose=0,
                        callbacks=[StopOnRank0(rank)])
    save(out, rank, "stop", model.get_weights(), history.history)

    if video_root is not None:
        set_random_seed(11 + rank)
        train = VideoFolder(video_root, num_frames=4, size=(16, 16), split="train")
        validation = VideoFolder(video_root, num_frames=4, size=(16, 16), split="validation")
        batches = FrameBatches(train, batch_size=8, seed=3)
        model = document_model(len(train.classes), 16, "float64")
        model.compile(optimizer=Adam(learning_rate=1e-3), loss="categorical_crossentropy",
                      metrics=["accuracy"])
        history = model.fit(batches, epochs=2, verbose=0,
                            validation_data=FrameBatches(validation, batch_size=8, shuffle=False))
        logs = {**history.history, "rows_read_in_batch_0": [len(batches[0][0])]}
        save(out, rank, "frames", model.get_weights(), logs)


class StopOnRank0(Callback):
    def __init__(self, rank):
        super().__init__()
        self.rank = rank

    def on_epoch_end(self, epoch, logs=None):
        if self.rank == 0:
            self.model.stop_training = True


class FailOnRank1(Callback):
    """At batch 2 of the first epoch, rank 1 raises, hangs or is killed (as `how` says)."""

    def __init__(self, rank, how):
        super().__init__()
        self.rank, self.how = rank, how

    def on_train_batch_begin(self, batch, logs=None):
        if self.rank != 1 or batch != 2:
            return
        if self.how == "raise":
            raise RuntimeError("a failure on purpose, mid-epoch")
        if self.how == "hang":
            time.sleep(120)
        if self.how == "kill":
            os.kill(os.getpid(), signal.SIGKILL)


def failure(how, rank):
    x, y = frames_and_labels(64)
    set_random_seed(0)
    model = document_model(NUM_CLASSES, 8)
    model.compile(optimizer=SGD(0.05), loss="categorical_crossentropy")
    model.fit(x, y, batch_size=4, epochs=3, verbose=0, callbacks=[FailOnRank1(rank, how)])
    print(f"rank {rank}: fit ended normally", flush=True)


def main(argv):
    scenario, out = argv[0], pathlib.Path(argv[1])
    timeout = 2.0 if scenario == "hang" else 120.0
    distribution.set_distribution(distribution.DataParallel(timeout=timeout))
    rank = distribution.distribution().rank
    if scenario == "equivalence":
        equivalence(out, rank, argv[2] if len(argv) > 2 else None)
    else:
        failure(scenario, rank)


if __name__ == "__main__":
    main(sys.argv[1:])
