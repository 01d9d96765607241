"""A synthetic video dataset to learn on: coloured shapes moving over a noisy background.

    make_moving_shapes(root)   writes root/<class>/<video>.mp4, one sub-folder per class, as
                               UCF101 is laid out, so the same VideoFolder code reads it

Each class is one shape in one colour, so a model that looks at single frames can tell them
apart; the motion and the noise make every frame different. Everything is drawn from a seeded
generator, so the same seed gives the same pixels (before the lossy encoding).
"""

import json
import os
import pathlib
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

COLOURS = {"red": (220, 40, 40), "green": (40, 190, 60), "blue": (50, 80, 230),
           "yellow": (230, 210, 40), "magenta": (210, 50, 200), "cyan": (40, 200, 210)}
SHAPES = ("circle", "square", "triangle")
MOVING_SHAPES_CLASSES = ("red_circle", "green_square", "blue_triangle",
                         "yellow_circle", "magenta_square", "cyan_triangle")


def moving_shapes_video(name: str, index: int, num_frames: int = 16, size: int = 64,
                        seed: int = 0) -> np.ndarray:
    """The frames of one moving-shapes video, before encoding: the same arguments, the same pixels.

    A shape of the class's colour (a little jittered) moves in a straight line and bounces off
    the edges, over a grey background with fresh noise in every frame.

    Args:
        name: a class name "<colour>_<shape>", colour one of COLOURS, shape one of SHAPES.
        index: which video of the class (each index is drawn from its own random stream).

    Returns:
        uint8 array of shape (num_frames, size, size, 3).
    """
    colour, _, shape = name.partition("_")
    if colour not in COLOURS or shape not in SHAPES:
        raise ValueError(f"Invalid moving-shapes class: {name!r} (expected '<colour>_<shape>', "
                         f"colour one of {sorted(COLOURS)}, shape one of {list(SHAPES)})")
    # Seeded by (seed, class name, index), so a video does not change when others are added.
    rng = np.random.default_rng([seed, zlib.crc32(name.encode()), index])
    radius = rng.uniform(0.12, 0.2) * size
    position = rng.uniform(radius, size - radius, 2)
    velocity = rng.uniform(0.02, 0.06, 2) * size * rng.choice([-1, 1], 2)
    rgb = np.clip(np.array(COLOURS[colour]) + rng.integers(-20, 21, 3), 0, 255)
    background, noise = rng.uniform(60, 160), rng.uniform(10, 30)

    y, x = np.mgrid[0:size, 0:size] + 0.5
    frames = np.empty((num_frames, size, size, 3), dtype=np.uint8)
    for t in range(num_frames):
        frame = background + noise * rng.standard_normal((size, size, 1))
        dy, dx = y - position[0], x - position[1]
        if shape == "circle":
            inside = dy**2 + dx**2 <= radius**2
        elif shape == "square":
            inside = (np.abs(dy) <= 0.8 * radius) & (np.abs(dx) <= 0.8 * radius)
        else:  # a triangle pointing up: below two slanted edges, above the base
            inside = (dy <= 0.7 * radius) & (2 * np.abs(dx) - dy <= 1.3 * radius)
        frames[t] = np.clip(np.where(inside[..., None], rgb, frame), 0, 255)
        position += velocity
        for axis in range(2):  # bounce
            if not radius <= position[axis] <= size - radius:
                velocity[axis] = -velocity[axis]
                position[axis] = np.clip(position[axis], radius, size - radius)
    return frames


def make_moving_shapes(root: str | os.PathLike[str], videos_per_class: int = 30,
                       num_frames: int = 16, size: int = 64, seed: int = 0, fps: int = 10,
                       classes: Sequence[str] = MOVING_SHAPES_CLASSES) -> pathlib.Path:
    """Write the moving-shapes dataset as h264 mp4 files (yuv420p), one sub-folder per class.

    The default (6 classes x 30 videos x 16 frames of 64x64) writes in a few seconds and is
    small enough for the document's conv net to train on 8 frames per video in minutes on a
    CPU. Each default class has its own colour and its own shape, so one frame tells the class;
    pass classes such as ("red_circle", "red_square", "blue_circle", "blue_square") for a set
    where colour alone is not enough.

    Args:
        root: the folder to write; made if missing. A marker file (.moving-shapes.json) records
            the arguments once every video is written: a second call with the same arguments
            returns at once, and a call with other arguments writes the videos again.
        videos_per_class, num_frames: the dataset's size.
        size: frame height and width in pixels; even, as yuv420p needs.
        seed: the same seed gives the same pixels (before encoding) on every machine.
        fps: the frame rate written in the files.
        classes: class names "<colour>_<shape>" (see COLOURS and SHAPES).

    Returns:
        root, as a pathlib.Path.
    """
    for name, value in (("videos_per_class", videos_per_class), ("num_frames", num_frames),
                        ("fps", fps)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"Invalid {name}: {value!r} (expected a positive integer)")
    if isinstance(size, bool) or not isinstance(size, int) or size < 16 or size % 2:
        raise ValueError(f"Invalid size: {size!r} (expected an even integer >= 16: "
                         f"yuv420p stores colour at half resolution)")
    for name in classes:
        moving_shapes_video(name, 0, num_frames=1, size=size, seed=seed)  # check every name first
    wanted = {"version": 1, "classes": list(classes), "videos_per_class": videos_per_class,
              "num_frames": num_frames, "size": size, "seed": seed, "fps": fps}
    return write_video_dataset(
        root, ".moving-shapes.json", wanted,
        lambda name, index: moving_shapes_video(name, index, num_frames=num_frames, size=size,
                                                seed=seed))


def write_video_dataset(root: Any, marker_name: str, wanted: dict[str, Any],
                        make_video: Callable[[str, int], np.ndarray]) -> pathlib.Path:
    """Write root/<class>/<class>_<index>.mp4 (h264, yuv420p) for wanted["classes"] and
    wanted["videos_per_class"], each video's frames from make_video(class, index).

    A marker file (root/marker_name) records `wanted` once every video is written: a second call
    with the same `wanted` returns at once, and one with another `wanted` writes again. Each
    video and the marker are written under a temporary name and renamed, so a run cut short
    leaves no marker and the next one starts over. Shared by the built-in datasets.
    """
    import imageio.v3 as iio  # here: importing tinyvid need not load imageio

    root = pathlib.Path(root)
    marker = root / marker_name
    if _read_marker(marker) == wanted:
        return root
    marker.unlink(missing_ok=True)
    for name in wanted["classes"]:
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob(f"{name}_*.mp4"):  # left by an earlier, larger call
            old.unlink()
        for index in range(wanted["videos_per_class"]):
            path = folder / f"{name}_{index:04d}.mp4"
            partial = folder / f".{path.stem}.partial.mp4"  # hidden: VideoFolder never lists it
            iio.imwrite(partial, make_video(name, index), plugin="pyav", codec="libx264",
                        fps=wanted["fps"], out_pixel_format="yuv420p")
            os.replace(partial, path)
    partial_marker = root / f"{marker_name}.partial"
    partial_marker.write_text(json.dumps(wanted, indent=1), encoding="utf-8")
    os.replace(partial_marker, marker)
    return root


def _read_marker(marker: pathlib.Path) -> Any:
    """The parameters the folder was made with, or None when it is missing or unreadable."""
    try:
        return json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
