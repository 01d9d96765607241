"""The `tinyvid` command: `demo`, `train`, `predict` and `cache`.

    tinyvid demo                      make a small video dataset, train the document's model on it
    tinyvid train ROOT                train on any class-per-folder tree of videos
    tinyvid predict WEIGHTS VIDEO...  print the top classes for each video
    tinyvid cache ROOT                decode every video once into train's frame cache

`mpiexec -n N tinyvid train ROOT` (and `cache`) runs on N MPI ranks: data-parallel training
(tinyvid.distribution.DataParallel), and the videos to decode split across the ranks.

Every run writes into --out: the weights (model.weights.npz), what is needed to rebuild the
model for `predict` (model.json: classes, frame size, frames per video), the history
(history.json) and, with matplotlib installed, a plot of loss and accuracy (history.png).
They are written as a unit: first into out/.tinyvid-run.tmp/, then moved into --out with
model.json last, which records the SHA-256 of the weights it belongs with, so `predict` refuses
weights from one run beside the model.json of another (an interrupted run).

Every argument is checked before any work (and --out is probed for writing before the tree is
scanned); bad paths, unreadable videos and a loss that becomes NaN end with one clear line on
stderr and exit status 2.
"""

import argparse
import gc
import hashlib
import json
import math
import os
import pathlib
import shutil
import sys
import time
import warnings
from typing import Any

import numpy as np

from tinyvid import distribution
from tinyvid.training.callbacks import Callback
from tinyvid.training.files import atomic_write

DEMO_EPOCHS = 5
WEIGHTS_FILE = "model.weights.npz"
STAGING_FOLDER = ".tinyvid-run.tmp"  # inside --out: the run's files before they are published
MIN_SIZE = 5  # the model's two 3x3 convolutions leave SIZE - 4 pixels a side


def build_model(num_classes, frame_size):
    """The source document's model (section 4.2), exactly as written there."""
    from tinyvid.layers import Conv2D, Dense, Flatten
    from tinyvid.models import Sequential

    model = Sequential()
    model.add(Conv2D(32, (3, 3), activation="relu", input_shape=(frame_size, frame_size, 3)))
    model.add(Conv2D(64, (3, 3), activation="relu"))
    model.add(Flatten())
    model.add(Dense(64, activation="relu"))
    model.add(Dense(num_classes, activation="softmax"))
    return model


# --- the main job: video folder -> frames -> model -> fit -> report --------------------------


