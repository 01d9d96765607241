"""Video in: files -> frames -> batches, in the order data flows.

    video.py           read_video, video_info, VideoReadError: one file -> frames (PyAV)
    cache.py           FrameCache: decoded frames kept on disk as checked .npy entries
    folder.py          VideoFolder: a folder of class sub-folders -> (frames, label), cached
    workers.py         VideoReader: background threads or processes that decode ahead
    batches.py         FrameBatches, evaluate_videos: frames -> batches for fit, and back
    adapters.py        arrays and PyDataset sources -> the batches `fit` walks
    moving_shapes.py   the built-in dataset, written as real video files
"""

from tinyvid.data.batches import FrameBatches, evaluate_videos
from tinyvid.data.folder import VIDEO_EXTENSIONS, VideoFolder
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
]
