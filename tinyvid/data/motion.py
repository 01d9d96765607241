"""A synthetic video dataset in which only time tells the classes apart: shapes that move.

    make_motion_shapes(root)   writes root/<class>/<video>.mp4, one sub-folder per class

Eight classes, four pairs of opposite motions: left / right, up / down, growing / shrinking,
clockwise / anticlockwise. Every video shows one triangle (it has a direction, so a rotation is
visible) over a noisy grey background. What a single frame shows is drawn from the same
distribution in every class:

    position     uniform over the frame (motion wraps around the edges, so it stays uniform)
    size         uniform in [0.15, 0.3] x the frame (growth wraps from largest to smallest)
    orientation  uniform over the circle (rotation keeps it uniform)
    colour       one of the same six colours, jittered

So a model that sees one frame at a time cannot do better than chance (1/8), and a model that
sees several frames in order can tell every class: the baseline of Karpathy et al. (CVPR 2014)
against their fusion models, on a dataset made for the difference. Everything is drawn from a
generator seeded by (seed, class, index): the same seed gives the same pixels before encoding.
"""

import os
import pathlib
import zlib
from collections.abc import Sequence

import numpy as np

from tinyvid.data.moving_shapes import write_video_dataset

MOTION_CLASSES = ("left", "right", "up", "down", "growing", "shrinking", "clockwise",
                  "anticlockwise")
COLOURS = ((220, 40, 40), (40, 190, 60), (50, 80, 230), (230, 210, 40), (210, 50, 200),
           (40, 200, 210))
MIN_SIZE, MAX_SIZE = 0.15, 0.3  # the triangle's radius, as a fraction of the frame


def motion_video(name: str, index: int, num_frames: int = 16, size: int = 32,
                 seed: int = 0) -> np.ndarray:
    """The frames of one motion-shapes video, before encoding: the same arguments, the same pixels.

    Per frame t the triangle's centre, radius and direction are

        centre_t = centre_0 + t v   (mod size)       v = (0, -s), (0, s), (-s, 0), (s, 0) or 0
        radius_t = wrap(radius_0 +/- t g)            g > 0 for growing, < 0 for shrinking
        angle_t  = angle_0 +/- t w                   w > 0 anticlockwise, < 0 clockwise

    with speeds s, g, w drawn per video, large enough to see between two frames.

    Args:
        name: one of MOTION_CLASSES.
        index: which video of the class (each index is drawn from its own random stream).
        num_frames, size: frames per video, and their height and width in pixels.
        seed: the dataset's seed.

    Returns:
        uint8 array of shape (num_frames, size, size, 3).
    """
    if name not in MOTION_CLASSES:
        raise ValueError(f"Invalid motion-shapes class: {name!r} (expected one of "
                         f"{list(MOTION_CLASSES)})")
    rng = np.random.default_rng([seed, zlib.crc32(name.encode()), index])
    centre = rng.uniform(0, size, 2)  # (row, column)
    radius = rng.uniform(MIN_SIZE, MAX_SIZE) * size
    angle = rng.uniform(0, 2 * np.pi)
    colour = np.clip(np.array(COLOURS[rng.integers(len(COLOURS))]) + rng.integers(-20, 21, 3),
                     0, 255)
    background, noise = rng.uniform(60, 160), rng.uniform(5, 20)
    step = rng.uniform(0.05, 0.09) * size  # pixels per frame
    growth = rng.uniform(0.012, 0.02) * size  # radius change per frame
    turn = rng.uniform(0.25, 0.45)  # radians per frame
    velocity = {"left": (0, -step), "right": (0, step), "up": (-step, 0),
                "down": (step, 0)}.get(name, (0.0, 0.0))
    grow = {"growing": growth, "shrinking": -growth}.get(name, 0.0)
    spin = {"anticlockwise": turn, "clockwise": -turn}.get(name, 0.0)

    y, x = np.mgrid[0:size, 0:size] + 0.5
    low, high = MIN_SIZE * size, MAX_SIZE * size
    frames = np.empty((num_frames, size, size, 3), dtype=np.uint8)
    for t in range(num_frames):
        cy, cx = (centre + t * np.asarray(velocity)) % size
        r = low + (radius - low + t * grow) % (high - low)
        a = angle + t * spin
        # Distances on the torus, so a shape leaving one edge comes back at the other.
        dy = (y - cy + size / 2) % size - size / 2
        dx = (x - cx + size / 2) % size - size / 2
        # The triangle: the point at angle a, the base behind it. In the shape's own frame
        # (u along the direction it points, v across), inside when -r/2 <= u and |v| <= (r-u)/sqrt3.
        u = dx * np.cos(a) - dy * np.sin(a)  # rows grow downwards: "up" on screen is -dy
        v = dx * np.sin(a) + dy * np.cos(a)
        inside = (u >= -r / 2) & (np.abs(v) <= (r - u) / np.sqrt(3))
        frame = background + noise * rng.standard_normal((size, size, 1))
        frames[t] = np.clip(np.where(inside[..., None], colour, frame), 0, 255)
    return frames


def make_motion_shapes(root: str | os.PathLike, videos_per_class: int = 24, num_frames: int = 16,
                       size: int = 32, seed: int = 0, fps: int = 10,
                       classes: Sequence[str] = MOTION_CLASSES) -> pathlib.Path:
    """Write the motion-shapes dataset as h264 mp4 files (yuv420p), one sub-folder per class.

    Args:
        root: the folder to write; made if missing. A marker file (.motion-shapes.json) records
            the arguments once every video is written: a second call with the same arguments
            returns at once, and a call with other arguments writes the videos again.
        videos_per_class, num_frames: the dataset's size.
        size: frame height and width in pixels; even, as yuv420p needs, and at least 16.
        seed: the same seed gives the same pixels (before encoding) on every machine.
        fps: the frame rate written in the files.
        classes: a subset of MOTION_CLASSES.

    Returns:
        root, as a pathlib.Path.
    """
    for argument, value in (("videos_per_class", videos_per_class), ("num_frames", num_frames),
                            ("fps", fps)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"make_motion_shapes: invalid {argument}: {value!r} (expected a "
                             f"positive integer)")
    if isinstance(size, bool) or not isinstance(size, int) or size < 16 or size % 2:
        raise ValueError(f"make_motion_shapes: invalid size: {size!r} (expected an even integer "
                         f">= 16: yuv420p stores colour at half resolution)")
    for name in classes:
        if name not in MOTION_CLASSES:
            raise ValueError(f"make_motion_shapes: invalid class {name!r} (expected some of "
                             f"{list(MOTION_CLASSES)})")
    wanted = {"version": 1, "classes": list(classes), "videos_per_class": videos_per_class,
              "num_frames": num_frames, "size": size, "seed": seed, "fps": fps}
    return write_video_dataset(
        root, ".motion-shapes.json", wanted,
        lambda name, index: motion_video(name, index, num_frames=num_frames, size=size, seed=seed))
