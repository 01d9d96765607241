"""Whole clips for models that see time: ClipBatches, the clip mode of the batch pipeline.

    ClipBatches(folder, num_frames=8)      batches of clips, x float32 (batch, T, h, w, 3) in [0, 1]
    segment_indices(count, T, rng)         Temporal Segment Networks' frame choice
    ClipAugmentation(crop, flip)           one random crop and flip for every frame of a clip
    evaluate_clips(predict, batches)       video-level accuracy of a clip model

A clip is T frames of one video, in order. ClipBatches is FrameBatches with one sample per video
instead of one per frame: the same VideoFolder (and its frame cache), the same epoch-seeded
order, the same label encoding and the same bounded memory (it holds the videos of the last two
batches at most).

Which T frames, when the VideoFolder reads every frame (`num_frames=None`):

    sampling="even"       round(linspace(0, count - 1, T)), as read_video samples
    sampling="segments"   split the video into T equal segments; in training a random frame
                          from each segment, otherwise each segment's centre (Wang et al.,
                          "Temporal Segment Networks", ECCV 2016)

A video shorter than T frames is padded with zero frames at its end, never cropped or
stretched, and the batch says which frames are real: with `return_mask=True` a batch is
`((x, mask), y)`, mask bool (batch, T) with True for a real frame, as Keras's recurrent layers
take `mask=`. A VideoFolder with a fixed `num_frames` gives its frames as they are (even
sampling, short videos repeating frames as read_video does).
"""

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from tinyvid.data.batches import FrameBatches
from tinyvid.data.folder import VideoFolder, _encode_labels
from tinyvid.data.video import sample_indices

SAMPLINGS = ("even", "segments")


def segment_indices(count: int, num_frames: int,
                    rng: np.random.Generator | None = None) -> np.ndarray:
    """One frame index per segment, for a clip of `count` >= num_frames frames.

    The clip is cut into num_frames segments [floor(k count / T), floor((k + 1) count / T));
    with a generator, a uniformly random frame of each segment (training); without, each
    segment's centre frame (validation and inference).

    Returns:
        int64 array (num_frames,), strictly increasing, within [0, count - 1].
    """
    if count < num_frames:
        raise ValueError(f"segment_indices: {count} frames cannot give {num_frames} segments")
    edges = (np.arange(num_frames + 1) * count) // num_frames
    starts, ends = edges[:-1], edges[1:]
    if rng is None:
        return ((starts + ends - 1) // 2).astype(np.int64)
    return (starts + rng.integers(0, ends - starts)).astype(np.int64)


class ClipAugmentation:
    """The same random crop and horizontal flip for every frame of a clip.

    Frames of one clip must move together: a crop that jumped between frames would look like
    motion (Karpathy et al. crop and flip each clip as a whole). At inference a crop is the
    centre crop and nothing is flipped, so shapes stay the same and nothing is random.

    Args:
        crop: (height, width) of the crop, or None for no cropping.
        horizontal_flip: flip half of the clips left to right.
    """

    def __init__(self, crop: tuple[int, int] | None = None, horizontal_flip: bool = True):
        if crop is not None:
            if (not isinstance(crop, (tuple, list)) or len(crop) != 2
                    or not all(isinstance(c, int) and not isinstance(c, bool) and c > 0
                               for c in crop)):
                raise ValueError(f"ClipAugmentation: invalid value for argument `crop`: expected "
                                 f"None or (height, width) of positive ints. Received: "
                                 f"crop={crop!r}")
            crop = (int(crop[0]), int(crop[1]))
        self.crop, self.horizontal_flip = crop, bool(horizontal_flip)

    def __call__(self, clip: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        """clip (T, h, w, c) -> (T, crop_h, crop_w, c); rng None means inference."""
        if self.crop is not None:
            (ch, cw), (h, w) = self.crop, clip.shape[1:3]
            if ch > h or cw > w:
                raise ValueError(f"ClipAugmentation: crop {self.crop} is larger than the frames "
                                 f"({h}, {w})")
            top, left = ((h - ch) // 2, (w - cw) // 2) if rng is None else (
                int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1)))
            clip = clip[:, top:top + ch, left:left + cw]
        if self.horizontal_flip and rng is not None and rng.random() < 0.5:
            clip = clip[:, :, ::-1]
        return clip


