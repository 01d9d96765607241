"""Reading video files: every frame as PyAV decodes it, even sampling, resizing, and errors.

The videos are written here with imageio, small, and read back. Frames whose grey level encodes
their index (level 8 + 8 i) show which frames came back after sampling: h264 keeps a flat grey
frame within a level or two, far from the 8 levels between two indices.
"""

import re

import av
import hypothesis.strategies as st
import imageio.v3 as iio
import numpy as np
import pytest
from hypothesis import given

from tinyvid import video
from tinyvid.video import VideoReadError, read_video, sample_indices, video_info


def write_video(path, frames, fps=10, codec="libx264", **options):
    iio.imwrite(path, frames, plugin="pyav", codec=codec, fps=fps, **options)
    return path


def index_frames(count, height=32, width=48):
    """uint8 (count, height, width, 3): frame i is flat grey at level 8 + 8 i."""
    levels = 8 + 8 * np.arange(count)
    return np.broadcast_to(levels[:, None, None, None], (count, height, width, 3)).astype(np.uint8)


def frame_indices(frames):
    """Which frames of an `index_frames` video these are, read from their grey level."""
    return np.round((frames.reshape(len(frames), -1).mean(axis=1) - 8) / 8).astype(int)


def pyav_frames(path):
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


@pytest.fixture(scope="module")
def counted(tmp_path_factory):
    """A 27-frame video whose frames' grey levels say their index."""
    return write_video(tmp_path_factory.mktemp("videos") / "counted.mp4", index_frames(27),
                       out_pixel_format="yuv420p")


@pytest.fixture(scope="module")
def noisy(tmp_path_factory):
    """12 frames of colour noise: every pixel differs, so any difference from PyAV shows."""
    frames = np.random.default_rng(0).integers(0, 256, (12, 40, 56, 3), dtype=np.uint8)
    return write_video(tmp_path_factory.mktemp("videos") / "noisy.mp4", frames)


# --- every frame -------------------------------------------------------------------------------


def test_every_frame_is_exactly_what_pyav_decodes(noisy):
    frames = read_video(noisy)
    assert frames.dtype == np.uint8 and frames.shape == (12, 40, 56, 3)
    np.testing.assert_array_equal(frames, pyav_frames(noisy))


# Codecs and containers met in the wild, with what makes each awkward: B-frames reorder
# decoding, odd sizes need padding, MJPEG uses full-range YUV, 4:4:4 has no subsampling.
CODECS = {
    "h264_bframes.mp4": ("libx264", "yuv420p", 160, 120, {"bf": "3", "g": "12"}),
    "mpeg4_odd_size.avi": ("mpeg4", "yuv420p", 98, 74, {}),
    "vp9.webm": ("libvpx-vp9", "yuv420p", 96, 64, {}),
    "mjpeg.avi": ("mjpeg", "yuvj420p", 64, 48, {}),
    "h264_444.mkv": ("libx264", "yuv444p", 64, 64, {}),
}


