"""The frame cache: decoded frames kept on disk, so a second epoch reads instead of decoding.

    cache = FrameCache(folder, num_frames=8, size=(64, 64), max_bytes=2 * 1024**3)
    frames = cache.load(video)          # uint8 (8, 64, 64, 3), or None: decode it
    cache.store(video, frames, key)     # key: cache.key(video), taken before decoding

One entry per video and setting: `<folder>/<video's relative path>.<n>f.<h>x<w>.npy`, an
uncompressed .npy file of the frames (so `np.load(entry, mmap_mode="r")` or a plain read gives
them back at disk speed) followed by a small key record. NumPy's reader stops at the end of the
array, so the record does not disturb it. An entry is used only when all of these hold:

- its record holds the same key: the cache version, the settings (num_frames, size) and a
  fingerprint of the video's content (`fingerprint`), so a video rewritten with its old size
  and modification time, or another video's entry copied over this one, is never taken;
- its header says uint8 frames of the shape the settings ask for, (num_frames, h, w, 3);
- the file is exactly as long as header, frames and record (not cut short).

Anything else is a miss, and the video is decoded again. Entries are written to a temporary
file and renamed, so several processes (the data workers, two training runs) can share a
folder: a reader sees a whole entry or none. `max_bytes` bounds the folder; when it is full,
or cannot be written, one warning says so and frames of the other videos are decoded each epoch.
"""

import hashlib
import json
import logging
import os
import pathlib
import tempfile

import numpy as np

log = logging.getLogger(__name__)

CACHE_VERSION = 2           # bumped whenever read_video would give other pixels
FINGERPRINT_BLOCK = 65536   # bytes hashed at the start, the middle and the end of a video
_TRAILER_MAGIC = b"TVCACHE2"
_LENGTH_BYTES = 8

# Problems already reported, per cache folder and kind ("full", "unwritable"), in this process;
# a data worker's reports are sent to the main process, which says each one once.
_reported: set[tuple[str, str]] = set()
_collecting: list[tuple[str, str, str]] | None = None  # set in a worker process


