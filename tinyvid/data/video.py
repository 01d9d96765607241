"""Video files -> frames: the first step of the data flow.

`read_video(path)` returns every frame of a video as a uint8 array (frames, height, width, 3),
decoded by FFmpeg through imageio's v3 API and its PyAV plugin (`imageio.v3.imiter`), exactly
as PyAV decodes it to rgb24. Two options make it cheap to feed a frame model:

    read_video(path, num_frames=8)              8 frames spread evenly over the whole clip
    read_video(path, num_frames=8, size=(64, 64))   ... resized by FFmpeg while decoding

How it reads, and why:

1. Count the frames by demuxing (reading the compressed packets without decoding them). The
   container's own frame count and duration are often wrong, so they are not used.
2. Pick the frame indices from that count (`sample_indices`) and decode the file once, front to
   back, keeping only the chosen frames: memory holds num_frames frames, never the whole clip.
   Every frame must be decoded anyway (a compressed frame depends on the ones before it), but
   the colour conversion and resizing are only done for the frames that are kept: an FFmpeg
   `select` filter drops the others inside FFmpeg.
3. If the decoder gives a different number of frames from the demuxer's count (a corrupt
   packet, a clip cut between keyframes), trust the decoder: count what it gives and read again.

Any file FFmpeg cannot read raises `VideoReadError` (a ValueError) naming the file and the
reason; a missing file raises FileNotFoundError naming the path.
"""

import dataclasses
import errno
import os
import pathlib

import av
import imageio.v3 as iio
import numpy as np


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


# FFmpeg's expression parser refuses a `select` expression of much more than 100 terms, so
# beyond this many distinct frames every frame is converted and the choosing is done in Python.
MAX_SELECTED_IN_FFMPEG = 64


# --- frame indices -----------------------------------------------------------------------------


def sample_indices(count, num_frames):
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


def video_info(path):
    """Frame count (by demuxing), frame rate, size and codec of a video, without decoding it.

    Raises:
        FileNotFoundError: no file at `path`.
        VideoReadError: FFmpeg cannot open the file, or it holds no video stream.
    """
    path = _existing_file(path)
    with _open(path) as container:
        stream = container.streams.video[0]
        context = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate
        return VideoInfo(
            path=path,
            num_frames=_count_packets(path, container, stream),
            fps=float(rate) if rate else None,
            width=context.width,
            height=context.height,
            codec=context.name,
            pixel_format=context.pix_fmt,
        )


def read_video(path, num_frames=None, size=None):
    """Decode a video file into an array of RGB frames.

    Args:
        path: a video file (anything FFmpeg reads: mp4, avi, mkv, mov, webm, ...).
        num_frames: None for every frame; or N to get N frames spread evenly over the whole
            clip, first and last included (`sample_indices`: round(linspace(0, count - 1, N))).
            A clip with fewer than N frames repeats some of its frames, by the same rule.
        size: None to keep the stored size, or (height, width) to resize while decoding, with
            FFmpeg's swscale "area" filter: each output pixel is the average of the input
            pixels it covers when shrinking (no aliasing of the background noise), bilinear
            when enlarging.

    Returns:
        uint8 array of shape (frames, height, width, 3), RGB. Grayscale, RGBA and other pixel
        formats are converted to rgb24 by FFmpeg (an alpha channel is dropped, not blended).
        With no options the frames are exactly what PyAV's `frame.to_ndarray(format="rgb24")`
        gives for the same file.

    Raises:
        FileNotFoundError: no file at `path`.
        VideoReadError: the file cannot be read as a video (not a video, empty, truncated, no
            video stream, no frames, a decoding error), naming the file and the reason.
    """
    path = _existing_file(path)
    if num_frames is not None:
        _check_num_frames(num_frames)
    size = _check_size(size)

    count = _count_frames(path)
    frames, decoded = _decode(path, _wanted_indices(count, num_frames), size, count)
    if decoded != count:
        # The decoder and the demuxer disagree (a corrupt packet, a clip cut between keyframes
        # whose first frames cannot be decoded). The decoder is the truth: count what it gives
        # and choose the frames again from that count. Rare, so a second pass is fine.
        if decoded is None:
            decoded = _count_decoded_frames(path)
        if decoded == 0:
            raise VideoReadError(f"{path}: the demuxer found {count} video packets but the "
                                 f"decoder gave no frames")
        frames, _ = _decode(path, _wanted_indices(decoded, num_frames), size, decoded)
    return frames


# --- helpers: decoding -------------------------------------------------------------------------


def _wanted_indices(count, num_frames):
    return np.arange(count) if num_frames is None else sample_indices(count, num_frames)


