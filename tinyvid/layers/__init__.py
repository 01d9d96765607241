"""Keras-style layers, in the order a frame meets them in the source document's model.

    base.py            Layer: __init__ -> build(input_shape) -> call(x) -> compute_output_shape
    core.py            Input, Dense, Activation, Flatten, Dropout
    convolutional.py   Conv2D
    pooling.py         MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D
    masking.py         Masking: which steps of a sequence are padding
    recurrent.py       GRU, LSTM over (batch, time, features)
"""

from tinyvid.layers.base import InputSpec, Layer
from tinyvid.layers.convolutional import Conv2D
from tinyvid.layers.core import Activation, Dense, Dropout, Flatten, Input, InputLayer
from tinyvid.layers.masking import Masking  # noqa: I001
from tinyvid.layers.pooling import AveragePooling2D, GlobalAveragePooling2D, MaxPooling2D
from tinyvid.layers.recurrent import GRU, LSTM

__all__ = [
    "Layer", "InputSpec", "Input", "InputLayer", "Dense", "Activation", "Flatten", "Dropout",
    "Conv2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D",
]
__all__ += ["Masking", "GRU", "LSTM"]
