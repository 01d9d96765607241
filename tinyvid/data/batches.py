"""Batches for `fit` from a VideoFolder, and the video-level evaluation.

    FrameBatches(folder)               batches of single frames for `fit`, x float32 in [0, 1]
    evaluate_videos(predict, folder)   frame- and video-level accuracy

Batches are read in the calling thread. Reading them in worker processes needs the "spawn" or
"forkserver" start method (`tinyvid.kernels.cores.process_context()`): a plain fork while
another thread is inside a multi-threaded BLAS call can hang parent and child.
"""

import collections
import math
from typing import Any

import numpy as np

from tinyvid import distribution
from tinyvid.data.folder import VideoFolder, _check_label_mode, _encode_labels
from tinyvid.data.workers import VideoReader

# --- batches of frames for fit -----------------------------------------------------------------


class FrameBatches:
    """Batches of single frames from a VideoFolder, in Keras's PyDataset protocol.

    `len(batches)` is the number of batches per epoch, `batches[i]` is (x, y) and
    `batches.on_epoch_end()` reshuffles, so `model.fit(batches, epochs=...)` trains on every
    frame of every video once per epoch. Each frame is one sample.

    Shuffling is windowed so that each video is decoded once per epoch even without a cache:
    the videos are put in a random order and cut into windows of `batch_size` videos, and the
    frames are shuffled within each window. A batch then mixes frames of about two thirds of
    its window's videos. Batch i reads only the videos it needs, and the last 2 * batch_size
    videos read are kept in memory, so memory is bounded by the batch size, not the dataset.

    Args:
        video_folder: a VideoFolder.
        batch_size: frames per batch; the last batch may be smaller.
        shuffle: a new order each epoch (seeded by (seed, epoch)); False gives the frames video
            after video, as `evaluate_videos` and a validation set want them.
        label_mode: "categorical" for one-hot float32 y of shape (batch, num_classes), "sparse"
            for int64 y of shape (batch,).
        workers, use_multiprocessing, max_queue_size: Keras's PyDataset arguments. With
            workers > 1, or workers >= 1 and use_multiprocessing, background workers (threads,
            or processes started with "spawn") read the videos of the next max_queue_size
            batches while the model trains on this one (workers.py); batch i is still made
            here, from the same frames, so the batches do not depend on the number of workers.
            The default (1, False, 10) reads each video when its first batch is asked for.
        shard: which rows of every batch this process reads. "auto" follows the distribution
            (tinyvid.distribution.set_distribution): each MPI rank reads only its share of every
            global batch, in the same order on every rank (it comes from the seed), and the whole
            batch without a distribution. (rank, num_ranks) picks a share; None the whole batch.
            A rank decodes the videos its rows come from, so a video whose frames fall to two
            ranks is decoded by both: `tinyvid cache` (or a first epoch) fills the cache first.
            `predict` on a sharded FrameBatches gives this rank's rows only: pass shard=None.

    Returns from `batches[i]`:
        x: float32 (batch, height, width, 3) in [0, 1]; y as label_mode says.
    """

    def __init__(self, video_folder: VideoFolder, batch_size: int = 32, shuffle: bool = True,
                 seed: int = 0, label_mode: str = "categorical", workers: int = 1,
                 use_multiprocessing: bool = False, max_queue_size: int = 10,
                 shard: Any = "auto") -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"Invalid batch_size: {batch_size!r} (expected a positive integer)")
        _check_label_mode(label_mode)
        for name, value, least in (("workers", workers, 0), ("max_queue_size", max_queue_size, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{type(self).__name__}: invalid value for argument `{name}`: "
                                 f"expected an integer >= {least}. Received: {name}={value!r}")
        if not isinstance(use_multiprocessing, bool):
            raise ValueError(f"{type(self).__name__}: invalid value for argument "
                             f"`use_multiprocessing`: expected True or False. Received: "
                             f"use_multiprocessing={use_multiprocessing!r}")
        _check_shard(shard)
        self.shard = shard
        self.folder, self.batch_size, self.shuffle = video_folder, batch_size, shuffle
        self.seed, self.label_mode, self.epoch = seed, label_mode, 0
        self.workers, self.use_multiprocessing = workers, use_multiprocessing
        self.max_queue_size = max_queue_size
        self._recent: collections.OrderedDict = collections.OrderedDict()  # video -> frames
        self._reader: VideoReader | None = None
        self._order = self._sample_order()
        self._plan: list[tuple[int, int]] | None = None  # (first batch, video) for the reader
        self._planned = 0                                # how much of the plan is scheduled
        self._first_batch: dict[int, int] = {}

    def __len__(self):
        return math.ceil(len(self._order) / self.batch_size)

    @property
    def reads_own_shard(self):
        """True when `batches[i]` is this rank's share of batch i rather than all of it."""
        return self._shard()[1] > 1

    def _shard(self):
        return distribution.shard() if self.shard == "auto" else self.shard or (0, 1)

    def __getitem__(self, i):
        if not -len(self) <= i < len(self):
            raise IndexError(f"FrameBatches: batch {i} out of range for {len(self)} batches")
        i %= len(self)
        samples = self._order[i * self.batch_size:(i + 1) * self.batch_size]  # (n, 2): video, frame
        start, stop = distribution.shard_bounds(len(samples), *self._shard())
        samples = samples[start:stop]  # this rank's rows of the global batch
        frames, labels = [], []
        for video, t in samples:
            video_frames = self._frames(video)
            if video_frames is not None:  # None: unreadable and skipped
                frames.append(video_frames[t])
                labels.append(self.folder.labels[video])
        if frames and len({f.shape for f in frames}) > 1:
            raise ValueError(f"FrameBatches: batch {i} mixes frame sizes "
                             f"{sorted({f.shape for f in frames})}; give the VideoFolder a size")
        x = np.stack(frames).astype(np.float32) / np.float32(255) if frames else \
            np.empty((0,) + (self.folder.size or (0, 0)) + (3,), dtype=np.float32)
        y = _encode_labels(np.array(labels, dtype=np.int64), len(self.folder.classes),
                           self.label_mode)
        return x, y

    def on_epoch_end(self) -> None:
        """Draw the next epoch's order (a no-op without shuffle)."""
        self.epoch += 1
        if self.shuffle:
            self._order = self._sample_order()
        self._plan, self._planned = None, 0
        if self._reader is not None:
            self._reader.forget()

    def close(self) -> None:
        """Stop the background workers, if any (a later batch starts them again)."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def __enter__(self) -> "FrameBatches":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def _sample_order(self):
        """(videos * num_frames, 2) int array of (video index, frame index), in epoch order."""
        n, t = len(self.folder), self.folder.num_frames
        rng = np.random.default_rng([self.seed, self.epoch])
        videos = rng.permutation(n) if self.shuffle else np.arange(n)
        windows = []
        for start in range(0, n, self.batch_size):
            window = videos[start:start + self.batch_size]
            samples = np.stack(np.meshgrid(window, np.arange(t), indexing="ij"), -1).reshape(-1, 2)
            windows.append(samples[rng.permutation(len(samples))] if self.shuffle else samples)
        return np.concatenate(windows)

    def _frames(self, video: int) -> np.ndarray | None:
        if video in self._recent:
            self._recent.move_to_end(video)
            return self._recent[video]
        if self.workers > 1 or (self.workers >= 1 and self.use_multiprocessing):
            frames = self._read_ahead(int(video))
        else:
            frames, _ = self.folder.read_or_skip(video)
        self._recent[video] = frames
        if len(self._recent) > 2 * self.batch_size:
            self._recent.popitem(last=False)
        return frames


    def _read_ahead(self, video: int) -> np.ndarray | None:
        """Video `video`'s frames from the workers, after scheduling the videos of the batches
        up to max_queue_size after the one that first needs it. Frames already in the frame
        cache are read here (a plain file read costs less than asking a worker), so the workers
        start only when a video is not cached: a warm epoch runs without them."""
        if self._reader is None or not self._reader.has(video):
            try:
                frames = self.folder.cached_frames(video)
            except OSError:
                frames = None  # the worker will meet the same error and report it
            if frames is not None:
                return frames
        if self._reader is None:
            self._reader = VideoReader(self.folder, self.workers, self.use_multiprocessing)
        if self._plan is None:
            self._plan = self._first_needs()
            self._first_batch = {v: b for b, v in self._plan}
        batch = self._first_batch.get(video, 0)
        upto = self._planned
        while upto < len(self._plan) and self._plan[upto][0] <= batch + self.max_queue_size:
            upto += 1
        self._reader.schedule(v for _, v in self._plan[self._planned:upto])
        self._planned = upto
        try:
            return self._reader.frames(video)
        except (OSError, ValueError) as error:
            self.folder.skip_or_raise(video, error)
            return None

    def _first_needs(self) -> list[tuple[int, int]]:
        """(batch, video) for each video of the epoch, by the first batch that needs it."""
        plan, seen = [], set()
        for batch in range(len(self)):
            rows = self._order[batch * self.batch_size:(batch + 1) * self.batch_size]
            for video in (rows[:, 0] if rows.ndim == 2 else rows).tolist():
                if video not in seen:
                    seen.add(video)
                    plan.append((batch, video))
        return plan


def _check_shard(shard):
    fits = shard in ("auto", None) or (
        isinstance(shard, tuple) and len(shard) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in shard)
        and 0 <= shard[0] < shard[1])
    if not fits:
        raise ValueError(f"FrameBatches: invalid value for argument `shard`: expected 'auto', None "
                         f"or (rank, num_ranks) with 0 <= rank < num_ranks, received {shard!r}")


# --- evaluation: frames and videos -------------------------------------------------------------


def evaluate_videos(predict_fn, video_folder, batch_size=32, return_predictions=False):
    """Frame-level and video-level accuracy of a frame classifier.

    A video's prediction is the mean of its frames' class probabilities,

        p(class | video) = (1 / T) sum_t p(class | frame t),

    and its predicted class the argmax: the single-frame baseline of Karpathy et al. (CVPR
    2014), which often beats every frame alone because frames a model gets wrong are outvoted.

    Args:
        predict_fn: maps float32 frames (n, height, width, 3) in [0, 1] to class probabilities
            (n, num_classes); a model's `predict` will do.
        video_folder: a VideoFolder (usually split="validation"); unreadable videos are skipped
            or raise as its on_error says.
        batch_size: frames per call of predict_fn; frames of several videos share a call.
        return_predictions: also return each scored video's label and predicted class (what a
            confusion matrix needs).

    Returns:
        dict with "frame_accuracy" and "video_accuracy" (floats in [0, 1]), "num_frames" and
        "num_videos" (how many were scored); with return_predictions also "labels" and
        "predictions", int64 arrays (num_videos,) in the folder's order.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"Invalid batch_size: {batch_size!r} (expected a positive integer)")
    num_classes = len(video_folder.classes)
    sums = np.zeros((len(video_folder), num_classes))  # summed frame probabilities, per video
    labels = np.full(len(video_folder), -1)            # -1 until the video is read (or skipped)
    frame_correct = 0
    pending, owners = [], []  # frames waiting for predict_fn, and the video of each frame

    def predict_pending():
        nonlocal frame_correct
        x = np.concatenate(pending).astype(np.float32)
        x /= 255
        probabilities = np.asarray(predict_fn(x))
        if probabilities.shape != (len(x), num_classes):
            raise ValueError(f"evaluate_videos: predict_fn returned shape {probabilities.shape} "
                             f"for {len(x)} frames; expected ({len(x)}, {num_classes})")
        owner = np.concatenate(owners)
        np.add.at(sums, owner, probabilities)
        frame_correct += int(np.sum(probabilities.argmax(axis=1) == labels[owner]))
        pending.clear()
        owners.clear()

    for i in range(len(video_folder)):
        frames, labels[i] = video_folder.read_or_skip(i)
        if frames is None:
            labels[i] = -1
            continue
        pending.append(frames)
        owners.append(np.full(len(frames), i))
        if sum(len(f) for f in pending) >= batch_size:
            predict_pending()
    if pending:
        predict_pending()

    scored = labels >= 0
    if not scored.any():
        raise ValueError(f"evaluate_videos: none of the {len(video_folder)} videos could be read")
    num_videos = int(scored.sum())
    num_frames = num_videos * video_folder.num_frames
    predictions = sums[scored].argmax(axis=1)
    video_correct = int(np.sum(predictions == labels[scored]))
    scores = {"frame_accuracy": frame_correct / num_frames,
              "video_accuracy": video_correct / num_videos,
              "num_frames": num_frames, "num_videos": num_videos}
    if return_predictions:
        scores.update(labels=labels[scored].astype(np.int64), predictions=predictions.astype(np.int64))
    return scores