def train_on_folder(root, out, frames=8, size=64, epochs=10, batch_size=32, learning_rate=0.001,
                    seed=0, verbose=1, workers=2, cache_max_bytes=None):
    """Train the document's model on a class-per-folder video tree; save and report the results.

    workers: processes decoding the videos of the next batches while the model trains (0: the
    training loop decodes each video itself); cache_max_bytes bounds the frame cache in --out.

    Raises:
        OSError: when `out` cannot be written (found before any video is read).
        ValueError: when the loss becomes NaN or inf (nothing is saved then).
    """
    from tinyvid.datasets import FrameBatches, VideoFolder, evaluate_videos
    from tinyvid.optimizers import Adam
    from tinyvid.utils import set_random_seed

    out = pathlib.Path(out)
    check_writable_folder(out)
    out.mkdir(parents=True, exist_ok=True)
    set_random_seed(seed)
    common = {"num_frames": frames, "size": (size, size), "seed": seed,
              "cache_dir": out / "frame-cache", "cache_max_bytes": cache_max_bytes}
    ahead = {"workers": workers, "use_multiprocessing": workers > 0}  # Keras's PyDataset arguments
    train = VideoFolder(root, split="train", **common)
    validation = VideoFolder(root, split="validation", **common)
    print(f"{len(train.classes)} classes, {len(train)} training and {len(validation)} validation "
          f"videos, {frames} frames each at {size}x{size}")

    model = build_model(len(train.classes), size)
    model.compile(optimizer=Adam(learning_rate=learning_rate), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    if verbose:
        model.summary()
    started = time.perf_counter()
    history = model.fit(
        FrameBatches(train, batch_size=batch_size, shuffle=True, seed=seed, **ahead),
        epochs=epochs, verbose=verbose, callbacks=[StopOnNonFiniteLoss()],
        validation_data=FrameBatches(validation, batch_size=batch_size, shuffle=False, **ahead),
    )
    seconds = time.perf_counter() - started

    scores = evaluate_videos(lambda x: model.predict(x, verbose=0), validation, batch_size=batch_size)
    print(f"validation accuracy: {scores['frame_accuracy']:.3f} per frame, "
          f"{scores['video_accuracy']:.3f} per video (frame predictions averaged over each video); "
          f"trained in {seconds:.0f} s")
    if not distribution.is_chief():  # distribution: rank 0 alone writes the results
        return history, scores

    meta = {"classes": list(train.classes), "frame_size": size, "num_frames": frames}
    plotted = save_run(out, model, meta, {"history": history.history, "seconds": seconds, **scores},
                       history.history)
    print(f"saved {out / WEIGHTS_FILE}, {out / 'model.json'}, {out / 'history.json'}"
          + (f", {plotted}" if plotted else " (pip install 'tinyvid[plot]' for history.png)"))
    return history, scores


class StopOnNonFiniteLoss(Callback):
    """Stop `fit` at the first batch whose loss is NaN or inf, with one clear error.

    Like Keras's TerminateOnNaN, but it raises (a ValueError) instead of finishing quietly,
    so the command saves nothing and exits with status 2: NaN weights are worth nothing.
    """

    def __init__(self) -> None:
        super().__init__()
        self.epoch = 0

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            raise ValueError(f"the loss became {loss} at epoch {self.epoch + 1}, batch {batch + 1}: "
                             f"training stopped and nothing was saved (try a lower "
                             f"--learning-rate)")


# --- the output folder, written as a unit -----------------------------------------------------


def save_run(out, model, meta, report, history):
    """Write the run's files into out/.tinyvid-run.tmp/, then move them into `out`.

    model.json goes last and records the SHA-256 of the weights it belongs with: a reader
    that finds new weights beside an older model.json (a run stopped while moving the files)
    is told so by `predict` instead of mixing the two. Returns the plot's path, or None.
    """
    out = pathlib.Path(out)
    staging = out / STAGING_FOLDER
    shutil.rmtree(staging, ignore_errors=True)  # left by a run that was killed here
    staging.mkdir()
    try:
        model.save_weights(staging / WEIGHTS_FILE)
        _write_json(staging / "history.json", report)
        plotted = _plot_history(history, staging / "history.png")
        _write_json(staging / "model.json", {**meta, "weights": WEIGHTS_FILE,
                                             "weights_sha256": _sha256(staging / WEIGHTS_FILE)})
        if plotted is None:
            (out / "history.png").unlink(missing_ok=True)  # an old run's plot: not this run's
        for name in ("history.png", "history.json", WEIGHTS_FILE, "model.json"):
            if (staging / name).exists():
                os.replace(staging / name, out / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return None if plotted is None else out / "history.png"


def check_writable_folder(folder):
    """Raise an OSError naming `folder` unless files can be created in it (or, when it does not
    exist yet, in the nearest folder above it that does): found before any work, not after."""
    folder = pathlib.Path(folder)
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise NotADirectoryError(f"{folder}: cannot be the output folder: {existing} is a file")
    probe = existing / f".tinyvid-write-probe-{os.getpid()}"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.remove(probe)
    except OSError as error:
        raise OSError(error.errno, f"{folder}: cannot write the output folder "
                                   f"({error.strerror or error}); choose another --out") from error


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def predict_videos(weights, videos, top=3):
    """Print the `top` most likely classes of each video, averaging over its frames."""
    from tinyvid.data.video import read_video

    weights = pathlib.Path(weights)
    if not weights.is_file():
        raise FileNotFoundError(f"{weights}: no such weights file")
    for video in videos:
        if not pathlib.Path(video).is_file():
            raise FileNotFoundError(f"{video}: no such video file")
    meta_path = weights.with_name(weights.name.replace(".weights.npz", "") + ".json")
    if not meta_path.exists():
        meta_path = weights.parent / "model.json"
    if not meta_path.exists():
        raise FileNotFoundError(f"{weights}: no model.json beside it (written by `tinyvid train`)")
    meta = read_model_json(meta_path)
    if meta.get("weights") == weights.name and meta.get("weights_sha256") != _sha256(weights):
        raise ValueError(f"{weights}: these are not the weights {meta_path} was written with (a run "
                         f"stopped while saving?); train again, or keep each run in its own --out")
    classes, size = meta["classes"], meta["frame_size"]
    model = build_model(len(classes), size)
    model.load_weights(weights)
    for video in videos:
        frames = read_video(video, num_frames=meta["num_frames"], size=(size, size))
        probabilities = model.predict(frames.astype(np.float32) / 255.0, verbose=0).mean(axis=0)
        best = np.argsort(probabilities)[::-1][:top]
        ranked = ", ".join(f"{classes[i]} {probabilities[i]:.2f}" for i in best)
        print(f"{video}: {ranked}")


def read_model_json(path):
    """The dict in a model.json written by `tinyvid train`, or a one-line ValueError naming it."""
    path = pathlib.Path(path)
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not a model.json written by `tinyvid train`: not UTF-8 text "
                         f"({error.reason} at byte {error.start})") from error
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not a model.json written by `tinyvid train`: invalid JSON "
                         f"({error.msg} at line {error.lineno} column {error.colno})") from error
    problem = _model_json_problem(meta)
    if problem:
        raise ValueError(f"{path}: not a model.json written by `tinyvid train`: {problem}")
    return meta


