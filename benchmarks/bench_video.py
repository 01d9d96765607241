"""Decoding speed: tinyvid's read_video against PyAV alone, in a fresh process and in a full one.

PyAV alone is the plain loop a reader would write: `av.open`, decode every frame, and
`frame.to_ndarray(format="rgb24")` (resizing with `frame.reformat(width, height,
format="rgb24")`, PyAV's default bilinear; read_video averages areas). When frames are
sampled, PyAV alone still decodes every frame (it must) but converts only the chosen ones.
read_video adds a demux pass to count the frames before it samples.

Each process is a fresh Python (a child of this one), in two states: "fresh" (tinyvid and PyAV
imported, nothing else) and "200,000 objects" (the same, plus 200,000 small lists alive, what a
process that imported torch and a few more libraries holds). The second shows whether anything
in the reading path walks every object (imageio's PyAV plugin does, with a gc.collect() at each
close: see docs/upstream/imageio-gc-collect.md). Nothing process-wide is changed in either.

Throughput is the clip's frames per second of wall time (every frame is decoded, whether or not
it is kept); the ratio is read_video's throughput over PyAV's (above 1: read_video is faster).
The two are timed in alternating blocks in the same child; the CPU-time ratio beside the
wall-time one is the steadier figure on a loaded machine.

Run it:  python -m benchmarks.bench_video [--quick]       (or python -m benchmarks)
"""

import pathlib
import statistics
import tempfile
import time

import av
import imageio.v3 as iio
import numpy as np

from benchmarks.common import standalone_main


