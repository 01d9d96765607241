"""Video in: files -> frames -> batches, in the order data flows.

    video.py           read_video, video_info, VideoReadError: one file -> frames (PyAV)
    cache.py           FrameCache: decoded frames kept on disk as checked .npy entries
    folder.py          VideoFolder: a folder of class sub-folders -> (frames, label), cached
    workers.py         VideoReader: background threads or processes that decode ahead
    batches.py         FrameBatches, evaluate_videos: frames -> batches for fit, and back
    clips.py           ClipBatches, segment sampling, clip augmentation: clips -> batches
    adapters.py        arrays and PyDataset sources -> the batches `fit` walks
    moving_shapes.py   the built-in dataset, written as real video files
    motion.py          the built-in dataset in which only motion tells the classes apart

Reading runs in the calling process. Worker processes for it must start with "spawn" or
"forkserver" (`tinyvid.kernels.cores.process_context()`), never a plain fork: forking while
another thread is inside a multi-threaded BLAS call can hang parent and child (OpenBLAS).
"""

from tinyvid.data.batches import FrameBatches, evaluate_videos
from tinyvid.data.clips import ClipAugmentation, ClipBatches, evaluate_clips, segment_indices
from tinyvid.data.folder import VIDEO_EXTENSIONS, VideoFolder
from tinyvid.data.motion import MOTION_CLASSES, make_motion_shapes, motion_video
from tinyvid.data.moving_shapes import (
    MOVING_SHAPES_CLASSES,
    make_moving_shapes,
    moving_shapes_video,
)
from tinyvid.data.video import VideoInfo, VideoReadError, read_video, sample_indices, video_info

__all__ = [
    "read_video", "video_info", "sample_indices", "VideoInfo", "VideoReadError",
    "VideoFolder", "VIDEO_EXTENSIONS", "FrameBatches", "evaluate_videos",
    "make_moving_shapes", "moving_shapes_video", "MOVING_SHAPES_CLASSES",
    "ClipBatches", "ClipAugmentation", "segment_indices", "evaluate_clips",
    "make_motion_shapes", "motion_video", "MOTION_CLASSES",
]