def _model_json_problem(meta):
    """What is wrong with a parsed model.json, or None."""
    if not isinstance(meta, dict):
        return f"expected an object with classes, frame_size and num_frames, found {type(meta).__name__}"
    missing = [key for key in ("classes", "frame_size", "num_frames") if key not in meta]
    if missing:
        return (f"missing {', '.join(repr(key) for key in missing)} (expected the keys classes, "
                f"frame_size and num_frames)")
    classes = meta["classes"]
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
        return f"'classes' must be a non-empty list of class names, found {classes!r}"
    for key, least in (("frame_size", MIN_SIZE), ("num_frames", 1)):
        value = meta[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            return f"'{key}' must be an integer >= {least}, found {value!r}"
    return None


def cache_folder(root, out, frames=8, size=64):
    """Decode every video under root into the frame cache `train` reads (OUT/frame-cache), so
    that training does not decode. Under mpiexec each rank decodes every N-th video; the cache
    is safe to fill from several ranks or machines at once (see VideoFolder._store)."""
    from tinyvid.datasets import VideoFolder

    folder = VideoFolder(root, num_frames=frames, size=(size, size),
                         cache_dir=pathlib.Path(out) / "frame-cache")
    rank, ranks = distribution.shard()
    mine = range(rank, len(folder), ranks)
    decoded = sum(folder.read_or_skip(i)[0] is not None for i in mine)
    decoded, skipped = distribution.sum_over_ranks([decoded, len(mine) - decoded])
    print(f"cached {decoded:.0f} of {len(folder)} videos ({frames} frames at {size}x{size}) in "
          f"{folder.cache_dir}" + (f"; {skipped:.0f} could not be read" if skipped else ""))


def _data_parallel_if_launched():
    """Under `mpiexec -n N` with N > 1, turn on DataParallel; only rank 0 prints after this."""
    if (distribution.launched_size() or 1) < 2:
        return
    try:
        data_parallel = distribution.DataParallel()
    except ImportError as error:  # every rank stops: none trains alone on the whole data
        raise SystemExit(f"tinyvid: started by mpiexec, but {error}") from error
    distribution.set_distribution(data_parallel)
    if data_parallel.rank == 0:
        print(f"data-parallel on {data_parallel.num_processes} MPI ranks "
              f"(tinyvid.distribution.DataParallel)", flush=True)
    else:
        sys.stdout = open(os.devnull, "w")  # the other ranks' lines would repeat rank 0's


# --- helpers ---------------------------------------------------------------------------------


def _write_json(path, data):
    """Write JSON atomically: a temporary file renamed over the old one."""
    text = json.dumps(data, indent=2, default=float).encode("utf-8")
    atomic_write(path, lambda file: file.write(text))


def _plot_history(history, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        return None
    epochs = range(1, len(history["loss"]) + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    for key, axis in (("loss", left), ("accuracy", right)):
        for prefix, style in (("", "o-"), ("val_", "s--")):
            if prefix + key in history:
                axis.plot(epochs, history[prefix + key], style, label=(prefix or "train_").rstrip("_"))
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))  # no epoch 1.5
        axis.set_title(key)
        axis.legend()
    fig.tight_layout()
    try:
        atomic_write(path, lambda file: fig.savefig(file, format="png", dpi=100))
    finally:
        plt.close(fig)
    return path


# --- argument parsing ------------------------------------------------------------------------


def _parser():
    parser = argparse.ArgumentParser(prog="tinyvid", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo", help="make the built-in moving-shapes videos and train the document's model on them",
        description="Make a small dataset of moving-shape videos (once), read it back through the "
                    "video reader, train the source document's model on it and report frame- and "
                    "video-level validation accuracy.")
    demo.add_argument("--out", default="tinyvid-demo", help="folder for the dataset and results (default: %(default)s)")
    demo.add_argument("--epochs", type=int, default=DEMO_EPOCHS, help="passes over the training frames (default: %(default)s)")
    demo.add_argument("--videos-per-class", type=int, default=None, help="dataset size (default: the dataset's own)")
    demo.add_argument("--seed", type=int, default=0, help="seed for the data, weights and shuffling (default: %(default)s)")

    train = commands.add_parser(
        "train", help="train the document's model on a class-per-folder video tree",
        description="Train on ROOT, laid out as ROOT/<class name>/<video files> (as UCF101 is).")
    train.add_argument("root", help="folder with one sub-folder of videos per class")
    train.add_argument("--frames", type=int, default=8, help="frames sampled evenly from each video (default: %(default)s)")
    train.add_argument("--size", type=int, default=64, help="frames are resized to SIZE x SIZE (default: %(default)s)")
    train.add_argument("--epochs", type=int, default=10, help="passes over the training frames (default: %(default)s)")
    train.add_argument("--batch-size", type=int, default=32, help="frames per optimizer step (default: %(default)s)")
    train.add_argument("--learning-rate", type=float, default=0.001, help="Adam's learning rate (default: %(default)s)")
    train.add_argument("--seed", type=int, default=0, help="seed for the split, weights and shuffling (default: %(default)s)")
    train.add_argument("--out", default="tinyvid-out", help="folder for weights, history and plot (default: %(default)s)")
    train.add_argument("--workers", type=int, default=2, help="processes decoding videos ahead of training; 0 decodes in the training loop (default: %(default)s)")
    train.add_argument("--cache-max-bytes", type=_byte_count, default=None, help="bound on the frame cache in --out, e.g. 500M or 2G (default: no bound)")

    cache = commands.add_parser(
        "cache", help="decode every video of a class-per-folder tree into train's frame cache",
        description="Decode each video under ROOT once into OUT/frame-cache, where `tinyvid train "
                    "ROOT --out OUT` with the same --frames and --size reads it. Under "
                    "`mpiexec -n N` the videos are split across the N ranks.")
    cache.add_argument("root", help="folder with one sub-folder of videos per class")
    cache.add_argument("--frames", type=int, default=8, help="frames sampled evenly from each video (default: %(default)s)")
    cache.add_argument("--size", type=int, default=64, help="frames are resized to SIZE x SIZE (default: %(default)s)")
    cache.add_argument("--out", default="tinyvid-out", help="the train run's --out folder; the cache is OUT/frame-cache (default: %(default)s)")

    predict = commands.add_parser("predict", help="print the top classes of videos with trained weights")
    predict.add_argument("weights", help="a model.weights.npz written by `tinyvid train` or `tinyvid demo`")
    predict.add_argument("videos", nargs="+", help="video files")
    predict.add_argument("--top", type=int, default=3, help="how many classes to print (default: %(default)s)")
    return parser


def _byte_count(text):
    """'2G', '500M', '64K' or a number of bytes -> int (argparse reports a ValueError)."""
    scale = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}.get(text[-1:].upper(), 1)
    number = int(float(text[:-1] if scale > 1 else text) * scale)
    if number < 0:
        raise ValueError(text)
    return number


