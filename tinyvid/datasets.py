"""Video datasets: folders of videos, batches of frames for `fit`, and the built-in dataset.

    make_moving_shapes(root)           writes root/<class>/<video>.mp4: shapes moving over noise
    VideoFolder(root, num_frames=8)    one sub-folder per class (as UCF101 is laid out)
    FrameBatches(folder)               batches of single frames for `fit`, x float32 in [0, 1]
    evaluate_videos(predict, folder)   frame- and video-level accuracy

The public face of tinyvid/data/: the code lives in folder.py, batches.py and moving_shapes.py
there.
"""

from tinyvid.data import *  # noqa: F403
from tinyvid.data import __all__  # noqa: F401
