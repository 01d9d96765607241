"""Fuzzing read_video: mutated real encodings, each read in a child process, outcomes counted.

Four seed videos are written with imageio (h264 mp4, mpeg4 avi, mjpeg mkv, vp9 webm). Each
mutated file is one of them truncated, with a few bytes flipped, or with a range zeroed, and is
read in the three modes `tinyvid.data` uses: every frame, every frame resized to 16x16, and 8
frames sampled. Every read must end in one of two outcomes:

    frames            a uint8 array (frames, height, width, 3)
    VideoReadError    naming the file

Anything else (another exception, a crash of the process, a hang) is counted under its own
name; the goal is none. The reads run in a child process that reports after each one, so a
crash is caught and named, and the next child starts after the file that crashed it.

Run it:  python -m benchmarks.fuzz_video [--files 2000] [--seed 0]
"""

import argparse
import collections
import json
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np

SEEDS = {  # file name -> imageio's codec and pixel format
    "h264.mp4": ("libx264", "yuv420p"),
    "mpeg4.avi": ("mpeg4", "yuv420p"),
    "mjpeg.mkv": ("mjpeg", "yuvj420p"),
    "vp9.webm": ("libvpx-vp9", "yuv420p"),
}
MODES = ("full", "resized", "sampled")
TIMEOUT_SECONDS = 60  # per child process; a hang shows as "hang" for the file being read

_CHILD = r"""
import json, sys
from tinyvid.data.video import VideoReadError, read_video
MODES = {"full": {}, "resized": {"size": (16, 16)}, "sampled": {"num_frames": 8}}
for line in sys.stdin:
    path, mode = json.loads(line)
    print(json.dumps(["start", path, mode]), flush=True)
    try:
        frames = read_video(path, **MODES[mode])
        good = frames.dtype.name == "uint8" and frames.ndim == 4 and frames.shape[-1] == 3
        outcome = "frames" if good else f"bad array {frames.dtype} {frames.shape}"
    except VideoReadError as error:
        outcome = "VideoReadError" if path in str(error) else "VideoReadError not naming the file"
    except BaseException as error:
        outcome = f"{type(error).__name__}: {str(error)[:80]}"
    print(json.dumps(["done", path, mode, outcome]), flush=True)
"""


def make_seeds(folder: pathlib.Path, num_frames: int = 12) -> list[pathlib.Path]:
    """The four seed videos: a small moving square on a gradient, 48x32."""
    import imageio.v3 as iio

    y, x = np.mgrid[0:32, 0:48]
    frames = np.empty((num_frames, 32, 48, 3), dtype=np.uint8)
    for t in range(num_frames):
        frames[t] = np.stack([4 * x, 6 * y, (x + y + 9 * t) % 256], -1)
        frames[t, 8:16, 2 * t:2 * t + 8] = (250, 30, 30)
    paths = []
    for name, (codec, pixel_format) in SEEDS.items():
        path = folder / name
        iio.imwrite(path, frames, plugin="pyav", codec=codec, fps=10,
                    out_pixel_format=pixel_format)
        paths.append(path)
    return paths


def mutate(data: bytes, rng: np.random.Generator) -> tuple[str, bytes]:
    """One mutation of `data`: ("truncate" | "flip" | "zero", the mutated bytes)."""
    kind = ("truncate", "flip", "zero")[int(rng.integers(3))]
    buffer = bytearray(data)
    if kind == "truncate":
        return kind, bytes(buffer[:int(rng.integers(1, len(buffer)))])
    if kind == "flip":
        for at in rng.integers(0, len(buffer), int(rng.integers(1, 9))):
            buffer[at] ^= 1 << int(rng.integers(8))
        return kind, bytes(buffer)
    start = int(rng.integers(len(buffer)))
    length = int(rng.integers(1, 257))
    buffer[start:start + length] = bytes(len(buffer[start:start + length]))
    return kind, bytes(buffer)


def write_mutants(folder: pathlib.Path, seeds: list[pathlib.Path], count: int,
                  seed: int) -> list[pathlib.Path]:
    """`count` mutated copies of the seeds (in turn), named after seed, number and kind."""
    rng = np.random.default_rng(seed)
    originals = [(path, path.read_bytes()) for path in seeds]
    paths = []
    for i in range(count):
        source, data = originals[i % len(originals)]
        kind, mutated = mutate(data, rng)
        path = folder / f"{i:05d}-{kind}-{source.name}"
        path.write_bytes(mutated)
        paths.append(path)
    return paths


def read_all(paths: list[pathlib.Path], modes: tuple[str, ...] = MODES) -> collections.Counter:
    """Read every path in every mode in child processes; the count of each outcome."""
    jobs = [(str(path), mode) for path in paths for mode in modes]
    outcomes: collections.Counter = collections.Counter()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pathlib.Path(__file__).parents[1]),
                                                      env.get("PYTHONPATH")]))
    while jobs:
        child = subprocess.run([sys.executable, "-c", _CHILD], input="".join(
            json.dumps(job) + "\n" for job in jobs), capture_output=True, text=True, env=env,
            timeout=TIMEOUT_SECONDS * max(1, len(jobs) // 100))
        started = None
        finished = 0
        for line in child.stdout.splitlines():
            record = json.loads(line)
            if record[0] == "start":
                started = tuple(record[1:])
            else:
                outcomes[record[3]] += 1
                finished += 1
                started = None
        if started is not None:  # the child died reading this file
            outcomes[f"crash (exit status {child.returncode})"] += 1
            finished += 1
        elif finished < len(jobs):
            outcomes[f"child failed (exit status {child.returncode}): {child.stderr[-200:]}"] += 1
            finished = len(jobs)
        jobs = jobs[finished:]
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=2000, help="mutated files (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the mutations")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tinyvid-fuzz-") as folder:
        root = pathlib.Path(folder)
        seeds = make_seeds(root)
        (root / "mutants").mkdir()
        paths = write_mutants(root / "mutants", seeds, args.files, args.seed)
        outcomes = read_all(paths)
    print(f"{args.files} mutated files (seed {args.seed}) x {len(MODES)} read modes "
          f"({', '.join(MODES)}) = {sum(outcomes.values())} reads")
    for outcome, count in outcomes.most_common():
        print(f"{count:7d}  {outcome}")
    others = sum(n for outcome, n in outcomes.items() if outcome not in ("frames", "VideoReadError"))
    print(f"anything else: {others}")
    return 1 if others else 0


if __name__ == "__main__":
    sys.exit(main())
