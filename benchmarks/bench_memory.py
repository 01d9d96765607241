"""Memory: peak RSS of one training epoch streamed from a VideoFolder, at two dataset sizes.

`fit` reads a VideoFolder through FrameBatches, which decodes the videos a batch needs and keeps
only the last 2 * batch_size of them, so the peak memory of an epoch should not grow with the
number of videos. This writes the moving-shapes dataset (tinyvid.datasets.make_moving_shapes)
twice into a temporary folder, N and 3N videos per class, and trains the document's model
(Conv2D 32, Conv2D 64, Flatten, Dense 64, Dense classes; Adam) for one epoch on each, each in a
fresh process, reporting that process's peak resident set size and the ratio of the two peaks
(1.00 = no growth). Each size runs twice: with tinyvid's default of keeping freed memory for the
next step (kernels/memory.py), and with glibc's own malloc settings (TINYVID_KEEP_FREED_MEMORY=0),
which shows what that default costs. With memory kept, the peak climbs to a plateau as the heap
settles and then stays, so a short epoch can end below the plateau: a ratio a little above 1.00
can be that settling rather than growth with the dataset (docs/performance.md has the runs).
The peak is Linux's VmHWM (/proc/self/status), which a new program starts afresh; getrusage's ru_maxrss, the fallback elsewhere, can carry the parent's peak over a fork.

The second table is the training step alone at larger frames: peak RSS of a fresh process that
builds the document's model for 64x64 and 128x128 frames, batch 64, and runs a few steps on
random data, in tinyvid and in PyTorch (channels-first, Adam), each in its own process.

Run it:  python -m benchmarks.bench_memory [--quick]      (or python -m benchmarks)
"""

import json
import os
import subprocess
import sys
import tempfile

from benchmarks.common import standalone_main

# Full run: the 6 classes at 64x64, as in the document; quick: 4 classes, 32x32 frames, fewer
# videos. Both sizes hold more videos than FrameBatches keeps (2 * batch_size).
FULL = dict(classes=6, videos_per_class=(30, 90), frames_per_video=8, size=64, batch_size=32)
QUICK = dict(classes=4, videos_per_class=(3, 9), frames_per_video=2, size=32, batch_size=4)

EPOCH = r"""
import json, resource, sys, time
start = time.perf_counter()

def rss_kb(field):
    try:  # Linux: VmRSS (now) or VmHWM (peak) of this program only
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux


from tinyvid.datasets import FrameBatches, VideoFolder
from tinyvid.layers import Conv2D, Dense, Flatten
from tinyvid.models import Sequential

root, frames, size, batch_size = json.loads(sys.argv[1])
folder = VideoFolder(root, num_frames=frames, size=(size, size))
batches = FrameBatches(folder, batch_size=batch_size)
model = Sequential([Conv2D(32, (3, 3), activation="relu", input_shape=(size, size, 3)),
                    Conv2D(64, (3, 3), activation="relu"), Flatten(),
                    Dense(64, activation="relu"), Dense(len(folder.classes), activation="softmax")])
model.compile(optimizer="adam", loss="categorical_crossentropy")
before = rss_kb("VmRSS")
model.fit(batches, epochs=1, verbose=0)
peak = rss_kb("VmHWM")
print(json.dumps({"videos": len(folder), "frames": len(folder) * frames, "steps": len(batches),
                  "before_kb": before, "peak_kb": peak, "seconds": time.perf_counter() - start}))
"""


MAKE = r"""
import json, sys
from tinyvid.datasets import MOVING_SHAPES_CLASSES, make_moving_shapes
root, videos_per_class, frames, size, classes = json.loads(sys.argv[1])
make_moving_shapes(root, videos_per_class=videos_per_class, num_frames=frames, size=size,
                   classes=MOVING_SHAPES_CLASSES[:classes])
"""


def make_videos(root, videos_per_class, frames, size, classes):
    """Write the moving-shapes videos in a fresh process too. In this one, with PyTorch and the
    other sections loaded, each video took 0.2-0.35 s instead of 0.03 s: imageio's PyAV plugin
    runs a full gc.collect() when it closes a file, which is slow in a process of many objects."""
    args = json.dumps([str(root), videos_per_class, frames, size, classes])
    subprocess.run([sys.executable, "-c", MAKE, args], check=True, capture_output=True)
    return root


