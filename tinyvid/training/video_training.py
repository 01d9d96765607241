"""Training any of tinyvid.applications' video models on a VideoFolder, for `tinyvid train`.

    frame models (single_frame)   FrameBatches of single frames; a video's prediction is the
                                  mean of its frames' probabilities (evaluate_videos)
    clip models (the others)      ClipBatches of whole clips, one prediction per video
                                  (evaluate_clips); the recurrent ones (cnn_gru, cnn_lstm) take
                                  [clips, mask], so a short video is padded and masked

A clip model's VideoFolder reads every frame of a video (num_frames=None): ClipBatches then
chooses T frames by `sampling` ("even" or "segments") and pads a video shorter than T with zero
frames, which the mask marks. `clip_of_video` does the same for one video at predict time.

The command line (tinyvid/cli.py) owns the arguments and the output folder; this module owns
the models and the data they take.
"""

import json
import math
import pathlib
from typing import Any

import numpy as np

from tinyvid.training.callbacks import Callback

SAMPLINGS = ("even", "segments")

MINIMUM_SHAPES = {  # (frames, size): the least each model's layers leave a positive output for
    "single_frame": (1, 5),
    "early_fusion": (1, 6),
    "late_fusion": (1, 10),
    "slow_fusion": (8, 18),
    "c3d": (8, 16),
    "cnn_gru": (1, 10),
    "cnn_lstm": (1, 10),
}


def takes_clips(name: str) -> bool:
    """Whether model `name` takes clips (batch, T, h, w, 3) rather than frames."""
    from tinyvid.applications import CLIP_MODELS

    return name in CLIP_MODELS


def takes_mask(name: str) -> bool:
    """Whether model `name` takes [clips, mask] (the recurrent models)."""
    from tinyvid.applications import RECURRENT_MODELS

    return name in RECURRENT_MODELS


def shape_problem(name: str, frames: int, size: int) -> str | None:
    """Why `--frames frames --size size` cannot feed model `name`, or None when they can."""
    least_frames, least_size = MINIMUM_SHAPES[name]
    if frames < least_frames:
        return f"--model {name} needs --frames {least_frames} or more, got {frames}"
    if size < least_size:
        return f"--model {name} needs --size {least_size} or more, got {size}"
    return None


def build_video_model(name: str, num_classes: int, frames: int, size: int) -> Any:
    """tinyvid.applications' model `name` for `frames` frames of size x size pixels."""
    from tinyvid.applications import MODELS

    return MODELS[name](num_classes, num_frames=frames, frame_size=size)


def video_folders(name: str, root: Any, frames: int, size: int, seed: int, cache_dir: Any,
                  cache_max_bytes: int | None) -> tuple[Any, Any]:
    """The training and validation VideoFolders for model `name`: a frame model reads `frames`
    frames per video, a clip model every frame (ClipBatches chooses, pads and masks)."""
    from tinyvid.datasets import VideoFolder

    common = {"num_frames": None if takes_clips(name) else frames, "size": (size, size),
              "seed": seed, "cache_dir": cache_dir, "cache_max_bytes": cache_max_bytes}
    return (VideoFolder(root, split="train", **common),
            VideoFolder(root, split="validation", **common))


def batches_for(name: str, folder: Any, frames: int, batch_size: int, shuffle: bool, seed: int,
                workers: int, sampling: str = "even") -> Any:
    """FrameBatches (frame models) or ClipBatches (clip models) over `folder`, with `workers`
    processes decoding the videos of the next batches ahead of training (0: none)."""
    from tinyvid.datasets import ClipBatches, FrameBatches

    if not takes_clips(name):
        return FrameBatches(folder, batch_size=batch_size, shuffle=shuffle, seed=seed,
                            workers=workers, use_multiprocessing=workers > 0)
    return ClipBatches(folder, batch_size=batch_size, shuffle=shuffle, seed=seed,
                       num_frames=frames, sampling=sampling, return_mask=takes_mask(name),
                       workers=workers, use_multiprocessing=workers > 0)


def evaluate_video_model(name: str, model: Any, folder: Any, frames: int, batch_size: int,
                         sampling: str = "even") -> dict[str, Any]:
    """Video-level scores of `model` on `folder`, with each video's label and prediction.

    Returns:
        dict with "video_accuracy", "num_videos", "labels" and "predictions" (int64 arrays
        (num_videos,)); a frame model's also has "frame_accuracy" and "num_frames".
    """
    from tinyvid.datasets import evaluate_clips, evaluate_videos

    def predict(x: Any) -> Any:
        return model.predict(list(x) if isinstance(x, tuple) else x, verbose=0)

    if not takes_clips(name):
        return evaluate_videos(predict, folder, batch_size=batch_size, return_predictions=True)
    batches = batches_for(name, folder, frames, batch_size, shuffle=False, seed=0, workers=0,
                          sampling=sampling)
    return evaluate_clips(predict, batches, return_predictions=True)


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


