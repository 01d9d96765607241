"""single_frame: the source document's model (section 4.2), a frame classifier."""

from tinyvid.layers import Conv2D, Dense, Flatten, Input
from tinyvid.models import Sequential


def single_frame(num_classes: int, num_frames: int = 1, frame_size: int = 64) -> Sequential:
    """The document's convolutional network, exactly as it writes it, on one frame at a time.

        (h, w, 3) -Conv2D(32, 3x3, relu)-> -Conv2D(64, 3x3, relu)-> -Flatten->
                  -Dense(64, relu)-> -Dense(num_classes, softmax)->

    It sees no time: a video's class is the mean of its frames' predictions (the single-frame
    baseline of Karpathy et al., CVPR 2014; their frame model was AlexNet-sized on 170 x 170
    frames, this one is the document's). `num_frames` is accepted for a signature shared with
    the clip models, and ignored.

    Args:
        num_classes: outputs of the softmax.
        num_frames: ignored (frames come one at a time).
        frame_size: height and width of the frames.

    Returns:
        A Sequential taking (batch, frame_size, frame_size, 3).
    """
    return Sequential([
        Input(shape=(frame_size, frame_size, 3)),
        Conv2D(32, (3, 3), activation="relu"),
        Conv2D(64, (3, 3), activation="relu"),
        Flatten(),
        Dense(64, activation="relu"),
        Dense(num_classes, activation="softmax"),
    ], name="single_frame")
