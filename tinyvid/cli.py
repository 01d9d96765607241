"""The `tinyvid` command: `demo`, `train` and `predict`.

    tinyvid demo                      make a small video dataset, train the document's model on it
    tinyvid train ROOT                train on any class-per-folder tree of videos
    tinyvid predict WEIGHTS VIDEO...  print the top classes for each video

Every run writes into --out: the weights (model.weights.npz), what is needed to rebuild the
model for `predict` (model.json: classes, frame size, frames per video), the history
(history.json) and, with matplotlib installed, a plot of loss and accuracy (history.png).
Bad paths and unreadable videos end with one clear line on stderr and exit status 2.
"""

import argparse
import gc
import json
import os
import pathlib
import sys
import time

import numpy as np

DEMO_EPOCHS = 5


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
    """
    from tinyvid.datasets import FrameBatches, VideoFolder, evaluate_videos
    from tinyvid.optimizers import Adam
    from tinyvid.utils import set_random_seed

    out = pathlib.Path(out)
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
        epochs=epochs, verbose=verbose,
        validation_data=FrameBatches(validation, batch_size=batch_size, shuffle=False, **ahead),
    )
    seconds = time.perf_counter() - started

    scores = evaluate_videos(lambda x: model.predict(x, verbose=0), validation, batch_size=batch_size)
    print(f"validation accuracy: {scores['frame_accuracy']:.3f} per frame, "
          f"{scores['video_accuracy']:.3f} per video (frame predictions averaged over each video); "
          f"trained in {seconds:.0f} s")

    model.save_weights(out / "model.weights.npz")
    _write_json(out / "model.json", {"classes": list(train.classes), "frame_size": size,
                                     "num_frames": frames})
    _write_json(out / "history.json", {"history": history.history, "seconds": seconds, **scores})
    plotted = _plot_history(history.history, out / "history.png")
    print(f"saved {out / 'model.weights.npz'}, {out / 'model.json'}, {out / 'history.json'}"
          + (f", {plotted}" if plotted else " (pip install 'tinyvid[plot]' for history.png)"))
    return history, scores


def predict_videos(weights, videos, top=3):
    """Print the `top` most likely classes of each video, averaging over its frames."""
    from tinyvid.data.video import read_video

    weights = pathlib.Path(weights)
    meta_path = weights.with_name(weights.name.replace(".weights.npz", "") + ".json")
    if not meta_path.exists():
        meta_path = weights.parent / "model.json"
    if not meta_path.exists():
        raise FileNotFoundError(f"{weights}: no model.json beside it (written by `tinyvid train`)")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    classes, size = meta["classes"], meta["frame_size"]
    model = build_model(len(classes), size)
    model.load_weights(weights)
    for video in videos:
        frames = read_video(video, num_frames=meta["num_frames"], size=(size, size))
        probabilities = model.predict(frames.astype(np.float32) / 255.0, verbose=0).mean(axis=0)
        best = np.argsort(probabilities)[::-1][:top]
        ranked = ", ".join(f"{classes[i]} {probabilities[i]:.2f}" for i in best)
        print(f"{video}: {ranked}")


# --- helpers ---------------------------------------------------------------------------------


def _write_json(path, data):
    """Write JSON atomically: a temporary file renamed over the old one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=float), encoding="utf-8")
    os.replace(tmp, path)


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
    tmp = path.with_name("tmp-" + path.name)
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)
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


def _positive(parser, **values):
    for name, value in values.items():
        if value is not None and value <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive, got {value}")


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
    if argv is None:  # run as the `tinyvid` command, not called from someone's Python session
        _settle_memory()
    if args.command in ("demo", "train"):
        from tinyvid.kernels import tune_for_training

        tune_for_training()  # numba's threading layer and malloc's reuse: kernels/process.py
    try:
        if args.command == "demo":
            from tinyvid.datasets import make_moving_shapes

            _positive(parser, epochs=args.epochs, videos_per_class=args.videos_per_class)
            out = pathlib.Path(args.out)
            extra = {} if args.videos_per_class is None else {"videos_per_class": args.videos_per_class}
            root = make_moving_shapes(out / "moving-shapes", seed=args.seed, **extra)
            train_on_folder(root, out, epochs=args.epochs, seed=args.seed)
        elif args.command == "train":
            _positive(parser, frames=args.frames, size=args.size, epochs=args.epochs,
                      batch_size=args.batch_size, learning_rate=args.learning_rate)
            if not pathlib.Path(args.root).is_dir():
                raise FileNotFoundError(f"{args.root}: no such folder")
            if args.workers < 0:
                parser.error(f"--workers must be 0 or more, got {args.workers}")
            train_on_folder(args.root, args.out, frames=args.frames, size=args.size, epochs=args.epochs,
                            batch_size=args.batch_size, learning_rate=args.learning_rate, seed=args.seed,
                            workers=args.workers, cache_max_bytes=args.cache_max_bytes)
        elif args.command == "predict":
            _positive(parser, top=args.top)
            predict_videos(args.weights, args.videos, top=args.top)
    except (OSError, ValueError) as error:  # bad paths, unreadable videos, mismatched weights
        print(f"tinyvid {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"tinyvid {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