@pytest.mark.parametrize("name", CODECS)
def test_other_codecs_and_containers_decode_exactly_as_pyav(tmp_path, name):
    codec, pix_fmt, width, height, options = CODECS[name]
    path = tmp_path / name
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.options = options
        for i in range(20):
            image = (rng.random((height, width, 3)) * 60 + i * 5).astype(np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    expected = pyav_frames(path)
    np.testing.assert_array_equal(read_video(path), expected)
    np.testing.assert_array_equal(read_video(path, num_frames=7), expected[sample_indices(len(expected), 7)])


def test_frames_come_back_close_to_what_was_written(counted):
    frames = read_video(counted)
    assert frames.shape == (27, 32, 48, 3)
    np.testing.assert_allclose(frames, index_frames(27), atol=3)
    np.testing.assert_array_equal(frame_indices(frames), np.arange(27))


def test_video_info_counts_frames_without_decoding(counted):
    info = video_info(counted)
    assert (info.num_frames, info.width, info.height, info.codec) == (27, 48, 32, "h264")
    assert info.fps == pytest.approx(10)
    assert info.pixel_format == "yuv420p"


# --- sampling ----------------------------------------------------------------------------------


def test_sample_indices_rounds_like_numpy():
    np.testing.assert_array_equal(sample_indices(27, 8), [0, 4, 7, 11, 15, 19, 22, 26])
    np.testing.assert_array_equal(sample_indices(6, 3), [0, 2, 5])   # 2.5 rounds to even
    np.testing.assert_array_equal(sample_indices(3, 8), [0, 0, 1, 1, 1, 1, 2, 2])
    np.testing.assert_array_equal(sample_indices(5, 1), [0])
    np.testing.assert_array_equal(sample_indices(1, 3), [0, 0, 0])


@given(count=st.integers(1, 5000), num_frames=st.integers(2, 300))
def test_sample_indices_span_the_clip_in_order(count, num_frames):
    indices = sample_indices(count, num_frames)
    assert indices.dtype == np.int64 and indices.shape == (num_frames,)
    assert indices[0] == 0 and indices[-1] == count - 1
    assert np.all(np.diff(indices) >= 0)
    np.testing.assert_array_equal(indices, np.round(np.linspace(0, count - 1, num_frames)))


@pytest.mark.parametrize("num_frames", [1, 2, 8, 26, 27])
def test_num_frames_picks_evenly_spaced_frames(counted, num_frames):
    frames = read_video(counted, num_frames=num_frames)
    assert frames.shape == (num_frames, 32, 48, 3)
    np.testing.assert_array_equal(frame_indices(frames), sample_indices(27, num_frames))


def test_sampled_frames_are_exactly_those_of_the_full_read(noisy):
    expected = pyav_frames(noisy)[sample_indices(12, 5)]
    np.testing.assert_array_equal(read_video(noisy, num_frames=5), expected)


def test_a_clip_shorter_than_num_frames_repeats_frames(tmp_path):
    path = write_video(tmp_path / "short.mp4", index_frames(3))
    frames = read_video(path, num_frames=8)
    assert frames.shape == (8, 32, 48, 3)
    np.testing.assert_array_equal(frame_indices(frames), [0, 0, 1, 1, 1, 1, 2, 2])


def test_a_one_frame_video(tmp_path):
    path = write_video(tmp_path / "one.mp4", index_frames(1))
    assert read_video(path).shape == (1, 32, 48, 3)
    np.testing.assert_array_equal(frame_indices(read_video(path, num_frames=4)), [0, 0, 0, 0])


@pytest.mark.parametrize("wrong_by", [+5, -5])
def test_the_decoders_count_wins_when_the_demuxers_count_is_wrong(counted, monkeypatch, wrong_by):
    # +5: the decoder gives fewer frames than packets were counted (corrupt packets, a clip cut
    # between keyframes); -5: more. Either way the frames are chosen from the decoded count.
    demux = video._demux

    def miscounted(*args, **kwargs):
        packets, count = demux(*args, **kwargs)
        return packets, count + wrong_by

    monkeypatch.setattr(video, "_demux", miscounted)
    sampled = read_video(counted, num_frames=6)
    np.testing.assert_array_equal(frame_indices(sampled), sample_indices(27, 6))
    np.testing.assert_array_equal(frame_indices(read_video(counted)), np.arange(27))


# --- resizing ----------------------------------------------------------------------------------


def test_size_resizes_while_decoding(tmp_path):
    y, x = np.mgrid[0:64, 0:96]
    smooth = np.stack([np.stack([2 * x, 3 * y, x + y], axis=-1)] * 4).astype(np.uint8)
    path = write_video(tmp_path / "smooth.mp4", smooth)
    full = read_video(path).astype(np.float64)
    half = read_video(path, size=(32, 48))
    assert half.dtype == np.uint8 and half.shape == (4, 32, 48, 3)
    # "area" averages the pixels each output pixel covers: here 2 x 2 blocks
    blocks = full.reshape(4, 32, 2, 48, 2, 3).mean(axis=(2, 4))
    assert np.abs(half - blocks).mean() < 2 and np.abs(half - blocks).max() < 8
    assert read_video(path, size=(100, 30)).shape == (4, 100, 30, 3)   # any size, even enlarging


def test_size_and_num_frames_together(counted):
    frames = read_video(counted, num_frames=5, size=(16, 16))
    assert frames.shape == (5, 16, 16, 3)
    np.testing.assert_array_equal(frame_indices(frames), sample_indices(27, 5))


# --- pixel formats -----------------------------------------------------------------------------


def test_a_grayscale_video_comes_back_rgb(tmp_path):
    gray = index_frames(6)[..., 0]
    path = write_video(tmp_path / "gray.mkv", gray, codec="ffv1", in_pixel_format="gray",
                       out_pixel_format="gray")
    assert video_info(path).pixel_format == "gray"
    frames = read_video(path)
    assert frames.shape == (6, 32, 48, 3)
    np.testing.assert_array_equal(frames, np.repeat(gray[..., None], 3, axis=-1))  # lossless


def test_an_rgba_video_comes_back_rgb_without_alpha(tmp_path):
    rgba = np.random.default_rng(1).integers(0, 256, (4, 16, 24, 4), dtype=np.uint8)
    path = write_video(tmp_path / "rgba.mov", rgba, codec="png", in_pixel_format="rgba",
                       out_pixel_format="rgba")
    assert video_info(path).pixel_format == "rgba"
    np.testing.assert_array_equal(read_video(path), rgba[..., :3])  # alpha dropped, not blended
    assert read_video(path, num_frames=2, size=(8, 12)).shape == (2, 8, 12, 3)


# --- errors ------------------------------------------------------------------------------------


def named(path):
    return re.escape(str(path))


def test_a_missing_file_names_the_path(tmp_path):
    missing = tmp_path / "nowhere" / "clip.mp4"
    with pytest.raises(FileNotFoundError, match=named(missing)):
        read_video(missing)
    with pytest.raises(FileNotFoundError, match=named(missing)):
        video_info(missing)


@pytest.mark.parametrize("kind, reason", [
    ("empty", "empty file"),
    ("random bytes", "cannot open it as a video"),
    ("text named .mp4", "cannot open it as a video"),
    ("text named .txt", "a text file"),
    ("first half of an mp4", "cannot open it as a video"),  # the index (moov) is at the end
])
def test_unreadable_files_raise_video_read_error_naming_the_file(tmp_path, noisy, kind, reason):
    path = tmp_path / ("notes.txt" if kind.endswith(".txt") else "clip.mp4")
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "random bytes":
        path.write_bytes(np.random.default_rng(0).bytes(5000))
    elif kind.startswith("text"):
        path.write_text("this is not a video\n" * 50)
    else:
        data = noisy.read_bytes()
        path.write_bytes(data[:len(data) // 2])
    for read in (read_video, video_info, lambda p: read_video(p, num_frames=4, size=(8, 8))):
        with pytest.raises(VideoReadError, match=named(path) + ".*" + reason):
            read(path)


def test_a_truncated_video_with_its_index_first_fails_while_decoding(tmp_path):
    # With "faststart" the index comes first: the file opens and demuxes, and decoding fails.
    path = tmp_path / "faststart.mp4"
    frames = np.random.default_rng(2).integers(0, 256, (20, 32, 32, 3), dtype=np.uint8)
    with av.open(str(path), "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", 10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(VideoReadError, match=named(path) + ".*decoding failed") as caught:
        read_video(path, num_frames=4)
    assert isinstance(caught.value.__cause__, av.FFmpegError)  # chained, for the full story


def test_a_file_without_a_video_stream(tmp_path):
    path = tmp_path / "sound.m4a"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", 8000)
        silence = np.zeros((1, 1024), np.float32)
        frame = av.AudioFrame.from_ndarray(silence, format="fltp", layout="mono")
        frame.sample_rate = 8000
        container.mux(stream.encode(frame))
        container.mux(stream.encode())
    with pytest.raises(VideoReadError, match=named(path) + ".*no video stream.*audio"):
        read_video(path)


def test_a_directory_is_not_a_video(tmp_path):
    with pytest.raises(VideoReadError, match=named(tmp_path) + ".*directory"):
        read_video(tmp_path)


@pytest.mark.parametrize("num_frames", [0, -1, 2.5, True, "8"])
def test_invalid_num_frames(counted, num_frames):
    with pytest.raises(ValueError, match="Invalid num_frames"):
        read_video(counted, num_frames=num_frames)


@pytest.mark.parametrize("size", [(0, 8), (8,), 64, (8, 8, 3), (8.0, 8), "64x64"])
def test_invalid_size(counted, size):
    with pytest.raises(ValueError, match="Invalid size"):
        read_video(counted, size=size)