def fingerprint(path: pathlib.Path) -> str:
    """A cheap hash of a file's content: sha1 of its size and three 64 KB blocks.

        sha1(size, bytes[0:64K], bytes[mid:mid+64K], bytes[-64K:])

    It reads 192 KB whatever the video's size (the whole file when smaller), and changes when
    any of those blocks or the size changes. A video re-encoded in any way changes its header
    and index, which sit in the first or the last block of every common container.
    """
    size = path.stat().st_size
    digest = hashlib.sha1(str(size).encode())
    with open(path, "rb") as f:
        if size <= 3 * FINGERPRINT_BLOCK:
            digest.update(f.read())
        else:
            for offset in (0, (size - FINGERPRINT_BLOCK) // 2, size - FINGERPRINT_BLOCK):
                f.seek(offset)
                digest.update(f.read(FINGERPRINT_BLOCK))
    return digest.hexdigest()


class FrameCache:
    """Frames of the videos under `root`, sampled one way, cached in `folder`.

    Args:
        folder: the cache folder for this dataset (created when the first entry is written).
        root: the dataset's root; entries mirror the videos' paths relative to it.
        num_frames, size: the settings of read_video the frames were read with (None reads
            every frame, or keeps each video's own size: any count, or any height and width,
            is then accepted).
        max_bytes: None for no bound, or the most bytes of entries `limit_folder` may hold.
        limit_folder: the folder whose total size `max_bytes` bounds (default `folder`); a
            VideoFolder passes the cache_dir the user gave, shared by several datasets.
    """

    def __init__(self, folder: pathlib.Path, root: pathlib.Path, num_frames: int | None,
                 size: tuple[int, int] | None, max_bytes: int | None = None,
                 limit_folder: pathlib.Path | None = None) -> None:
        self.folder, self.root = pathlib.Path(folder), pathlib.Path(root)
        self.num_frames, self.size, self.max_bytes = num_frames, size, max_bytes
        self.limit_folder = pathlib.Path(limit_folder or folder)
        self.writable = True  # False after the folder was found full or unwritable

    def entry_path(self, video: pathlib.Path) -> pathlib.Path:
        relative = video.relative_to(self.root)
        size = "native" if self.size is None else f"{self.size[0]}x{self.size[1]}"
        frames = "all" if self.num_frames is None else self.num_frames
        return self.folder / relative.parent / f"{relative.name}.{frames}f.{size}.npy"

    def key(self, video: pathlib.Path) -> dict:
        """What an entry of `video` must hold: version, settings and the content's fingerprint."""
        return {"version": CACHE_VERSION, "num_frames": self.num_frames,
                "size": None if self.size is None else list(self.size),
                "fingerprint": fingerprint(video)}

    def load(self, video: pathlib.Path, key: dict | None = None,
             read: bool = True) -> np.ndarray | bool | None:
        """The cached frames of `video` (True instead when not `read`), or None on any miss."""
        key = self.key(video) if key is None else key
        try:
            with open(self.entry_path(video), "rb") as f:
                shape, data_start = self._check_entry(f, key)
                if not read:
                    return True
                frames = np.empty(shape, dtype=np.uint8)
                f.seek(data_start)
                if f.readinto(frames.data.cast("B")) != frames.nbytes:
                    return None
                return frames
        except (OSError, ValueError, KeyError, TypeError):
            return None  # missing, damaged, cut short, or written for another video or setting

    def store(self, video: pathlib.Path, frames: np.ndarray, key: dict) -> None:
        """Write the entry of `video`; `key` is taken before the video was read, so a video
        rewritten while it was decoded is stored under its old fingerprint and missed later."""
        if not self.writable:
            return
        target = self.entry_path(video)
        record = json.dumps(key).encode()
        trailer = b"\n" + record + (len(record) + 1).to_bytes(_LENGTH_BYTES, "little")
        trailer += _TRAILER_MAGIC
        needed = frames.nbytes + 256 + len(trailer)
        if self.max_bytes is not None and _folder_bytes(self.limit_folder) + needed > self.max_bytes:
            self._stop("full", f"the frame cache {self.limit_folder} is full (cache_max_bytes="
                               f"{self.max_bytes}); the frames of videos not cached yet are "
                               f"decoded again each epoch")
            return
        temporary = None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.",
                                             suffix=".tmp", delete=False) as f:
                temporary = f.name
                np.lib.format.write_array(f, np.ascontiguousarray(frames, dtype=np.uint8))
                f.write(trailer)
            os.replace(temporary, target)  # a reader sees the whole entry or none
        except OSError as error:  # a full disk should slow training down, not stop it
            if temporary is not None:
                pathlib.Path(temporary).unlink(missing_ok=True)
            self._stop("unwritable", f"could not write the frame cache in {self.folder}: "
                                     f"{error}; frames are decoded again each epoch")

    def _check_entry(self, f, key: dict) -> tuple[tuple[int, ...], int]:
        """The frames' shape and offset in an open entry, after checking key, header, length."""
        end = f.seek(0, os.SEEK_END)
        f.seek(end - _LENGTH_BYTES - len(_TRAILER_MAGIC))
        tail = f.read()
        if tail[_LENGTH_BYTES:] != _TRAILER_MAGIC:
            raise ValueError("no key record")
        record_length = int.from_bytes(tail[:_LENGTH_BYTES], "little")
        trailer_start = end - _LENGTH_BYTES - len(_TRAILER_MAGIC) - record_length
        f.seek(trailer_start)
        if json.loads(f.read(record_length)) != key:
            raise ValueError("another video, setting or version")
        f.seek(0)
        version = np.lib.format.read_magic(f)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, fortran_order, dtype = read_header(f)
        # Any count when every frame is read (num_frames None), any size when size is None.
        expected = ((shape[0] if self.num_frames is None else self.num_frames,)
                    + (tuple(self.size) if self.size else tuple(shape[1:3])))
        if (dtype != np.uint8 or fortran_order or len(shape) != 4 or shape[:3] != expected
                or shape[3] != 3 or min(shape) < 1):
            raise ValueError(f"frames of shape {shape} {dtype}, expected {expected + (3,)} uint8")
        data_start = f.tell()
        if data_start + int(np.prod(shape)) != trailer_start:
            raise ValueError("cut short or padded")
        return tuple(shape), data_start

    def _stop(self, kind: str, message: str) -> None:
        self.writable = False
        report(str(self.limit_folder if kind == "full" else self.folder), kind, message)


def report(folder: str, kind: str, message: str) -> None:
    """Log a cache problem once per folder and kind in this process (or collect it in a worker)."""
    if _collecting is not None:
        _collecting.append((folder, kind, message))
    elif (folder, kind) not in _reported:
        _reported.add((folder, kind))
        log.warning("%s", message)


def _folder_bytes(folder: pathlib.Path) -> int:
    """Bytes of the cache entries under `folder` (a walk of its directories, no reading)."""
    total = 0
    for directory, _, names in os.walk(folder):
        for name in names:
            if name.endswith(".npy"):
                try:
                    total += os.stat(os.path.join(directory, name)).st_size
                except OSError:
                    pass  # removed meanwhile
    return total