def clip_of_video(frames: np.ndarray, num_frames: int, sampling: str = "even"
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The clip ClipBatches gives in validation for one video's frames (count, h, w, 3).

    Returns:
        clip (num_frames, h, w, 3), zero frames after a short video's end, and its mask
        (num_frames,) bool, True for a real frame.
    """
    from tinyvid.datasets import sample_indices, segment_indices

    count = len(frames)
    if count < num_frames:
        padding = np.zeros((num_frames - count,) + frames.shape[1:], dtype=frames.dtype)
        return np.concatenate([frames, padding]), np.arange(num_frames) < count
    indices = (segment_indices(count, num_frames) if sampling == "segments"
               else sample_indices(count, num_frames))
    return frames[indices], np.ones(num_frames, dtype=bool)


def predict_video(name: str, model: Any, path: Any, frames: int, size: int,
                  sampling: str = "even") -> np.ndarray:
    """Class probabilities (num_classes,) of one video file, as model `name` sees a video."""
    from tinyvid.data.video import read_video

    if not takes_clips(name):
        x = read_video(path, num_frames=frames, size=(size, size)).astype(np.float32) / 255.0
        return np.asarray(model.predict(x, verbose=0)).mean(axis=0)
    clip, mask = clip_of_video(read_video(path, size=(size, size)), frames, sampling)
    x = clip[None].astype(np.float32) / np.float32(255)
    inputs = [x, mask[None]] if takes_mask(name) else x
    return np.asarray(model.predict(inputs, verbose=0))[0]


def format_confusion(matrix: np.ndarray, classes: list[str]) -> str:
    """The confusion matrix as text: row i is true class i (named), column j predicted class j."""
    name_width = max(len(c) for c in classes) + len(str(len(classes))) + 3
    width = max(3, len(str(int(matrix.max(initial=0)))) + 1)
    header = " " * name_width + "".join(f"{j:>{width}}" for j in range(len(classes)))
    rows = [f"{f'{c} ({i})':>{name_width}}" + "".join(f"{n:>{width}d}" for n in row)
            for i, (c, row) in enumerate(zip(classes, matrix))]
    return "\n".join(["confusion matrix of the validation videos (rows: true class, columns: "
                      "predicted class):", header, *rows])


# --- model.json: what `tinyvid predict` needs to rebuild the model -----------------------------


def read_model_json(path: Any) -> dict[str, Any]:
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


def _model_json_problem(meta: Any) -> str | None:
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
    for key, least in (("frame_size", MINIMUM_SHAPES["single_frame"][1]), ("num_frames", 1)):
        value = meta[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            return f"'{key}' must be an integer >= {least}, found {value!r}"
    name = meta.get("model", "single_frame")
    if name not in MINIMUM_SHAPES:
        return (f"'model' must be one of {', '.join(MINIMUM_SHAPES)}, "
                f"found {name!r}")
    if meta.get("sampling", "even") not in SAMPLINGS:
        return f"'sampling' must be one of {SAMPLINGS}, found {meta['sampling']!r}"
    problem = shape_problem(name, meta["num_frames"], meta["frame_size"])
    return problem and problem.replace("--frames", "num_frames").replace("--size", "frame_size")


def plot_histories(histories: dict[str, dict[str, list[float]]], path: Any) -> Any:
    """Loss and accuracy per epoch of one or more runs in one PNG (left loss, right accuracy),
    training solid and validation dashed; runs are told apart by colour and named in the legend
    (a single run is named by train/val alone). Written atomically; returns `path`, or None
    when matplotlib is not installed (nothing is written then)."""
    try:  # the object API: no pyplot, so no process-wide backend or figure state
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        return None
    from tinyvid.training.files import atomic_write

    fig = Figure(figsize=(9, 3.5))
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    for key, axis in (("loss", left), ("accuracy", right)):
        for number, (run, history) in enumerate(histories.items()):
            epochs = range(1, len(history["loss"]) + 1)
            for prefix, style in (("", "o-"), ("val_", "s--")):
                if prefix + key in history:
                    label = (prefix or "train_").rstrip("_")
                    axis.plot(epochs, history[prefix + key], style, color=f"C{number}",
                              label=label if len(histories) == 1 else f"{run} {label}")
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))  # no epoch 1.5
        axis.set_title(key)
        axis.legend(fontsize="small")
    fig.tight_layout()
    atomic_write(path, lambda file: fig.savefig(file, format="png", dpi=100))
    return path