class ClipBatches(FrameBatches):
    """Batches of whole clips from a VideoFolder, in Keras's PyDataset protocol.

    Args:
        video_folder: a VideoFolder; with num_frames=None it reads every frame and the clip's
            frames are chosen here, by `sampling`; with a fixed num_frames its frames are the
            clip.
        batch_size: clips per batch; the last batch may be smaller.
        shuffle: a new order of the videos each epoch (seeded by (seed, epoch)).
        seed: seeds the order, the segment choice and the augmentation.
        label_mode: "categorical" (one-hot float32) or "sparse" (int64).
        num_frames: T, frames per clip; needed when the folder reads every frame.
        sampling: "even" or "segments" (see the module's docstring).
        augmentation: a ClipAugmentation, or None.
        training: whether to draw random segments and augmentations; by default `shuffle`
            (training batches shuffle, validation batches do not).
        return_mask: batches as ((x, mask), y) instead of (x, y).
        workers, use_multiprocessing, max_queue_size: Keras's PyDataset arguments, as for
            FrameBatches: background workers (threads, or processes started with "spawn") read
            the videos of the next max_queue_size batches while the model trains on this one.
            Each clip is still cut and augmented here, from (seed, epoch, video), so the batches
            do not depend on the number of workers.

    Returns from `batches[i]`:
        x float32 (batch, T, height, width, 3) in [0, 1] (zero frames after a short video's
        end); mask bool (batch, T); y as label_mode says.
    """

    def __init__(self, video_folder: VideoFolder, batch_size: int = 8, shuffle: bool = True,
                 seed: int = 0, label_mode: str = "categorical", num_frames: int | None = None,
                 sampling: str = "even", augmentation: ClipAugmentation | None = None,
                 training: bool | None = None, return_mask: bool = False, workers: int = 1,
                 use_multiprocessing: bool = False, max_queue_size: int = 10):
        if sampling not in SAMPLINGS:
            raise ValueError(f"ClipBatches: invalid value for argument `sampling`: expected one "
                             f"of {SAMPLINGS}. Received: sampling={sampling!r}")
        fixed = video_folder.num_frames
        if fixed is None:
            if (isinstance(num_frames, bool) or not isinstance(num_frames, int)
                    or num_frames < 1):
                raise ValueError(f"ClipBatches: invalid value for argument `num_frames`: expected "
                                 f"a positive int when the VideoFolder reads every frame "
                                 f"(num_frames=None). Received: num_frames={num_frames!r}")
        else:
            if num_frames not in (None, fixed):
                raise ValueError(f"ClipBatches: num_frames={num_frames!r} but the VideoFolder "
                                 f"reads {fixed} frames per video; give VideoFolder "
                                 f"num_frames=None to choose them here")
            if sampling != "even":
                raise ValueError(f"ClipBatches: sampling={sampling!r} chooses frames from the "
                                 f"whole video: give the VideoFolder num_frames=None")
            num_frames = fixed
        self.num_frames, self.sampling, self.augmentation = num_frames, sampling, augmentation
        self.training = shuffle if training is None else bool(training)
        self.return_mask = bool(return_mask)
        # shard=None: a clip batch is read whole; under DataParallel the trainer cuts each
        # rank's rows out of it (tinyvid.distribution.local_rows).
        super().__init__(video_folder, batch_size=batch_size, shuffle=shuffle, seed=seed,
                         label_mode=label_mode, workers=workers,
                         use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size,
                         shard=None)

    def __len__(self) -> int:
        return math.ceil(len(self._order) / self.batch_size)

    def __getitem__(self, i: int) -> tuple[Any, np.ndarray]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"ClipBatches: batch {i} out of range for {len(self)} batches")
        i %= len(self)
        clips, masks, labels = [], [], []
        for video in self._order[i * self.batch_size:(i + 1) * self.batch_size]:
            frames = self._frames(int(video))
            if frames is None:  # unreadable and skipped
                continue
            rng = (np.random.default_rng([self.seed, self.epoch, int(video)])
                   if self.training else None)
            clip, mask = self._clip(frames, rng)
            if self.augmentation is not None:
                clip = self.augmentation(clip, rng)
            clips.append(clip)
            masks.append(mask)
            labels.append(self.folder.labels[video])
        if clips and len({c.shape for c in clips}) > 1:
            raise ValueError(f"ClipBatches: batch {i} mixes frame sizes "
                             f"{sorted({c.shape[1:] for c in clips})}; give the VideoFolder a "
                             f"size")
        if clips:
            x = np.stack(clips).astype(np.float32) / np.float32(255)
        else:
            x = np.empty((0, self.num_frames) + (self.folder.size or (0, 0)) + (3,), np.float32)
        mask = np.array(masks, dtype=bool).reshape(len(clips), self.num_frames)
        y = _encode_labels(np.array(labels, dtype=np.int64), len(self.folder.classes),
                           self.label_mode)
        return ((x, mask), y) if self.return_mask else (x, y)

    def _clip(self, frames: np.ndarray, rng: np.random.Generator | None
              ) -> tuple[np.ndarray, np.ndarray]:
        """T frames of a video's frames, and which of them are real (not padding)."""
        t, count = self.num_frames, len(frames)
        if self.folder.num_frames is not None:
            return frames, np.ones(t, dtype=bool)
        if count < t:  # pad at the end, and say so in the mask
            padding = np.zeros((t - count,) + frames.shape[1:], dtype=frames.dtype)
            return np.concatenate([frames, padding]), np.arange(t) < count
        if self.sampling == "segments":
            indices = segment_indices(count, t, rng)
        else:
            indices = sample_indices(count, t)
        return frames[indices], np.ones(t, dtype=bool)

    def _sample_order(self) -> np.ndarray:
        """The video indices in epoch order: one clip per video."""
        n = len(self.folder)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, self.epoch]).permutation(n)