def _decode(path, indices, size, count):
    """Decode `path` once, front to back, keeping the frames at `indices`.

    Args:
        indices: int array (n,), non-decreasing frame indices (repeats allowed) in [0, count).
        size: None or (height, width).
        count: the number of frames the file is believed to hold.

    Returns:
        (frames, decoded): frames is uint8 (n, height, width, 3) in the order of `indices`;
        decoded is how many frames the decoder gave, or None when the `select` filter hid that
        number (only when it gave fewer than expected).
    """
    wanted, slots = np.unique(indices, return_inverse=True)  # distinct indices, sorted
    in_ffmpeg = len(wanted) < count and len(wanted) <= MAX_SELECTED_IN_FFMPEG
    filters = []
    if in_ffmpeg:
        # select passes the frames whose input number n is wanted, and any frame past `count`
        # so that a decoder giving more frames than counted is noticed.
        terms = [f"eq(n\\,{i})" for i in wanted] + [f"gte(n\\,{count})"]
        filters.append(("select", "+".join(terms)))
    if size is not None:
        height, width = size
        filters += [("scale", f"{width}:{height}:flags=area"), ("format", "rgb24")]

    kept = None  # allocated at the first kept frame, when its shape is known
    seen = 0     # frames out of the decoder (out of the select filter, when there is one)
    try:
        frames = iio.imiter(path, plugin="pyav", format="rgb24", filter_sequence=filters or None)
        for frame in frames:
            if in_ffmpeg:
                position = seen if seen < len(wanted) else None
            else:
                position = np.searchsorted(wanted, seen)
                if position == len(wanted) or wanted[position] != seen:
                    position = None
            if position is not None:
                if kept is None:
                    kept = np.empty((len(wanted),) + frame.shape, dtype=np.uint8)
                kept[position] = frame  # copies: imageio's array is a view of FFmpeg's buffer
            seen += 1
    except (av.FFmpegError, OSError, ValueError) as error:
        raise VideoReadError(f"{path}: decoding failed (truncated or corrupt?): "
                             f"{_reason(error)}") from error

    if in_ffmpeg:
        decoded = None if seen < len(wanted) else count + seen - len(wanted)
    else:
        decoded = seen
    if decoded != count:
        return None, decoded
    if len(wanted) == len(indices):
        return kept, decoded       # no repeats: the kept frames are already in order
    return kept[slots], decoded    # repeats (a short clip): copy each frame to every slot


def _count_decoded_frames(path):
    """Decode every frame without converting it, and count them (the slow, sure count)."""
    count = 0
    try:
        with av.open(str(path)) as container:
            for _ in container.decode(container.streams.video[0]):
                count += 1
    except av.FFmpegError as error:
        raise VideoReadError(f"{path}: decoding failed after {count} frames: "
                             f"{_reason(error)}") from error
    return count


# --- helpers: opening and counting -------------------------------------------------------------


def _count_frames(path):
    """Video packets in the file, counted by demuxing: no decoding, a few ms for a short clip."""
    with _open(path) as container:
        count = _count_packets(path, container, container.streams.video[0])
    if count == 0:
        raise VideoReadError(f"{path}: the video stream holds no frames")
    return count


def _count_packets(path, container, stream):
    # demux() ends with an empty packet that only flushes the decoder; packets flagged
    # "discard" (before the start of an mp4 edit list) are decoded but their frames dropped.
    count = 0
    try:
        for packet in container.demux(stream):
            if packet.size and not packet.is_discard:
                count += 1
    except av.FFmpegError as error:
        raise VideoReadError(f"{path}: demuxing failed after {count} packets: "
                             f"{_reason(error)}") from error
    return count


def _open(path):
    """av.open for reading, with FFmpeg's errors turned into VideoReadError naming the file."""
    try:
        container = av.open(str(path))
    except av.FFmpegError as error:
        raise VideoReadError(f"{path}: FFmpeg cannot open it as a video: "
                             f"{_reason(error)}") from error
    if not container.streams.video:
        streams = ", ".join(f"{s.type} ({s.codec_context.name})" for s in container.streams)
        container.close()
        raise VideoReadError(f"{path}: no video stream (streams: {streams or 'none'})")
    if container.format.name == "tty":
        container.close()  # FFmpeg renders .txt and .nfo files as ANSI-art video
        raise VideoReadError(f"{path}: a text file, not a video")
    return container


def _reason(error):
    # FFmpeg's message without the file name it appends (ours is already in front) or the
    # internal function name it sometimes appends instead.
    return getattr(error, "strerror", None) or str(error)


def _existing_file(path):
    path = pathlib.Path(path)
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "No such video file", str(path))
    if path.is_dir():
        raise VideoReadError(f"{path}: a directory, not a video file")
    if os.path.getsize(path) == 0:
        raise VideoReadError(f"{path}: an empty file (0 bytes)")
    return path


# --- helpers: arguments ------------------------------------------------------------------------


def _check_num_frames(num_frames):
    if (isinstance(num_frames, bool) or not isinstance(num_frames, (int, np.integer))
            or num_frames < 1):
        raise ValueError(f"Invalid num_frames: {num_frames!r} (expected a positive integer, "
                         f"or None for every frame)")


def _check_size(size):
    if size is None:
        return None
    try:
        height, width = size
    except (TypeError, ValueError):
        raise ValueError(f"Invalid size: {size!r} (expected (height, width), or None)") from None
    for value in (height, width):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"Invalid size: {size!r} (expected two positive integers "
                             f"(height, width), or None)")
    return int(height), int(width)
