"""The `tinyvid` command: `demo`, `train`, `predict` and `cache`.

    tinyvid demo                      the motion dataset: the single-frame model vs slow fusion
    tinyvid train ROOT [--model NAME] train on any class-per-folder tree of videos
    tinyvid predict WEIGHTS VIDEO...  print the top classes for each video
    tinyvid cache ROOT                decode every video once into train's frame cache

`mpiexec -n N tinyvid train ROOT` (and `cache`) runs on N MPI ranks: data-parallel training
(tinyvid.distribution.DataParallel), and the videos to decode split across the ranks.

`--model` is one of tinyvid.applications.MODELS (default single_frame, the document's model on
frame batches); the clip models train on ClipBatches (tinyvid/training/video_training.py).

Every run writes into --out: the weights (model.weights.npz), what is needed to rebuild the
model for `predict` (model.json: model, classes, frame size, frames per video, sampling), the
history (history.json) and, with matplotlib installed, plots of loss and accuracy (history.png)
and of the validation videos' confusion matrix (confusion.png).
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

import numpy as np

from tinyvid import distribution
from tinyvid.training import video_training
from tinyvid.training.files import atomic_write
from tinyvid.training.metrics import confusion_matrix, plot_confusion_matrix
from tinyvid.training.video_training import StopOnNonFiniteLoss, read_model_json

DEMO_VIDEOS_PER_CLASS = 32
# Each demo model's frames per video, batch size, learning rate and epochs: slow fusion needs
# many small steps to start learning motion; the single-frame model cannot learn it at all, and
# costs 8x more per frame seen, so it sees 4 frames of each video for 3 epochs.
DEMO_RUNS = {"single_frame": {"frames": 4, "batch_size": 16, "learning_rate": 0.001, "epochs": 3},
             "slow_fusion": {"frames": 8, "batch_size": 8, "learning_rate": 0.001, "epochs": 15}}
WEIGHTS_FILE = "model.weights.npz"
STAGING_FOLDER = ".tinyvid-run.tmp"  # inside --out: the run's files before they are published
MIN_SIZE = video_training.MINIMUM_SHAPES["single_frame"][1]  # SIZE - 4 pixels a side are left


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
                    seed=0, verbose=1, workers=2, cache_max_bytes=None, model="single_frame",
                    sampling="even"):
    """Train model `model` (tinyvid.applications.MODELS) on a class-per-folder video tree; save
    and report the results, with the validation videos' confusion matrix.

    workers: processes decoding the videos of the next batches while the model trains (0: the
    training loop decodes each video itself); cache_max_bytes bounds the frame
    cache in --out; sampling: which frames make a clip ("even" or "segments", clip models).

    Raises:
        OSError: when `out` cannot be written (found before any video is read).
        ValueError: when the loss becomes NaN or inf (nothing is saved then).
    """
    from tinyvid.optimizers import Adam
    from tinyvid.utils import set_random_seed

    name = model
    out = pathlib.Path(out)
    check_writable_folder(out)
    out.mkdir(parents=True, exist_ok=True)
    set_random_seed(seed)
    train, validation = video_training.video_folders(
        name, root, frames, size, seed, out / "frame-cache", cache_max_bytes)
    print(f"{len(train.classes)} classes, {len(train)} training and {len(validation)} validation "
          f"videos, {frames} frames each at {size}x{size}, model {name}")

    if name == "single_frame":
        network = build_model(len(train.classes), size)
    else:
        network = video_training.build_video_model(name, len(train.classes), frames, size)
    network.compile(optimizer=Adam(learning_rate=learning_rate), loss="categorical_crossentropy",
                    metrics=["accuracy"])
    if verbose:
        network.summary()
    started = time.perf_counter()
    history = network.fit(
        video_training.batches_for(name, train, frames, batch_size, True, seed, workers, sampling),
        epochs=epochs, verbose=verbose, callbacks=[StopOnNonFiniteLoss()],
        validation_data=video_training.batches_for(name, validation, frames, batch_size, False,
                                                   seed, workers, sampling),
    )
    seconds = time.perf_counter() - started

    scores = video_training.evaluate_video_model(name, network, validation, frames, batch_size,
                                                 sampling)
    labels, predictions = scores.pop("labels"), scores.pop("predictions")
    if "frame_accuracy" in scores:
        print(f"validation accuracy: {scores['frame_accuracy']:.3f} per frame, "
              f"{scores['video_accuracy']:.3f} per video (frame predictions averaged over each "
              f"video); trained in {seconds:.0f} s")
    else:
        print(f"validation accuracy: {scores['video_accuracy']:.3f} per video (one clip per "
              f"video); trained in {seconds:.0f} s")
    matrix = confusion_matrix(labels, predictions, len(train.classes))
    print(video_training.format_confusion(matrix, list(train.classes)))
    if not distribution.is_chief():  # distribution: rank 0 alone writes the results
        return history, scores

    meta = {"model": name, "classes": list(train.classes), "frame_size": size,
            "num_frames": frames, "sampling": sampling}
    report = {"model": name, "history": history.history, "seconds": seconds, **scores,
              "confusion_matrix": matrix.tolist()}
    plotted = save_run(out, network, meta, report, history.history, (matrix, list(train.classes)))
    print(f"saved {out / WEIGHTS_FILE}, {out / 'model.json'}, {out / 'history.json'}"
          + (f", {', '.join(map(str, plotted))}" if plotted
             else " (pip install 'tinyvid[plot]' for history.png and confusion.png)"))
    return history, scores


def run_demo(out, epochs=None, videos_per_class=DEMO_VIDEOS_PER_CLASS, seed=0):
    """Make the motion dataset (classes only motion separates) and train the single-frame model
    and slow fusion on it, each into OUT/<model>/; print both accuracies side by side and plot
    both learning curves in OUT/demo.png. `epochs` (for both models) replaces DEMO_RUNS' own.

    Returns:
        {model name: video-level validation accuracy}.
    """
    from tinyvid.datasets import MOTION_CLASSES, make_motion_shapes

    out = pathlib.Path(out)
    root = make_motion_shapes(out / "motion-shapes", videos_per_class=videos_per_class,
                              num_frames=16, size=32, seed=seed)
    accuracies, histories, seconds = {}, {}, {}
    for name, run in DEMO_RUNS.items():
        print(f"--- {name} ---")
        started = time.perf_counter()
        history, scores = train_on_folder(root, out / name, size=32, seed=seed, verbose=1,
                                          model=name, **{**run, **({} if epochs is None else
                                                                   {"epochs": epochs})})
        accuracies[name], histories[name] = scores["video_accuracy"], history.history
        seconds[name] = time.perf_counter() - started
    print(f"validation accuracy per video on the motion dataset ({len(MOTION_CLASSES)} classes, "
          f"chance {1 / len(MOTION_CLASSES):.3f}):")
    for name in DEMO_RUNS:
        print(f"  {name:<14} {accuracies[name]:.3f}   ({seconds[name]:.0f} s)")
    plotted = video_training.plot_histories(histories, out / "demo.png")
    _write_json(out / "demo.json", {"video_accuracy": accuracies, "seconds": seconds})
    print(f"saved {out / 'demo.json'}" + (f" and {plotted} (both learning curves)" if plotted
                                         else ""))
    return accuracies


# --- the output folder, written as a unit -----------------------------------------------------


def save_run(out, model, meta, report, history, confusion=None):
    """Write the run's files into out/.tinyvid-run.tmp/, then move them into `out`.

    model.json goes last and records the SHA-256 of the weights it belongs with: a reader
    that finds new weights beside an older model.json (a run stopped while moving the files)
    is told so by `predict` instead of mixing the two. `confusion` is (matrix, class names) for
    confusion.png. Returns the plots' paths (none without matplotlib).
    """
    out = pathlib.Path(out)
    staging = out / STAGING_FOLDER
    shutil.rmtree(staging, ignore_errors=True)  # left by a run that was killed here
    staging.mkdir()
    try:
        model.save_weights(staging / WEIGHTS_FILE)
        _write_json(staging / "history.json", report)
        plots = ["history.png", "confusion.png"]
        _plot_history(history, staging / "history.png")
        if confusion is not None:
            plot_confusion_matrix(confusion[0], confusion[1], staging / "confusion.png")
        _write_json(staging / "model.json", {**meta, "weights": WEIGHTS_FILE,
                                             "weights_sha256": _sha256(staging / WEIGHTS_FILE)})
        for name in plots:
            if not (staging / name).exists():
                (out / name).unlink(missing_ok=True)  # an old run's plot: not this run's
        for name in (*plots, "history.json", WEIGHTS_FILE, "model.json"):
            if (staging / name).exists():
                os.replace(staging / name, out / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [out / name for name in plots if (out / name).exists()]


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
    """Print the `top` most likely classes of each video, with the model model.json names
    (single_frame when it names none: written before there was a choice)."""
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
    classes, size, frames = meta["classes"], meta["frame_size"], meta["num_frames"]
    name, sampling = meta.get("model", "single_frame"), meta.get("sampling", "even")
    if name == "single_frame":
        model = build_model(len(classes), size)
    else:
        model = video_training.build_video_model(name, len(classes), frames, size)
    model.load_weights(weights)
    for video in videos:
        probabilities = video_training.predict_video(name, model, video, frames, size, sampling)
        best = np.argsort(probabilities)[::-1][:top]
        ranked = ", ".join(f"{classes[i]} {probabilities[i]:.2f}" for i in best)
        print(f"{video}: {ranked}")


def cache_folder(root, out, frames=8, size=64, model="single_frame"):
    """Decode every video under root into the frame cache `train --model MODEL` reads
    (OUT/frame-cache), so that training does not decode: `frames` frames per video for a frame
    model, every frame for a clip model (its batches choose the clip's frames each epoch).
    Under mpiexec each rank decodes every N-th video; the cache is safe to fill from several
    ranks or machines at once (see VideoFolder._store)."""
    from tinyvid.datasets import VideoFolder

    clips = video_training.takes_clips(model)
    folder = VideoFolder(root, num_frames=None if clips else frames, size=(size, size),
                         cache_dir=pathlib.Path(out) / "frame-cache")
    rank, ranks = distribution.shard()
    mine = range(rank, len(folder), ranks)
    decoded = sum(folder.read_or_skip(i)[0] is not None for i in mine)
    decoded, skipped = distribution.sum_over_ranks([decoded, len(mine) - decoded])
    what = "every frame" if clips else f"{frames} frames"
    print(f"cached {decoded:.0f} of {len(folder)} videos ({what} at {size}x{size}, for {model}) "
          f"in {folder.cache_dir}" + (f"; {skipped:.0f} could not be read" if skipped else ""))


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
    """Loss and accuracy per epoch of one run (history.png); None without matplotlib."""
    return video_training.plot_histories({"run": history}, path)


# --- argument parsing ------------------------------------------------------------------------


def _parser():
    parser = argparse.ArgumentParser(prog="tinyvid", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo", help="the motion dataset: the single-frame model against slow fusion",
        description="Make the motion-shapes videos (once; 8 classes that only motion tells apart), "
                    "train the single-frame model and slow fusion on them (into OUT/single_frame "
                    "and OUT/slow_fusion), print both video accuracies side by side and plot both "
                    "learning curves in OUT/demo.png.")
    demo.add_argument("--out", default="tinyvid-demo", help="folder for the dataset and results (default: %(default)s)")
    demo.add_argument("--epochs", type=int, default=None, help="passes over the training data, for both models (default: 3 for single_frame, 15 for slow_fusion)")
    demo.add_argument("--videos-per-class", type=int, default=DEMO_VIDEOS_PER_CLASS, help="dataset size (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=0, help="seed for the data, weights and shuffling (default: %(default)s)")

    train = commands.add_parser(
        "train", help="train a video model on a class-per-folder video tree",
        description="Train on ROOT, laid out as ROOT/<class name>/<video files> (as UCF101 is).")
    train.add_argument("root", help="folder with one sub-folder of videos per class")
    train.add_argument("--model", choices=list(video_training.MINIMUM_SHAPES), default="single_frame", help="tinyvid.applications model; single_frame trains on frames, the others on clips (default: %(default)s)")
    train.add_argument("--sampling", choices=video_training.SAMPLINGS, default="even", help="clip models: frames spread evenly, or one per segment as in TSN (default: %(default)s)")
    train.add_argument("--frames", type=int, default=8, help="frames sampled from each video; a clip model's clip length (default: %(default)s)")
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
                    "ROOT --out OUT` with the same --model, --frames and --size reads it. Under "
                    "`mpiexec -n N` the videos are split across the N ranks.")
    cache.add_argument("root", help="folder with one sub-folder of videos per class")
    cache.add_argument("--frames", type=int, default=8, help="frames sampled evenly from each video (default: %(default)s)")
    cache.add_argument("--size", type=int, default=64, help="frames are resized to SIZE x SIZE (default: %(default)s)")
    cache.add_argument("--model", choices=list(video_training.MINIMUM_SHAPES), default="single_frame", help="the model train will run: a frame model's cache holds --frames frames per video, a clip model's every frame (default: %(default)s)")
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
        problem = video_training.shape_problem(args.model, args.frames, args.size)
        if problem:
            parser.error(problem)
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
        run_demo(args.out, epochs=args.epochs, videos_per_class=args.videos_per_class,
                 seed=args.seed)
    elif args.command == "train":
        train_on_folder(args.root, args.out, frames=args.frames, size=args.size, epochs=args.epochs,
                        batch_size=args.batch_size, learning_rate=args.learning_rate, seed=args.seed,
                        workers=args.workers, cache_max_bytes=args.cache_max_bytes,
                        model=args.model, sampling=args.sampling)
    elif args.command == "predict":
        predict_videos(args.weights, args.videos, top=args.top)
    elif args.command == "cache":
        cache_folder(args.root, args.out, frames=args.frames, size=args.size, model=args.model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