def epoch_peak(root, frames, size, batch_size, keep_freed_memory=True):
    """Run one epoch in a fresh process; its numbers (RSS in kB)."""
    args = json.dumps([str(root), frames, size, batch_size])
    env = dict(os.environ, TINYVID_KEEP_FREED_MEMORY="1" if keep_freed_memory else "0")
    out = subprocess.run([sys.executable, "-c", EPOCH, args], check=True, capture_output=True,
                         text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


STEP = r"""
import json, sys
library, frame, batch, steps = json.loads(sys.argv[1])

def rss_kb(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))

import numpy as np
rng = np.random.default_rng(0)
if library == "tinyvid":
    from tinyvid.cli import build_model
    x = rng.random((batch, frame, frame, 3), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, batch)]
    model = build_model(10, frame)
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    before = rss_kb("VmRSS")
    model.fit(x, y, batch_size=batch, epochs=steps, verbose=0)
else:
    import torch
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(3, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(),
                          nn.Flatten(), nn.Linear(64 * (frame - 4) ** 2, 64), nn.ReLU(),
                          nn.Linear(64, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001, eps=1e-7)
    x = torch.from_numpy(rng.random((batch, 3, frame, frame), dtype=np.float32))
    y = torch.from_numpy(rng.integers(0, 10, batch))
    before = rss_kb("VmRSS")
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
print(json.dumps({"before_kb": before, "peak_kb": rss_kb("VmHWM")}))
"""


def step_peak(library, frame, batch, steps=3):
    """Peak RSS (kB) of a fresh process training the document's model for a few steps."""
    args = json.dumps([library, frame, batch, steps])
    out = subprocess.run([sys.executable, "-c", STEP, args], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_steps(quick=False):
    """Rows of the step's peak RSS, tinyvid beside PyTorch, at 64x64 and 128x128, batch 64."""
    from benchmarks.common import torch_installed

    rows = []
    for frame in ((32,) if quick else (64, 128)):
        batch = 8 if quick else 64
        ours = step_peak("tinyvid", frame, batch)
        theirs = step_peak("torch", frame, batch) if torch_installed() else None
        rows.append({"name": f"{frame}x{frame}, batch {batch}",
                     "tinyvid_mb": ours["peak_kb"] / 1024,
                     "torch_mb": None if theirs is None else theirs["peak_kb"] / 1024,
                     "ratio": None if theirs is None else ours["peak_kb"] / theirs["peak_kb"]})
    return rows


STEP_COLUMNS = [("name", "training step", "{}"), ("tinyvid_mb", "tinyvid peak RSS MB", "{:.0f}"),
                ("torch_mb", "PyTorch peak RSS MB", "{:.0f}"),
                ("ratio", "tinyvid / PyTorch", "{:.2f}")]


def run(quick=False):
    """Rows per malloc setting and dataset size; each larger size with the ratio of the peaks."""
    setting = QUICK if quick else FULL
    rows = []
    with tempfile.TemporaryDirectory(prefix="tinyvid-memory-") as folder:
        roots = [make_videos(f"{folder}/videos-{n}", n, 2 * setting["frames_per_video"],
                             setting["size"], setting["classes"])
                 for n in setting["videos_per_class"]]
        for keep, label in ((True, "freed memory kept"), (False, "glibc's malloc settings")):
            for n, root in zip(setting["videos_per_class"], roots):
                result = epoch_peak(root, setting["frames_per_video"], setting["size"],
                                    setting["batch_size"], keep_freed_memory=keep)
                rows.append({
                    "name": (f"{setting['classes']} classes x {n} videos, "
                             f"{setting['size']}x{setting['size']}, batch "
                             f"{setting['batch_size']}, {label}"),
                    "videos": result["videos"], "frames": result["frames"],
                    "steps": result["steps"], "before_mb": result["before_kb"] / 1024,
                    "peak_mb": result["peak_kb"] / 1024, "seconds": result["seconds"],
                    "ratio": None, "keep_freed_memory": keep,
                })
            rows[-1]["ratio"] = rows[-1]["peak_mb"] / rows[-2]["peak_mb"]
    return rows


TITLE = "Memory: peak RSS of one epoch streamed from a VideoFolder (fresh process each)"
COLUMNS = [("name", "dataset", "{}"), ("videos", "videos", "{}"), ("frames", "frames", "{}"),
           ("steps", "steps", "{}"), ("before_mb", "RSS before fit MB", "{:.0f}"),
           ("peak_mb", "peak RSS MB", "{:.0f}"), ("seconds", "process s", "{:.1f}"),
           ("ratio", "peak / smaller's", "{:.2f}")]


if __name__ == "__main__":
    standalone_main(sys.modules[__name__])
    from benchmarks.common import format_table

    print()
    print(format_table(run_steps(quick="--quick" in sys.argv), STEP_COLUMNS))
