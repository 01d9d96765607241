"""Broken video files (issue 15, items 1-4): each one a VideoReadError naming the file, or frames.

The files are made here from real encodings: a truncated mp4 whose only stream left is a data
stream, an mkv whose codec id is unknown, metadata that is not UTF-8, and a clip cut between
keyframes, whose decoder gives fewer frames than the demuxer counts (read_video's second pass).
"""

import re

import av
import imageio.v3 as iio
import numpy as np
import pytest

from tinyvid.data import video
from tinyvid.data.moving_shapes import MOVING_SHAPES_CLASSES, moving_shapes_video
from tinyvid.data.video import VideoReadError, read_video, sample_indices, video_info

READS = {
    "video_info": video_info,
    "read_video": read_video,
    "sampled and resized": lambda path: read_video(path, num_frames=4, size=(8, 8)),
}


def named(path):
    return re.escape(str(path))


def level_frames(count, height=32, width=48):
    """uint8 (count, height, width, 3): frame i is flat grey at level 8 + 8 i."""
    levels = 8 + 8 * np.arange(count)
    return np.broadcast_to(levels[:, None, None, None], (count, height, width, 3)).astype(np.uint8)


def levels_of(frames):
    return np.round((frames.reshape(len(frames), -1).mean(axis=1) - 8) / 8).astype(int)


@pytest.fixture(scope="module")
def shapes_mp4(tmp_path_factory):
    """A moving-shapes video written as make_moving_shapes writes it."""
    path = tmp_path_factory.mktemp("broken") / "shapes.mp4"
    frames = moving_shapes_video(MOVING_SHAPES_CLASSES[0], 0)
    iio.imwrite(path, frames, plugin="pyav", codec="libx264", fps=10, out_pixel_format="yuv420p")
    return path


def test_a_truncated_mp4_left_with_only_a_data_stream(shapes_mp4, tmp_path):
    # Cut near the end, the mp4's index still names a stream, but no longer as video: FFmpeg
    # opens it with one data stream, which has no codec context.
    data = shapes_mp4.read_bytes()
    path = tmp_path / "truncated.mp4"
    for end in range(len(data) - 1, len(data) - 2000, -1):
        path.write_bytes(data[:end])
        try:
            with av.open(str(path)) as container:
                types = [s.type for s in container.streams]
        except av.FFmpegError:
            continue
        if types == ["data"]:
            break
    else:
        pytest.skip("this FFmpeg build never leaves a data stream alone in a truncated mp4")
    for read in READS.values():
        with pytest.raises(VideoReadError, match=named(path) + ".*no video stream.*data"):
            read(path)


def test_an_mkv_with_an_unknown_codec_id(tmp_path):
    path = tmp_path / "unknown.mkv"
    iio.imwrite(path, level_frames(4), plugin="pyav", codec="mjpeg", fps=10,
                out_pixel_format="yuvj420p")
    data = path.read_bytes()
    assert data.count(b"V_MJPEG") == 1
    path.write_bytes(data.replace(b"V_MJPEG", b"V_ZZZZZ"))
    for read in READS.values():
        with pytest.raises(VideoReadError, match=named(path) + ".*no decoder"):
            read(path)


def test_metadata_that_is_not_utf8_does_not_stop_the_frames(tmp_path):
    path = tmp_path / "latin1-title.mkv"
    with av.open(str(path), "w") as container:
        container.metadata["title"] = "QQQQQQQQ"
        stream = container.add_stream("mjpeg", 10)
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuvj420p"
        for frame in level_frames(5):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    data = path.read_bytes()
    path.write_bytes(data.replace(b"QQQQQQQQ", b"\xff\xfe\xc3\x28caf\xe9"))
    with pytest.raises(UnicodeDecodeError):  # what PyAV does by default
        av.open(str(path))
    assert video_info(path).num_frames == 5
    np.testing.assert_array_equal(levels_of(read_video(path)), np.arange(5))
    assert read_video(path, num_frames=2, size=(8, 8)).shape == (2, 8, 8, 3)


# --- the second pass: the decoder's count differs from the demuxer's ------------------------


