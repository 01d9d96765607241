"""cnn_gru and cnn_lstm: a small CNN on every frame, then a recurrent layer over the frames.

The long-term recurrent convolutional network (LRCN) of Donahue et al., "Long-term Recurrent
Convolutional Networks for Visual Recognition and Description", CVPR 2015: a CNN (CaffeNet,
227 x 227 frames, its fc6 features, 4096 a frame) runs on each frame, and an LSTM of 256 units
reads the sequence of features; their activity classifier averages the per-step softmax over
16-frame clips of UCF101. Keras's own example "Video Classification with a
CNN-RNN Architecture" (Sayak Paul, keras.io/examples/vision/video_classification) keeps the
idea with a frozen InceptionV3 (2048 features a frame), GRU(16) -> GRU(8) -> Dropout(0.4) ->
Dense(8) -> Dense(softmax), and a mask input for videos shorter than its 20 frames:
`GRU(16, return_sequences=True)(frame_features_input, mask=mask_input)`.

Here the CNN is small and trained end to end with the recurrent layer, for 32 x 32 frames:

    clips (batch, T, s, s, 3)          mask (batch, T), True for a real frame
      -TimeDistributed(Conv2D(16, 3x3, relu))-> -TimeDistributed(MaxPooling2D(2))->
      -TimeDistributed(Conv2D(32, 3x3, relu))-> -TimeDistributed(MaxPooling2D(2))->
      -TimeDistributed(Flatten)-> features (batch, T, 6 * 6 * 32 = 1152)
      -GRU(32) or LSTM(32), mask=mask-> last real step's state (batch, 32)
      -Dense(num_classes, softmax)

Flatten, not GlobalAveragePooling2D (LRCN's fc6 and InceptionV3's pooled features): an average
over the frame forgets where things are, and on tinyvid's motion dataset a shape moving left
and one moving right differ only in where they are from frame to frame.

A clip shorter than T frames comes padded with zero frames (ClipBatches with return_mask=True);
the mask makes the recurrent layer keep its state through the padding, so the padded frames
change nothing (Keras's masking). The models take two inputs, [clips, mask].
"""

from tinyvid.layers import (
    GRU,
    LSTM,
    Conv2D,
    Dense,
    Flatten,
    Input,
    MaxPooling2D,
    TimeDistributed,
)
from tinyvid.models.model import Model

FEATURE_FILTERS = (16, 32)  # the two convolutions of the frame CNN
UNITS = 32  # the recurrent layer's state


def _cnn_recurrent(recurrent_class: type, name: str, num_classes: int, num_frames: int,
                   frame_size: int) -> Model:
    clips = Input(shape=(num_frames, frame_size, frame_size, 3), name="clips")
    # float32 like every Input here (1.0 = a real frame); the layer reads it as booleans
    mask = Input(shape=(num_frames,), name="mask")
    x = clips
    for filters in FEATURE_FILTERS:
        x = TimeDistributed(Conv2D(filters, (3, 3), activation="relu"))(x)
        x = TimeDistributed(MaxPooling2D((2, 2)))(x)
    features = TimeDistributed(Flatten())(x)  # (batch, T, h' w' 32): where, not only what
    state = recurrent_class(UNITS)(features, mask=mask)  # padded frames keep the state as it was
    outputs = Dense(num_classes, activation="softmax")(state)
    return Model(inputs=[clips, mask], outputs=outputs, name=name)


def cnn_gru(num_classes: int, num_frames: int = 8, frame_size: int = 32) -> Model:
    """A frame CNN under TimeDistributed, then GRU(32) over the frames, then Dense softmax.

    Args:
        num_classes: outputs of the softmax.
        num_frames: T, frames per clip (shorter videos are padded and masked).
        frame_size: height and width of the frames (at least 10).

    Returns:
        A Model taking [clips (batch, T, s, s, 3) float32, mask (batch, T) bool] and giving
        class probabilities (batch, num_classes).
    """
    return _cnn_recurrent(GRU, "cnn_gru", num_classes, num_frames, frame_size)


def cnn_lstm(num_classes: int, num_frames: int = 8, frame_size: int = 32) -> Model:
    """The same as cnn_gru with LSTM(32) (Donahue et al.'s LRCN used an LSTM).

    Args:
        num_classes: outputs of the softmax.
        num_frames: T, frames per clip (shorter videos are padded and masked).
        frame_size: height and width of the frames (at least 10).

    Returns:
        A Model taking [clips (batch, T, s, s, 3) float32, mask (batch, T) bool] and giving
        class probabilities (batch, num_classes).
    """
    return _cnn_recurrent(LSTM, "cnn_lstm", num_classes, num_frames, frame_size)
