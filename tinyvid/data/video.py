"""Video files -> frames: the first step of the data flow.

`read_video(path)` returns every frame of a video as a uint8 array (frames, height, width, 3),
decoded by FFmpeg through PyAV, exactly as PyAV's `frame.to_ndarray(format="rgb24")` gives it.
Two options make it cheap to feed a frame model:

    read_video(path, num_frames=8)              8 frames spread evenly over the whole clip
    read_video(path, num_frames=8, size=(64, 64))   ... resized by FFmpeg's swscale

How it reads, and why:

1. Every frame: decode the file once, front to back, converting each frame to rgb24.
2. num_frames frames: demux the file (read its compressed packets, no decoding) and count the
   video packets; the container's own frame count and duration are often wrong, so they are not
   used. Pick the frame indices from that count (`sample_indices`), then decode the packets
   already in memory, converting (and resizing) only the chosen frames. Every frame must be
   decoded anyway (a compressed frame depends on the ones before it); memory holds the packets
   and num_frames frames, never the whole decoded clip.
3. If the decoder gives a different number of frames from the demuxer's count (a corrupt
   packet, a clip cut between keyframes), trust the decoder: choose again from the number it
   gave and decode a second time.

Why PyAV directly and not imageio's v3 API (which tinyvid still uses to write videos): imageio's
PyAV plugin runs a full `gc.collect()` every time it closes a file (to free the cycle between
PyAV's filter graph and its filters on the closing thread). A full collection walks every object
the process tracks, so reading a video got slower with everything else the process held (a
process that imported torch holds about 200,000). Without a filter graph there is no cycle to
collect, so this module converts with `VideoFrame.to_ndarray` (and its swscale "area" resize)
and never touches the garbage collector. docs/performance.md ("Data path") has the figures and
docs/upstream/imageio-gc-collect.md the report to imageio.

Any file FFmpeg cannot read raises `VideoReadError` (a ValueError) naming the file and the
reason; a missing file raises FileNotFoundError naming the path.
"""

import dataclasses
import errno
import os
import pathlib
from collections.abc import Iterator
from typing import Any

import av
import numpy as np

PathLike = str | os.PathLike[str]


