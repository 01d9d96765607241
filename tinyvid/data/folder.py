"""A folder of videos, one sub-folder per class (as UCF101 is laid out), read as frames.

    VideoFolder(root, num_frames=8)    item i is (frames uint8 (num_frames, h, w, 3), label)

Batches for `fit` are made from it in batches.py. A frame model classifies one frame at a time; a video's class is the mean of its frames'
probabilities (the single-frame baseline of Karpathy et al., "Large-scale Video Classification
with Convolutional Neural Networks", CVPR 2014). Train and validation are split by video, never
by frame: frames of one clip are near copies of each other, and a validation frame whose
neighbour was trained on would measure memory, not learning.
"""

import hashlib
import logging
import os
import pathlib
import warnings
import zlib

import numpy as np

from tinyvid.data.cache import FrameCache
from tinyvid.data.video import _check_num_frames, _check_size, read_video, video_info
from tinyvid.training.checks import warn_if_single_class

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv",
                    ".flv", ".ogv", ".3gp")


# --- a folder of videos, one sub-folder per class ----------------------------------------------


class VideoFolder:
    """The videos under root/<class name>/, each read as `num_frames` evenly spaced frames.

    Class names are the sub-folders' names, sorted; label i is `classes[i]`. Videos are the
    files with a video extension (VIDEO_EXTENSIONS) anywhere under a class folder; names
    starting with "." are ignored.

    Args:
        root: the folder holding one sub-folder per class.
        num_frames: frames per video, spread evenly over it (see `tinyvid.video.read_video`);
            None for every frame of each video (what ClipBatches' segment sampling chooses
            from, each epoch anew).
        size: (height, width) the frames are resized to, or None to keep each video's size.
        split: None for every video, or "train" / "validation".
        validation_fraction: the share of each class's videos in the validation split: per
            class, round(n * fraction) videos, at least 1 and at most n - 1 when the class has
            2 or more videos and the fraction is above 0. Stratified, and by video.
        seed: the split is a permutation seeded by (seed, class name): the same files and seed
            give the same split, on any machine, whatever other classes there are.
        cache_dir: None, or a folder for decoded frames (cache.py): one uncompressed .npy
            per video and setting, checked against a fingerprint of the video's content, the
            settings, and the shape and dtype asked for, so a changed video is read again.
            A second epoch then reads the frames instead of decoding the video.
        cache_max_bytes: None for no bound, or the most bytes the entries in cache_dir may
            take; when it is full, one warning says so and later videos are not cached.
        on_error: "skip" (log one warning per unreadable video and leave it out) or "raise".

    Unreadable files are found when the folder is made, by demuxing each video (no decoding)
    unless its frames are already in the cache. A file that demuxes but fails to decode is
    found later, when it is read: `FrameBatches`, `to_arrays` and `evaluate_videos` then skip
    it in the same way (or raise), and `folder[i]` raises VideoReadError.
    """

    def __init__(self, root: str | os.PathLike[str], num_frames: int | None = 8,
                 size: tuple[int, int] | None = (64, 64), split: str | None = None,
                 validation_fraction: float = 0.2, seed: int = 0,
                 cache_dir: str | os.PathLike[str] | None = None,
                 cache_max_bytes: int | None = None, on_error: str = "skip") -> None:
        if num_frames is not None:
            _check_num_frames(num_frames)
        if split not in (None, "train", "validation"):
            raise ValueError(f"Invalid split: {split!r} (expected None, 'train' or 'validation')")
        if not 0 <= validation_fraction < 1:
            raise ValueError(f"Invalid validation_fraction: {validation_fraction!r} "
                             f"(expected 0 <= fraction < 1)")
        if on_error not in ("skip", "raise"):
            raise ValueError(f"Invalid on_error: {on_error!r} (expected 'skip' or 'raise')")
        if cache_max_bytes is not None and (
                isinstance(cache_max_bytes, bool) or not isinstance(cache_max_bytes, int)
                or cache_max_bytes < 0):
            raise ValueError(f"Invalid cache_max_bytes: {cache_max_bytes!r} (expected None or "
                             f"a number of bytes >= 0)")
        self.root = pathlib.Path(root)
        self.num_frames, self.size, self.split = num_frames, _check_size(size), split
        self.on_error = on_error
        self.skipped: list[tuple[pathlib.Path, str]] = []  # (path, reason) of each video left out
        self.cache_dir = None
        self.cache: FrameCache | None = None
        if cache_dir is not None:
            # One sub-folder per dataset root, so two datasets can share a cache_dir.
            tag = hashlib.sha1(str(self.root.resolve()).encode()).hexdigest()[:10]
            self.cache_dir = pathlib.Path(cache_dir) / f"{self.root.resolve().name}-{tag}"
            self.cache = FrameCache(self.cache_dir, self.root, num_frames, self.size,
                                    max_bytes=cache_max_bytes, limit_folder=pathlib.Path(cache_dir))

        self.classes = _class_folders(self.root)
        listed = []  # (path, label) of this split's videos, by class then name
        every_video = {}  # reliability: each class's videos in all splits, see _drop_empty_classes
        for label, name in enumerate(self.classes):
            videos = _list_videos(self.root / name)
            every_video[name] = videos
            for i in _split_indices(len(videos), name, split, validation_fraction, seed):
                listed.append((videos[i], label))
        if not listed:
            if split is None:
                raise ValueError(f"{self.root}: no videos in its class folders "
                                 f"(looked for {' '.join(VIDEO_EXTENSIONS)})")
            raise ValueError(f"{self.root}: the {split!r} split has no videos "
                             f"(validation_fraction={validation_fraction})")

        self.videos, labels = [], []
        for path, label in listed:
            if not self._is_cached(path):  # frames in the cache prove the video reads
                try:
                    video_info(path)
                except (OSError, ValueError) as error:
                    self._failed(path, error)
                    continue
            self.videos.append(path)
            labels.append(label)
        self.labels = np.array(labels, dtype=np.int64)
        if self.skipped:
            log.warning("%s: skipped %d of %d videos that could not be read", self.root,
                        len(self.skipped), len(listed))
        if not self.videos:
            raise ValueError(f"{self.root}: none of its {len(listed)} videos could be read")
        self._drop_empty_classes(every_video)  # reliability: a class no video of which reads
        warn_if_single_class(len(self.classes), str(self.root))  # reliability:

    def __len__(self):
        return len(self.videos)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        """(frames, label): frames uint8 (num_frames, height, width, 3), label an int."""
        return self.read_frames(i), int(self.labels[i])

    def cached_frames(self, i: int) -> np.ndarray | None:
        """The frames of video i if the frame cache holds them, else None (no decoding)."""
        if self.cache is None:
            return None
        frames = self.cache.load(self.videos[i])
        return frames if isinstance(frames, np.ndarray) else None

    def read_frames(self, i: int) -> np.ndarray:
        """The frames of video i, from the cache or decoded (and then cached)."""
        path = self.videos[i]
        if self.cache is None:
            return read_video(path, num_frames=self.num_frames, size=self.size)
        key = self.cache.key(path)  # before reading: a video rewritten meanwhile is missed
        frames = self.cache.load(path, key)
        if not isinstance(frames, np.ndarray):
            frames = read_video(path, num_frames=self.num_frames, size=self.size)
            self.cache.store(path, frames, key)
        return frames

    def __repr__(self):
        return (f"VideoFolder({str(self.root)!r}, {len(self)} videos, {len(self.classes)} classes, "
                f"num_frames={self.num_frames}, size={self.size}, split={self.split!r})")

    def to_arrays(self, label_mode="categorical"):
        """Every frame in memory, for small sets: (x, y) as `fit(x, y)` takes them.

        Returns:
            x: float32 (videos * num_frames, height, width, 3) in [0, 1], video after video.
            y: float32 one-hot (videos * num_frames, num_classes), or int64 (videos *
                num_frames,) with label_mode="sparse".
        """
        _check_label_mode(label_mode)
        if self.num_frames is None:
            raise ValueError("VideoFolder.to_arrays needs a fixed num_frames; this folder reads "
                             "every frame of each video (num_frames=None)")
        frames, labels = [], []
        for i in range(len(self)):
            video_frames, label = self.read_or_skip(i)
            if video_frames is not None:
                frames.append(video_frames)
                labels.append(label)
        if not frames:
            raise ValueError(f"{self.root}: none of its {len(self)} videos could be read")
        x = np.concatenate(frames).astype(np.float32)
        x /= 255
        labels = np.repeat(labels, self.num_frames).astype(np.int64)
        return x, _encode_labels(labels, len(self.classes), label_mode)

    def read_or_skip(self, i: int) -> tuple[np.ndarray | None, int]:
        """`self[i]`, or (None, label) after logging a warning when on_error is "skip"."""
        try:
            return self[i]
        except (OSError, ValueError) as error:
            self.skip_or_raise(i, error)
            return None, int(self.labels[i])

    def skip_or_raise(self, i: int, error: Exception) -> None:
        """What happens when video i fails to read: raise `error`, or log it once and go on."""
        if self.on_error == "raise":
            raise error
        if self.videos[i] not in (path for path, _ in self.skipped):
            self._failed(self.videos[i], error)

    def _drop_empty_classes(self, every_video):
        """Leave out (with a warning) each class of which no video reads, in any split.

        A model cannot learn a class it has no example of; kept, it would be an output that is
        never trained but can still be predicted. Dropped rather than an error, so one broken
        folder does not stop a whole training run; and decided from the class's videos in every
        split (probing the other splits' only for a class with none here), so the train and
        validation folders of one root always have the same classes and labels. Videos that
        demux but fail to decode are found only when read, after this.
        """
        present = set(self.labels.tolist())
        kept = [name for label, name in enumerate(self.classes)
                if label in present or any(self._readable(path) for path in every_video[name])]
        if len(kept) == len(self.classes):
            return
        dropped = [name for name in self.classes if name not in kept]
        warnings.warn(f"{self.root}: left out the class(es) {', '.join(map(repr, dropped))}: none of "
                      f"their videos could be read (or the folder has none), and a model cannot "
                      f"learn a class it has no example of", UserWarning, stacklevel=3)
        new_label = {self.classes.index(name): i for i, name in enumerate(kept)}
        self.labels = np.array([new_label[int(label)] for label in self.labels], dtype=np.int64)
        self.classes = kept

    def _readable(self, path):
        if self._is_cached(path):
            return True
        try:
            video_info(path)
        except (OSError, ValueError):
            return False
        return True

    # --- the frame cache --------------------------------------------------------------------

    def _is_cached(self, path: pathlib.Path) -> bool:
        try:
            return self.cache is not None and self.cache.load(path, read=False) is True
        except OSError:
            return False  # the video cannot be read: video_info will say why

    def _failed(self, path, error):
        if self.on_error == "raise":
            raise error
        reason = str(error).removeprefix(f"{path}: ")  # VideoReadError starts with the path
        self.skipped.append((path, reason))
        log.warning("skipping %s: %s", path, reason)



