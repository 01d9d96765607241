"""Keras-style layers, in the order a frame meets them in the source document's model.

    base.py            Layer: __init__ -> build(input_shape) -> call(x) -> compute_output_shape
    core.py            Input, Dense, Activation, Flatten, Dropout
    convolutional.py   Conv2D, Conv3D
    pooling.py         MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, MaxPooling3D,
                       AveragePooling3D, GlobalAveragePooling3D, GlobalMaxPooling2D,
                       GlobalAveragePooling1D
    normalization.py   BatchNormalization
    reshaping.py       Reshape
    wrappers.py        TimeDistributed
    merging.py         Add, Concatenate, Average, Multiply (several inputs, one output)
    symbolic.py        KerasTensor, Node: what calling a layer on Input(...) records
    preprocessing.py   Rescaling, Resizing, CenterCrop, RandomFlip, RandomCrop, RandomRotation,
                       RandomZoom, RandomContrast
    masking.py         Masking: which steps of a sequence are padding
    recurrent.py       GRU, LSTM over (batch, time, features)
"""

from tinyvid.layers.base import InputSpec, Layer
from tinyvid.layers.convolutional import Conv2D, Conv3D
from tinyvid.layers.core import Activation, Dense, Dropout, Flatten, Input, InputLayer
from tinyvid.layers.masking import Masking
from tinyvid.layers.merging import Add, Average, Concatenate, Multiply
from tinyvid.layers.normalization import BatchNormalization
from tinyvid.layers.pooling import (
    AveragePooling2D,
    AveragePooling3D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
    GlobalMaxPooling2D,
    MaxPooling2D,
    MaxPooling3D,
)
from tinyvid.layers.preprocessing import (
    CenterCrop,
    RandomContrast,
    RandomCrop,
    RandomFlip,
    RandomRotation,
    RandomZoom,
    Rescaling,
    Resizing,
)
from tinyvid.layers.recurrent import GRU, LSTM
from tinyvid.layers.reshaping import Reshape
from tinyvid.layers.symbolic import KerasTensor
from tinyvid.layers.wrappers import TimeDistributed

__all__ = [
    "Layer", "InputSpec", "Input", "InputLayer", "Dense", "Activation", "Flatten", "Dropout",
    "Conv2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D",
    "Add", "Concatenate", "Average", "Multiply", "KerasTensor",
    "Conv3D", "MaxPooling3D", "AveragePooling3D", "GlobalAveragePooling3D", "GlobalMaxPooling2D",
    "GlobalAveragePooling1D", "BatchNormalization", "Reshape", "TimeDistributed",
    "Rescaling", "Resizing", "CenterCrop", "RandomFlip", "RandomCrop", "RandomRotation",
    "RandomZoom", "RandomContrast",
]
__all__ += ["Masking", "GRU", "LSTM"]