class VideoReadError(ValueError):
    """A file could not be read as a video: not a video, empty, truncated, no video stream, ..."""


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What `video_info` finds out about a video without decoding it.

    Attributes:
        path: the file.
        num_frames: video packets counted by demuxing (the count `read_video` samples from).
        fps: the stream's average frame rate, or None when the container does not say.
        width, height: frame size in pixels, as stored.
        codec: FFmpeg's codec name, e.g. "h264".
        pixel_format: the decoder's pixel format, e.g. "yuv420p" (read_video converts to rgb24).
    """

    path: pathlib.Path
    num_frames: int
    fps: float | None
    width: int
    height: int
    codec: str
    pixel_format: str | None


# --- frame indices -----------------------------------------------------------------------------


def sample_indices(count: int, num_frames: int) -> np.ndarray:
    """The indices of `num_frames` frames spread evenly over a clip of `count` frames.

        indices = round(linspace(0, count - 1, num_frames))

    The first and the last frame are always included. Rounding is NumPy's (`np.round`): halves
    go to the nearest even number, so linspace(0, 5, 3) = [0, 2.5, 5] gives [0, 2, 5].
    A clip shorter than num_frames gives repeated indices (linspace(0, 2, 5) gives
    [0, 0, 1, 2, 2]), so a short clip comes back with some frames twice, in order.

    Args:
        count: frames in the clip, >= 1.
        num_frames: frames wanted, >= 1. With num_frames == 1 the first frame is returned.

    Returns:
        int64 array of shape (num_frames,), non-decreasing, within [0, count - 1].
    """
    if count < 1:
        raise ValueError(f"sample_indices: a clip needs at least one frame, got count={count}")
    _check_num_frames(num_frames)
    return np.round(np.linspace(0, count - 1, num_frames)).astype(np.int64)


# --- reading -----------------------------------------------------------------------------------


def video_info(path: PathLike) -> VideoInfo:
    """Frame count (by demuxing), frame rate, size and codec of a video, without decoding it.

    Raises:
        FileNotFoundError: no file at `path`.
        VideoReadError: FFmpeg cannot open the file, it holds no video stream, or no decoder
            for its codec.
    """
    path = _existing_file(path)
    with _open(path) as container:
        stream = container.streams.video[0]
        context = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate
        _, count = _demux(path, container, stream, keep=False)
        return VideoInfo(
            path=path,
            num_frames=count,
            fps=float(rate) if rate else None,
            width=context.width,
            height=context.height,
            codec=context.name,
            pixel_format=context.pix_fmt,
        )


def read_video(path: PathLike, num_frames: int | None = None,
               size: tuple[int, int] | None = None) -> np.ndarray:
    """Decode a video file into an array of RGB frames.

    Args:
        path: a video file (anything FFmpeg reads: mp4, avi, mkv, mov, webm, ...).
        num_frames: None for every frame; or N to get N frames spread evenly over the whole
            clip, first and last included (`sample_indices`: round(linspace(0, count - 1, N))).
            A clip with fewer than N frames repeats some of its frames, by the same rule.
        size: None to keep the stored size, or (height, width) to resize while converting, with
            FFmpeg's swscale "area" filter: each output pixel is the average of the input
            pixels it covers when shrinking (no aliasing of the background noise), bilinear
            when enlarging.

    Returns:
        uint8 array of shape (frames, height, width, 3), RGB. Grayscale, RGBA and other pixel
        formats are converted to rgb24 by FFmpeg (an alpha channel is dropped, not blended).
        With no options the frames are exactly what PyAV's `frame.to_ndarray(format="rgb24")`
        gives for the same file.

    Decodes with PyAV directly rather than through imageio's v3 API: imageio's PyAV plugin runs
    a full garbage collection each time it closes a file, which makes every read as slow as the
    process is big (the module docstring says more). Nothing process-wide is changed.

    Raises:
        FileNotFoundError: no file at `path`.
        VideoReadError: the file cannot be read as a video (not a video, empty, truncated, no
            video stream, no decoder, no frames, a decoding error), naming the file and the
            reason.
    """
    path = _existing_file(path)
    if num_frames is not None:
        _check_num_frames(num_frames)
    size = _check_size(size)

    with _open(path) as container:
        stream = container.streams.video[0]
        if num_frames is None:
            frames = _decode(path, stream, container.demux(stream), None, size, None)
            if frames is None:
                raise VideoReadError(f"{path}: the decoder gave no frames")
            return frames
        packets, count = _demux(path, container, stream)
        if count == 0:
            raise VideoReadError(f"{path}: the video stream holds no frames")
        frames = _decode(path, stream, packets, sample_indices(count, num_frames), size, count)
    if frames is not None and len(frames) == num_frames:
        return frames
    # The decoder and the demuxer disagree (a corrupt packet, a clip cut between keyframes
    # whose first frames cannot be decoded). The decoder is the truth: count what it gives and
    # choose the frames again from that count. Rare, so a second pass is fine.
    decoded = _count_decoded_frames(path)
    if decoded == 0:
        raise VideoReadError(f"{path}: the demuxer found {count} video packets but the "
                             f"decoder gave no frames")
    with _open(path) as container:
        stream = container.streams.video[0]
        frames = _decode(path, stream, container.demux(stream),
                         sample_indices(decoded, num_frames), size, decoded)
    if frames is None or len(frames) != num_frames:
        raise VideoReadError(f"{path}: the decoder gave a different number of frames on each "
                             f"pass (decoding is not repeatable)")
    return frames


# --- helpers: decoding -------------------------------------------------------------------------


def _decode(path: pathlib.Path, stream: "av.video.stream.VideoStream",
            packets: "Iterator[av.Packet] | list[av.Packet]", indices: np.ndarray | None,
            size: tuple[int, int] | None, count: int | None) -> np.ndarray | None:
    """Decode `packets` front to back, converting the frames at `indices` (all when None).

    Args:
        indices: None, or int array (n,) of non-decreasing frame indices (repeats allowed)
            chosen from `count` frames.
        size: None or (height, width).
        count: the number of frames the decoder should give, or None to take what it gives.

    Returns:
        uint8 (n, height, width, 3) in the order of `indices`, or None when the decoder gave
        no frames or a number other than `count`.
    """
    convert: dict[str, Any] = {"format": "rgb24"}
    if size is not None:
        convert.update(height=size[0], width=size[1], interpolation="AREA")
    wanted = None if indices is None else np.unique(indices)  # distinct, sorted
    kept: list[np.ndarray] = []
    seen = 0  # frames out of the decoder
    try:
        for packet in packets:
            for frame in stream.decode(packet):
                if wanted is None or (len(kept) < len(wanted) and wanted[len(kept)] == seen):
                    kept.append(frame.to_ndarray(**convert))
                seen += 1
    except (av.FFmpegError, ValueError) as error:
        raise VideoReadError(f"{path}: decoding failed after {seen} frames (truncated or "
                             f"corrupt?): {_reason(error)}") from error
    if not kept or (count is not None and seen != count):
        return None
    if len({k.shape for k in kept}) > 1:
        raise VideoReadError(f"{path}: the frame size changes within the video "
                             f"({sorted({k.shape for k in kept})}); give a size to resize to")
    frames = np.stack(kept)
    if wanted is not None and indices is not None and len(wanted) != len(indices):
        frames = frames[np.searchsorted(wanted, indices)]  # repeats (a short clip)
    return frames


def _count_decoded_frames(path: pathlib.Path) -> int:
    """Decode every frame without converting it, and count them (the slow, sure count)."""
    count = 0
    with _open(path) as container:
        stream = container.streams.video[0]
        try:
            for _ in container.decode(stream):
                count += 1
        except (av.FFmpegError, ValueError) as error:
            raise VideoReadError(f"{path}: decoding failed after {count} frames: "
                                 f"{_reason(error)}") from error
    return count


# --- helpers: opening and counting -------------------------------------------------------------


def _demux(path: pathlib.Path, container: "av.container.InputContainer",
           stream: "av.video.stream.VideoStream",
           keep: bool = True) -> "tuple[list[av.Packet], int]":
    """The video packets of `stream` (kept in memory when `keep`) and how many hold a frame.

    demux() ends with an empty packet that only flushes the decoder; packets flagged "discard"
    (before the start of an mp4 edit list) are decoded but their frames dropped: neither counts.
    """
    packets, count = [], 0
    try:
        for packet in container.demux(stream):
            if packet.size and not packet.is_discard:
                count += 1
            if keep:
                packets.append(packet)
    except (av.FFmpegError, ValueError) as error:
        raise VideoReadError(f"{path}: demuxing failed after {count} packets: "
                             f"{_reason(error)}") from error
    return packets, count


def _open(path: pathlib.Path) -> "av.container.InputContainer":
    """av.open for reading a video, with every way it fails turned into VideoReadError."""
    try:
        # Metadata that is not UTF-8 (a tag written by an old tool) must not stop the frames.
        container = av.open(str(path), metadata_errors="replace")
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as error:
        raise VideoReadError(f"{path}: FFmpeg cannot open it as a video: "
                             f"{_reason(error)}") from error
    problem = None
    if container.format.name == "tty":
        problem = "a text file, not a video"  # FFmpeg renders .txt and .nfo as ANSI-art video
    elif not container.streams.video:
        streams = ", ".join(f"{s.type} ({_codec_name(s)})" for s in container.streams)
        problem = f"no video stream (streams: {streams or 'none'})"
    elif container.streams.video[0].codec_context is None:
        stream = container.streams.video[0]
        problem = f"no decoder for its video codec ({_codec_name(stream)})"
    if problem is not None:
        container.close()
        raise VideoReadError(f"{path}: {problem}")
    return container


def _codec_name(stream: "av.stream.Stream") -> str:
    # A data stream, or a codec FFmpeg has no decoder for, has no codec context.
    context = stream.codec_context
    if context is not None:
        return str(context.name)
    name = getattr(stream, "codec_tag", None) or "unknown codec"
    return str(name)


def _reason(error: BaseException) -> str:
    # FFmpeg's message without the file name it appends (ours is already in front) or the
    # internal function name it sometimes appends instead.
    return getattr(error, "strerror", None) or str(error)


def _existing_file(path: PathLike) -> pathlib.Path:
    path = pathlib.Path(path)
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "No such video file", str(path))
    if path.is_dir():
        raise VideoReadError(f"{path}: a directory, not a video file")
    if os.path.getsize(path) == 0:
        raise VideoReadError(f"{path}: an empty file (0 bytes)")
    return path


# --- helpers: arguments ------------------------------------------------------------------------


def _check_num_frames(num_frames: object) -> None:
    if (isinstance(num_frames, bool) or not isinstance(num_frames, (int, np.integer))
            or num_frames < 1):
        raise ValueError(f"Invalid num_frames: {num_frames!r} (expected a positive integer, "
                         f"or None for every frame)")


def _check_size(size: Any) -> tuple[int, int] | None:
    if size is None:
        return None
    try:
        values = tuple(size)
    except TypeError:
        values = ()
    if len(values) != 2:
        raise ValueError(f"Invalid size: {size!r} (expected (height, width), or None)")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"Invalid size: {size!r} (expected two positive integers "
                             f"(height, width), or None)")
    return int(values[0]), int(values[1])