def _class_folders(root):
    if not root.exists():
        raise FileNotFoundError(f"{root}: no such folder (expected root/<class name>/<videos>)")
    if not root.is_dir():
        raise NotADirectoryError(f"{root}: not a folder (expected root/<class name>/<videos>)")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise ValueError(f"{root}: no class folders (expected one sub-folder of videos per "
                         f"class, as root/<class name>/<video>.mp4)")
    return classes


def _list_videos(folder):
    """Files with a video extension anywhere under `folder`, skipping hidden ones, sorted."""
    return sorted(path for path in folder.rglob("*")
                  if path.suffix.lower() in VIDEO_EXTENSIONS and path.is_file()
                  and not any(part.startswith(".") for part in path.relative_to(folder).parts))


def _split_indices(n, class_name, split, validation_fraction, seed):
    """Which of a class's n videos (sorted by name) belong to the split, in sorted order."""
    if split is None:
        return range(n)
    n_validation = round(n * validation_fraction)
    if validation_fraction > 0 and n >= 2:
        n_validation = min(max(n_validation, 1), n - 1)
    order = np.random.default_rng([seed, zlib.crc32(class_name.encode())]).permutation(n)
    chosen = order[:n_validation] if split == "validation" else order[n_validation:]
    return sorted(chosen.tolist())


def _check_label_mode(label_mode):
    if label_mode not in ("categorical", "sparse"):
        raise ValueError(f"Invalid label_mode: {label_mode!r} (expected 'categorical' or 'sparse')")


def _encode_labels(labels, num_classes, label_mode):
    if label_mode == "sparse":
        return labels.astype(np.int64)
    return np.eye(num_classes, dtype=np.float32)[labels].reshape(len(labels), num_classes)