def make_clip(path, num_frames=300, height=240, width=320, seed=0):
    """An h264 clip like a UCF101 one: a shape moving over a noisy, slowly changing background."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    frames = np.empty((num_frames, height, width, 3), dtype=np.uint8)
    for t in range(num_frames):
        waves = 90 + 40 * np.sin((x + 2 * t) / 40.0)[..., None]
        background = waves + rng.normal(0, 12, (height, width, 3))
        cy, cx = height / 2 + height / 4 * np.sin(t / 20), (t * 3) % width
        inside = ((y - cy) ** 2 + (x - cx) ** 2 < (height / 8) ** 2)[..., None]
        frames[t] = np.clip(np.where(inside, (220, 40, 40), background), 0, 255)
    iio.imwrite(path, frames, plugin="pyav", codec="libx264", fps=30, out_pixel_format="yuv420p")
    return path


def pyav_read(path, indices=None, size=None):
    """PyAV alone: decode every frame, convert the chosen ones (all, when indices is None)."""
    chosen = None if indices is None else set(indices.tolist())
    frames = []
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(container.streams.video[0])):
            if chosen is not None and i not in chosen:
                continue
            if size is not None:
                frame = frame.reformat(size[1], size[0], format="rgb24")
            frames.append(frame.to_ndarray(format="rgb24"))
    return np.stack(frames)


PROCESSES = {"fresh": 0, "200,000 objects": 200_000}

_CHILD = r"""
import json, sys
from benchmarks.bench_video import measure
cases, rounds, extra_objects = json.loads(sys.argv[1])
alive = [[i] for i in range(extra_objects)]  # small lists, tracked by the garbage collector
print(json.dumps(measure(cases, rounds)))
"""


def alternating_times(fns, rounds, per_block=3):
    """Median wall and CPU seconds of each function, timed in alternating blocks after a
    warm-up call each. CPU time (all of this process's threads) is what a loaded machine
    disturbs least: it counts the work done, not the time spent waiting for a core."""
    wall = {name: [] for name in fns}
    cpu = {name: [] for name in fns}
    for fn in fns.values():
        fn()
    for _ in range(rounds):
        for name, fn in fns.items():
            for _ in range(per_block):
                start, start_cpu = time.perf_counter(), time.process_time()
                fn()
                wall[name].append(time.perf_counter() - start)
                cpu[name].append(time.process_time() - start_cpu)
    return ({n: statistics.median(t) for n, t in wall.items()},
            {n: statistics.median(t) for n, t in cpu.items()})


def measure(cases, rounds):
    """read_video's and PyAV's times on each (name, path, count, num_frames, size) case."""
    from tinyvid.data.video import read_video, sample_indices

    results = []
    for name, path, count, num_frames, size in cases:
        size = None if size is None else tuple(size)
        indices = None if num_frames is None else sample_indices(count, num_frames)
        ours, theirs = read_video(path, num_frames, size), pyav_read(path, indices, size)
        if ours.shape != theirs.shape:
            raise ValueError(f"bench_video: {name}: read_video gave {ours.shape}, "
                             f"PyAV {theirs.shape}")
        fns = {"read_video": lambda p=path, n=num_frames, s=size: read_video(p, n, s),
               "pyav": lambda p=path, i=indices, s=size: pyav_read(p, i, s)}
        if num_frames is None and size is None:  # the reader tinyvid used before: imageio's
            fns["imageio"] = lambda p=path: np.stack(list(iio.imiter(p, plugin="pyav",
                                                                    format="rgb24")))
        times, cpu = alternating_times(fns, rounds=rounds)
        results.append({"name": name, "read_video_ms": times["read_video"] * 1e3,
                        "pyav_ms": times["pyav"] * 1e3,
                        "read_video_fps": count / times["read_video"],
                        "pyav_fps": count / times["pyav"],
                        "ratio_vs_pyav": times["pyav"] / times["read_video"],
                        "cpu_ratio_vs_pyav": cpu["pyav"] / cpu["read_video"],
                        "imageio_fps": count / times["imageio"] if "imageio" in times else None})
    return results


def run(quick=False):
    """read_video's and PyAV's decoding throughput on a 320x240 clip (300 frames, 100 with
    `quick`) and on a small one, in a fresh child process and in one holding 200,000 objects."""
    import json
    import subprocess
    import sys

    from benchmarks.common import ROOT

    rounds, length = (1, 100) if quick else (5, 300)
    results = []
    with tempfile.TemporaryDirectory() as folder:
        big = str(make_clip(pathlib.Path(folder) / "clip-320x240.mp4", num_frames=length))
        small = str(make_clip(pathlib.Path(folder) / "clip-64x64.mp4", num_frames=16,
                              height=64, width=64))
        cases = [
            (f"all {length} frames, 320x240", big, length, None, None),
            (f"all {length} frames, resized to 64x64", big, length, None, (64, 64)),
            (f"8 of {length} frames sampled, 64x64", big, length, 8, (64, 64)),
            ("small clip (16 frames of 64x64), 8 sampled", small, 16, 8, (64, 64)),
        ]
        for process, extra_objects in PROCESSES.items():
            out = subprocess.run([sys.executable, "-c", _CHILD,
                                  json.dumps([cases, rounds, extra_objects])], cwd=ROOT,
                                 check=True, capture_output=True, text=True).stdout
            for row in json.loads(out.strip().splitlines()[-1]):
                results.append({**row, "process": process})
    return results


TITLE = "Video decoding: tinyvid.read_video against PyAV alone (h264 clips)"
COLUMNS = [
    ("process", "process", "{}"),
    ("name", "decoding", "{}"),
    ("read_video_ms", "read_video ms", "{:.1f}"),
    ("pyav_ms", "PyAV ms", "{:.1f}"),
    ("read_video_fps", "read_video frames/s", "{:.0f}"),
    ("pyav_fps", "PyAV frames/s", "{:.0f}"),
    ("ratio_vs_pyav", "read_video / PyAV", "{:.2f}x"),
    ("cpu_ratio_vs_pyav", "same, CPU time", "{:.2f}x"),
    ("imageio_fps", "imageio v3 frames/s", "{:.0f}"),
]


if __name__ == "__main__":
    import sys

    standalone_main(sys.modules[__name__])