def _check_arguments(parser, args):
    """Refuse a bad value of any argument before any work: `parser.error` (exit status 2)."""
    positive = {"demo": ("epochs", "videos_per_class"),
                "train": ("frames", "size", "epochs", "batch_size"),
                "predict": ("top",), "cache": ("frames", "size")}[args.command]
    for name in positive:
        value = getattr(args, name)
        if value is not None and value <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive, got {value}")
    if args.command == "train":
        rate = args.learning_rate
        if not math.isfinite(rate) or rate <= 0:
            parser.error(f"--learning-rate must be a finite positive number, got {rate}")
        if args.workers < 0:
            parser.error(f"--workers must be 0 or more, got {args.workers}")
        if args.size < MIN_SIZE:
            parser.error(f"--size must be at least {MIN_SIZE} (the model's two 3x3 convolutions "
                         f"take 4 pixels off each side length), got {args.size}")
    if getattr(args, "seed", 0) < 0:
        parser.error(f"--seed must be 0 or more, got {args.seed}")


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Warnings as one line each, as the command's errors are (not Python's source excerpt)."""
    print(f"tinyvid: warning: {message}", file=sys.stderr)


def _settle_memory():
    """Freeze what is alive now (modules, numba's compiled kernels) out of the garbage collector.

    imageio's PyAV plugin runs a full gc.collect() every time it closes a video, and a full
    collection walks every tracked object: with the libraries loaded that made reading the demo's
    180 videos 6.6x slower (4.8 s against 0.73 s frozen). The command owns its process and these
    objects live until it ends anyway, so they need not be walked again.
    """
    gc.collect()
    gc.freeze()


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    _check_arguments(parser, args)  # every value, before anything is read or written
    if argv is None:  # run as the `tinyvid` command, not called from someone's Python session
        _settle_memory()
    if args.command in ("train", "cache"):
        _data_parallel_if_launched()
    with warnings.catch_warnings():  # restores showwarning when main returns
        warnings.showwarning = _show_warning
        try:
            return _run(args)
        except (OSError, ValueError) as error:  # bad paths, unreadable videos, NaN loss, ...
            print(f"tinyvid {args.command}: error: {error}", file=sys.stderr)
            distribution.abort_if_parallel(f"tinyvid {args.command} failed", 2)  # the others wait
            return 2
        except KeyboardInterrupt:
            print(f"tinyvid {args.command}: interrupted", file=sys.stderr)
            return 130


def _run(args):
    """The command itself, once its arguments are known to be good; returns the exit status."""
    if args.command in ("train", "cache") and not pathlib.Path(args.root).is_dir():
        raise FileNotFoundError(f"{args.root}: no such folder")
    if args.command in ("demo", "train"):
        check_writable_folder(args.out)  # before the tree is scanned or a video is made
        from tinyvid.kernels import tune_for_training

        tune_for_training()  # numba's threading layer and malloc's reuse: kernels/process.py
    if args.command == "demo":
        from tinyvid.datasets import make_moving_shapes

        out = pathlib.Path(args.out)
        extra = {} if args.videos_per_class is None else {"videos_per_class": args.videos_per_class}
        root = make_moving_shapes(out / "moving-shapes", seed=args.seed, **extra)
        train_on_folder(root, out, epochs=args.epochs, seed=args.seed)
    elif args.command == "train":
        train_on_folder(args.root, args.out, frames=args.frames, size=args.size, epochs=args.epochs,
                        batch_size=args.batch_size, learning_rate=args.learning_rate, seed=args.seed,
                        workers=args.workers, cache_max_bytes=args.cache_max_bytes)
    elif args.command == "predict":
        predict_videos(args.weights, args.videos, top=args.top)
    elif args.command == "cache":
        cache_folder(args.root, args.out, frames=args.frames, size=args.size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
