"""Decoding ahead of training (issue 16): FrameBatches(workers=..., use_multiprocessing=...).

The batches, and so the trained weights, must not depend on the number of workers or on
threads against processes; an error in a worker must reach the user as the same VideoReadError
naming the file; Ctrl-C must stop the workers. Processes take a second or two to start (each
imports tinyvid afresh), so the process cases share one test where they can.
"""

import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import av
import numpy as np
import pytest

from tinyvid.data.batches import FrameBatches
from tinyvid.data.folder import VideoFolder
from tinyvid.data.moving_shapes import make_moving_shapes
from tinyvid.data.video import VideoReadError

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """3 classes x 4 videos x 4 frames of 16 x 16, and one video that demuxes but cannot be
    decoded (a truncated mp4 with its index first): found only when read."""
    root = make_moving_shapes(tmp_path_factory.mktemp("workers") / "root", videos_per_class=4,
                              num_frames=4, size=16,
                              classes=("red_circle", "green_square", "blue_triangle"))
    broken = root / "green_square" / "zz_broken.mp4"
    with av.open(str(broken), "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", 10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        rng = np.random.default_rng(2)
        for _ in range(20):
            frame = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    data = broken.read_bytes()
    broken.write_bytes(data[:len(data) // 2])
    return root, broken


def epochs_of_batches(batches, epochs=2):
    out = []
    for _ in range(epochs):
        out += [batches[i] for i in range(len(batches))]
        batches.on_epoch_end()
    batches.close()
    return out


def assert_same_batches(a, b):
    assert len(a) == len(b)
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)


def train(batches, seed=0):
    from tinyvid.layers import Conv2D, Dense, Flatten
    from tinyvid.models import Sequential
    from tinyvid.utils import set_random_seed

    set_random_seed(seed)
    model = Sequential([Conv2D(4, (3, 3), activation="relu", input_shape=(16, 16, 3)),
                        Flatten(), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    model.fit(batches, epochs=2, verbose=0)
    batches.close()
    return model.get_weights()


@pytest.mark.parametrize("workers, max_queue_size", [(2, 10), (3, 1), (2, 100)])
def test_thread_workers_give_the_same_batches(shapes, workers, max_queue_size):
    root, _ = shapes
    folder = VideoFolder(root, num_frames=4, size=(16, 16))
    serial = epochs_of_batches(FrameBatches(folder, batch_size=5))
    ahead = epochs_of_batches(FrameBatches(folder, batch_size=5, workers=workers,
                                           max_queue_size=max_queue_size))
    assert_same_batches(serial, ahead)
    assert folder.skipped and folder.skipped[0][0].name == "zz_broken.mp4"


@pytest.mark.slow
def test_process_workers_give_the_same_batches_and_weights(shapes):
    root, _ = shapes
    folder = VideoFolder(root, num_frames=4, size=(16, 16))
    serial = epochs_of_batches(FrameBatches(folder, batch_size=5))
    in_processes = FrameBatches(folder, batch_size=5, workers=2, use_multiprocessing=True)
    assert_same_batches(serial, epochs_of_batches(in_processes))
    weights = train(FrameBatches(folder, batch_size=5))
    for other in (train(FrameBatches(folder, batch_size=5, workers=1, use_multiprocessing=True)),
                  train(FrameBatches(folder, batch_size=5, workers=3))):
        for w, v in zip(weights, other):
            np.testing.assert_array_equal(w, v)


@pytest.mark.parametrize("use_multiprocessing", [
    False, pytest.param(True, marks=pytest.mark.slow)])
def test_an_error_in_a_worker_is_the_same_video_read_error(shapes, use_multiprocessing):
    root, broken = shapes
    folder = VideoFolder(root, num_frames=4, size=(16, 16), on_error="raise")
    assert broken in folder.videos  # it demuxes: only decoding finds it broken
    batches = FrameBatches(folder, batch_size=5, workers=2,
                           use_multiprocessing=use_multiprocessing)
    with pytest.raises(VideoReadError, match=re.escape(str(broken)) + ".*decoding failed"):
        for i in range(len(batches)):
            batches[i]
    batches.close()


def test_workers_arguments_are_checked(shapes):
    folder = VideoFolder(shapes[0], num_frames=4, size=(16, 16))
    for arguments, name in (({"workers": -1}, "workers"), ({"workers": 1.5}, "workers"),
                            ({"max_queue_size": 0}, "max_queue_size"),
                            ({"use_multiprocessing": "yes"}, "use_multiprocessing")):
        with pytest.raises(ValueError, match=f"FrameBatches: invalid value for argument "
                                             f"`{name}`"):
            FrameBatches(folder, **arguments)


CTRL_C = r"""
import faulthandler, os, signal, sys, time
faulthandler.register(signal.SIGUSR1)  # the test asks for every thread's stack if this hangs
from tinyvid.data.batches import FrameBatches
from tinyvid.data.folder import VideoFolder

def main():
    folder = VideoFolder(sys.argv[1], num_frames=4, size=(16, 16))
    batches = FrameBatches(folder, batch_size=2, workers=2, use_multiprocessing=True)
    batches[0]
    print(" ".join(str(h.pid) for h in batches._reader._handles), flush=True)
    while True:  # a training loop that never ends
        for i in range(len(batches)):
            batches[i]
            time.sleep(0.05)
        batches.on_epoch_end()

if __name__ == "__main__":
    main()
"""


def start_training_loop(shapes, tmp_path, stderr):
    """The CTRL_C script in a child process, and the pids of its 2 worker processes."""
    script = tmp_path / "loop.py"
    script.write_text(CTRL_C)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    child = subprocess.Popen([sys.executable, str(script), str(shapes[0])], env=env,
                             stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        pids = [int(p) for p in child.stdout.readline().split()]
        assert len(pids) == 2
    except BaseException:
        child.kill()
        raise
    return child, pids


def gone_within(pids, seconds):
    """Whether every process in pids has ended (or is a zombie) within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.1)
    return not any(_alive(pid) for pid in pids)


@pytest.mark.slow
def test_ctrl_c_stops_the_worker_processes(shapes, tmp_path):
    child, pids = start_training_loop(shapes, tmp_path, stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)
        child.send_signal(signal.SIGINT)
        try:
            _, stderr = child.communicate(timeout=30)
        except subprocess.TimeoutExpired:  # say where it hangs: every thread's stack, then fail
            sigint = _ignores_sigint(child.pid)
            child.send_signal(signal.SIGUSR1)
            time.sleep(1)
            child.kill()
            for pid in pids:  # the workers keep the child's pipes open while they live
                _kill(pid)
            _, stderr = child.communicate(timeout=10)
            pytest.fail(f"Ctrl-C did not end the training loop within 30 s (SIGINT {sigint}); "
                        f"its stacks:\n{stderr}")
    finally:
        child.kill()
    assert "KeyboardInterrupt" in stderr
    assert stderr.count("Traceback") == 1  # the main process's, none from the workers
    assert gone_within(pids, 10)


@pytest.mark.slow
def test_worker_processes_end_when_the_main_process_is_killed(shapes, tmp_path):
    """SIGKILL leaves the main process no time to stop its workers: they must see it is gone."""
    child, pids = start_training_loop(shapes, tmp_path, stderr=subprocess.DEVNULL)
    try:
        child.kill()
        child.wait(timeout=10)
        assert gone_within(pids, 15)
    finally:
        child.kill()
        for pid in pids:
            _kill(pid)


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _ignores_sigint(pid):
    """From /proc: whether the process ignores SIGINT (SigIgn) or blocks it (SigBlk)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
    except OSError:
        return "unknown"
    bit = 1 << (signal.SIGINT - 1)
    return (f"ignored={bool(int(fields['SigIgn'], 16) & bit)}, "
            f"blocked={bool(int(fields['SigBlk'], 16) & bit)}")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie waiting for its parent (init) to reap it has stopped
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_a_warm_cache_needs_no_workers(shapes, tmp_path):
    import shutil

    root = shutil.copytree(shapes[0], tmp_path / "readable",
                           ignore=shutil.ignore_patterns("zz_broken.mp4"))
    folder = VideoFolder(root, num_frames=4, size=(16, 16), cache_dir=tmp_path / "cache")
    cold = FrameBatches(folder, batch_size=5, workers=2)
    first = epochs_of_batches(cold, epochs=1)
    warm = FrameBatches(folder, batch_size=5, workers=2)
    assert_same_batches(first, [warm[i] for i in range(len(warm))])
    assert warm._reader is None  # every video came from the cache, read here


def clip_batches(folder, **kwargs):
    from tinyvid.data.clips import ClipAugmentation, ClipBatches

    return ClipBatches(folder, batch_size=3, num_frames=3, sampling="segments",
                       augmentation=ClipAugmentation(crop=(12, 12)), **kwargs)


@pytest.mark.parametrize("use_multiprocessing", [
    False, pytest.param(True, marks=pytest.mark.slow)])
def test_clip_batches_read_ahead_give_the_same_clips(shapes, use_multiprocessing):
    """Segments and augmentation come from (seed, epoch, video): not from who read the video."""
    root, _ = shapes
    folder = VideoFolder(root, num_frames=None, size=(16, 16))  # ClipBatches picks the frames
    serial = epochs_of_batches(clip_batches(folder))
    ahead = clip_batches(folder, workers=2, use_multiprocessing=use_multiprocessing)
    assert_same_batches(serial, epochs_of_batches(ahead))
    assert folder.skipped and folder.skipped[0][0].name == "zz_broken.mp4"


def test_an_error_in_a_clip_worker_is_the_same_video_read_error(shapes):
    root, broken = shapes
    folder = VideoFolder(root, num_frames=None, size=(16, 16), on_error="raise")
    batches = clip_batches(folder, workers=2)
    with pytest.raises(VideoReadError, match=re.escape(str(broken)) + ".*decoding failed"):
        for i in range(len(batches)):
            batches[i]
    batches.close()