def evaluate_clips(predict_fn: Callable[[Any], Any], clip_batches: ClipBatches,
                   return_predictions: bool = False) -> dict[str, Any]:
    """Video-level accuracy of a clip model: one prediction per clip, so one per video.

    Args:
        predict_fn: maps a batch's x (or (x, mask) with return_mask) to class probabilities
            (batch, num_classes); a model's `predict` will do.
        clip_batches: ClipBatches without shuffling (each video once, in order).
        return_predictions: also return each video's label and predicted class (what a
            confusion matrix needs).

    Returns:
        dict with "video_accuracy" (a float in [0, 1]) and "num_videos"; with
        return_predictions also "labels" and "predictions", int64 arrays (num_videos,).
    """
    correct = total = 0
    all_labels, all_predictions = [], []
    for i in range(len(clip_batches)):
        x, y = clip_batches[i]
        if len(y) == 0:
            continue
        probabilities = np.asarray(predict_fn(x))
        labels = y if y.ndim == 1 else y.argmax(axis=-1)
        predictions = probabilities.argmax(axis=-1)
        correct += int(np.sum(predictions == labels))
        total += len(y)
        all_labels.append(labels)
        all_predictions.append(predictions)
    if total == 0:
        raise ValueError("evaluate_clips: none of the videos could be read")
    scores: dict[str, Any] = {"video_accuracy": correct / total, "num_videos": total}
    if return_predictions:
        scores.update(labels=np.concatenate(all_labels).astype(np.int64),
                      predictions=np.concatenate(all_predictions).astype(np.int64))
    return scores
