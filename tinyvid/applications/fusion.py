"""The fusion models of Karpathy et al., "Large-scale Video Classification with Convolutional
Neural Networks" (CVPR 2014): three ways to let a network see time.

The paper's networks take 170 x 170 frames (178 x 178 before cropping) through an AlexNet-like
tower: conv 96 11x11/3 -> norm -> pool -> conv 256 5x5 -> norm -> pool -> conv 384 3x3 ->
conv 384 3x3 -> conv 256 3x3 -> pool -> fc 4096 -> fc 4096. The versions here keep each model's
idea, the way it fuses time, and shrink the rest to train in minutes on a laptop CPU: 32 x 32
frames, 8 frames per clip, 16-64 filters.
"""

from tinyvid.layers import (
    Conv2D,
    Conv3D,
    Dense,
    Flatten,
    Input,
    MaxPooling2D,
    MaxPooling3D,
    Reshape,
    TimeDistributed,
)
from tinyvid.models import Sequential


def early_fusion(num_classes: int, num_frames: int = 8, frame_size: int = 32) -> Sequential:
    """Early fusion: the first convolution's filters reach over all T frames.

    The paper's first layer is 11 x 11 x 3 x T (T = 10): a filter sees the whole clip at once,
    so local motion is found at the first layer, and later layers see no time. Here:

        (T, s, s, 3) -Conv3D(32, (T, 3, 3), relu)-> (1, s-2, s-2, 32) -Reshape-> (s-2, s-2, 32)
        -Conv2D(64, 3x3, relu)-> -MaxPooling2D-> -Flatten-> -Dense(64, relu)-> -Dense(softmax)

    Args:
        num_classes: outputs of the softmax.
        num_frames: T, frames per clip.
        frame_size: height and width of the frames.
    """
    side = frame_size - 2
    return Sequential([
        Input(shape=(num_frames, frame_size, frame_size, 3)),
        Conv3D(32, (num_frames, 3, 3), activation="relu"),
        Reshape((side, side, 32)),
        Conv2D(64, (3, 3), activation="relu"),
        MaxPooling2D((2, 2)),
        Flatten(),
        Dense(64, activation="relu"),
        Dense(num_classes, activation="softmax"),
    ], name="early_fusion")


def late_fusion(num_classes: int, num_frames: int = 2, frame_size: int = 32) -> Sequential:
    """Late fusion: two frames far apart through one shared tower, merged at the first dense.

    The paper takes two frames 15 frames apart, runs each through the same single-frame tower
    (shared weights) up to its last convolution, and lets the first fully connected layer
    compare the two: global motion, seen only at the top. Here the two frames are the clip's
    first and last (ClipBatches with num_frames=2 samples exactly those), each layer of the
    tower is applied to both by TimeDistributed (one set of weights for both frames), and
    Flatten puts the two feature vectors side by side for the first Dense:

        (2, s, s, 3) -TimeDistributed: Conv2D(32) -> MaxPooling2D -> Conv2D(64) -> MaxPooling2D
        -> Flatten-> (2, f) -Flatten-> (2f) -Dense(64, relu)-> -Dense(softmax)

    Args:
        num_classes: outputs of the softmax.
        num_frames: frames per clip; 2 (the first and the last of each video).
        frame_size: height and width of the frames.
    """
    return Sequential([
        Input(shape=(num_frames, frame_size, frame_size, 3)),
        TimeDistributed(Conv2D(32, (3, 3), activation="relu")),  # the shared frame tower
        TimeDistributed(MaxPooling2D((2, 2))),
        TimeDistributed(Conv2D(64, (3, 3), activation="relu")),
        TimeDistributed(MaxPooling2D((2, 2))),
        TimeDistributed(Flatten()),
        Flatten(),  # the two frames' features side by side: fused here, at the first Dense
        Dense(64, activation="relu"),
        Dense(num_classes, activation="softmax"),
    ], name="late_fusion")


def slow_fusion(num_classes: int, num_frames: int = 8, frame_size: int = 32) -> Sequential:
    """Slow fusion: 3-D convolutions whose temporal extent grows layer by layer.

    The paper's best model: conv1 sees 4 frames (stride 2 in time), conv2 sees 2 of conv1's
    outputs, conv3 2 of conv2's, so the top layers see the whole clip and time is mixed a little
    at every level. Here, with T = 8 frames:

        (8, s, s, 3) -Conv3D(16, 3x3x3)-> (6, .., 16) -MaxPooling3D(1, 2, 2)->
        -Conv3D(32, 3x3x3)-> (4, .., 32) -MaxPooling3D(2, 2, 2)-> (2, .., 32)
        -Conv3D(64, (2, 3, 3))-> (1, .., 64) -Flatten-> -Dense(64, relu)-> -Dense(softmax)

    Each unit of the three layers sees 3, 5 and 8 frames of the clip.

    Args:
        num_classes: outputs of the softmax.
        num_frames: T, frames per clip (at least 8 for the shapes above).
        frame_size: height and width of the frames (at least 24).
    """
    return Sequential([
        Input(shape=(num_frames, frame_size, frame_size, 3)),
        Conv3D(16, (3, 3, 3), activation="relu"),
        MaxPooling3D((1, 2, 2)),
        Conv3D(32, (3, 3, 3), activation="relu"),
        MaxPooling3D((2, 2, 2)),
        Conv3D(64, (2, 3, 3), activation="relu"),
        Flatten(),
        Dense(64, activation="relu"),
        Dense(num_classes, activation="softmax"),
    ], name="slow_fusion")