@pytest.fixture(scope="module")
def cut_between_keyframes(tmp_path_factory):
    """20 frames with a keyframe every 10, remuxed without the first 3 packets: the demuxer
    counts 17 packets, the decoder gives the 10 frames from the second keyframe on."""
    folder = tmp_path_factory.mktemp("cut")
    whole, cut = folder / "whole.mkv", folder / "cut.mkv"
    with av.open(str(whole), "w") as container:
        stream = container.add_stream("libx264", 10)
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
        stream.options = {"g": "10", "keyint_min": "10", "bf": "0", "sc_threshold": "0"}
        for frame in level_frames(20):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    with av.open(str(whole)) as source, av.open(str(cut), "w") as target:
        stream_in = source.streams.video[0]
        stream_out = target.add_stream_from_template(stream_in)
        for k, packet in enumerate(source.demux(stream_in)):
            if packet.dts is not None and k >= 3:
                packet.stream = stream_out
                target.mux(packet)
    return cut


def test_the_second_pass_chooses_from_the_decoders_count(cut_between_keyframes, monkeypatch):
    assert video_info(cut_between_keyframes).num_frames == 17   # the demuxer's count
    np.testing.assert_array_equal(levels_of(read_video(cut_between_keyframes)),
                                  np.arange(10, 20))              # what the decoder gives
    second_passes = []
    count_decoded = video._count_decoded_frames
    monkeypatch.setattr(video, "_count_decoded_frames",
                        lambda path: second_passes.append(path) or count_decoded(path))
    for num_frames in (1, 4, 10, 13):
        frames = read_video(cut_between_keyframes, num_frames=num_frames, size=(16, 16))
        assert frames.shape == (num_frames, 16, 16, 3)
        np.testing.assert_array_equal(levels_of(frames), 10 + sample_indices(10, num_frames))
    assert len(second_passes) == 4


def test_a_decoder_that_gives_no_frames_at_all(cut_between_keyframes, monkeypatch):
    monkeypatch.setattr(video, "_count_decoded_frames", lambda path: 0)
    with pytest.raises(VideoReadError, match=named(cut_between_keyframes) + ".*17 video "
                                             "packets but the decoder gave no frames"):
        read_video(cut_between_keyframes, num_frames=4)


def test_a_decoder_that_gives_another_count_on_each_pass(cut_between_keyframes, monkeypatch):
    monkeypatch.setattr(video, "_count_decoded_frames", lambda path: 12)
    with pytest.raises(VideoReadError, match=named(cut_between_keyframes) + ".*not repeatable"):
        read_video(cut_between_keyframes, num_frames=4)


def test_video_folder_and_the_cli_report_each_broken_file_in_one_line(tmp_path, caplog,
                                                                     capsys):
    from tinyvid.data.folder import VideoFolder

    good = level_frames(4)
    for name in ("a", "b"):
        (tmp_path / "root" / name).mkdir(parents=True)
        iio.imwrite(tmp_path / "root" / name / "ok.mkv", good, plugin="pyav", codec="mjpeg",
                    fps=10, out_pixel_format="yuvj420p")
    unknown = tmp_path / "root" / "a" / "unknown.mkv"
    unknown.write_bytes((tmp_path / "root" / "a" / "ok.mkv").read_bytes()
                        .replace(b"V_MJPEG", b"V_ZZZZZ"))
    folder = VideoFolder(tmp_path / "root", num_frames=2, size=(8, 8))
    assert len(folder) == 2 and [p for p, _ in folder.skipped] == [unknown]
    lines = [r.getMessage() for r in caplog.records if str(unknown) in r.getMessage()]
    assert len(lines) == 1 and "no decoder" in lines[0] and "\n" not in lines[0]

    import json

    from tinyvid.cli import build_model, main

    model = build_model(2, 8)
    model.save_weights(tmp_path / "model.weights.npz")
    (tmp_path / "model.json").write_text(json.dumps({"classes": ["a", "b"], "frame_size": 8,
                                                     "num_frames": 2}))
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "model.weights.npz"), str(unknown)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(unknown) in err and "no decoder" in err
