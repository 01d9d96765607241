"""A short fuzz run: mutated real encodings read in a child process, frames or VideoReadError.

The long run (thousands of files) is `python -m benchmarks.fuzz_video`; this one reads a few
dozen mutants of each seed encoding in all three read modes, in a few seconds.
"""

import pytest

from benchmarks import fuzz_video


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    try:
        return fuzz_video.make_seeds(tmp_path_factory.mktemp("seeds"))
    except Exception as error:  # an FFmpeg build without one of the encoders
        pytest.skip(f"cannot write the seed videos: {error}")


def test_mutated_videos_give_frames_or_a_video_read_error(seeds, tmp_path):
    paths = fuzz_video.write_mutants(tmp_path, seeds, count=48, seed=1234)
    outcomes = fuzz_video.read_all(paths)
    assert sum(outcomes.values()) == 48 * len(fuzz_video.MODES)
    assert set(outcomes) <= {"frames", "VideoReadError"}, outcomes
    assert outcomes["VideoReadError"] > 0  # the mutations do break files


def test_the_fuzz_harness_catches_a_crash(tmp_path, monkeypatch):
    # A child that dies mid-read must show as a crash, not vanish from the counts.
    crashing = fuzz_video._CHILD.replace("frames = read_video", "import os; os._exit(3)\n"
                                         "        frames = read_video")
    monkeypatch.setattr(fuzz_video, "_CHILD", crashing)
    path = tmp_path / "any.mp4"
    path.write_bytes(b"\0" * 100)
    outcomes = fuzz_video.read_all([path, path], modes=("full",))
    assert outcomes == {"crash (exit status 3)": 2}
