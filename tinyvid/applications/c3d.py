"""c3d: Tran et al., "Learning Spatiotemporal Features with 3D Convolutional Networks", ICCV 2015."""

from tinyvid.layers import Conv3D, Dense, Dropout, Flatten, Input, MaxPooling3D
from tinyvid.models import Sequential


def c3d(num_classes: int, num_frames: int = 8, frame_size: int = 32) -> Sequential:
    """C3D: 3x3x3 convolutions everywhere, pool1 1x2x2 (keep time early), the rest 2x2x2.

    The original takes 16 frames of 112 x 112: conv1a 64 -> pool1 1x2x2 -> conv2a 128 -> pool2
    -> conv3a, conv3b 256 -> pool3 -> conv4a, conv4b 512 -> pool4 -> conv5a, conv5b 512 ->
    pool5 -> fc6 4096 -> fc7 4096 -> softmax, every convolution 3x3x3 with 'same' padding,
    stride 1, every pool after the first 2x2x2. Here, for 8 frames of 32 x 32, with the same
    kernels and pools and fewer, narrower layers:

        (8, 32, 32, 3) -conv1 16-> -pool1 1x2x2-> (8, 16, 16) -conv2 32-> -pool2-> (4, 8, 8)
        -conv3 64-> -pool3-> (2, 4, 4) -conv4 64-> -pool4-> (1, 2, 2) -Flatten->
        -Dense(128, relu)-> -Dropout(0.5)-> -Dense(softmax)

    Args:
        num_classes: outputs of the softmax.
        num_frames: T, frames per clip (a multiple of 8 keeps every pool exact).
        frame_size: height and width of the frames (a multiple of 16).
    """
    return Sequential([
        Input(shape=(num_frames, frame_size, frame_size, 3)),
        Conv3D(16, (3, 3, 3), padding="same", activation="relu", name="conv1"),
        MaxPooling3D((1, 2, 2), name="pool1"),
        Conv3D(32, (3, 3, 3), padding="same", activation="relu", name="conv2"),
        MaxPooling3D((2, 2, 2), name="pool2"),
        Conv3D(64, (3, 3, 3), padding="same", activation="relu", name="conv3"),
        MaxPooling3D((2, 2, 2), name="pool3"),
        Conv3D(64, (3, 3, 3), padding="same", activation="relu", name="conv4"),
        MaxPooling3D((2, 2, 2), name="pool4"),
        Flatten(),
        Dense(128, activation="relu", name="fc6"),
        Dropout(0.5),
        Dense(num_classes, activation="softmax", name="fc8"),
    ], name="c3d")
