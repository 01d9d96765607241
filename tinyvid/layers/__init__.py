"""Keras-style layers, in the order a frame meets them in the source document's model.

    base.py            Layer: __init__ -> build(input_shape) -> call(x) -> compute_output_shape
    core.py            Input, Dense, Activation, Flatten, Dropout
    convolutional.py   Conv2D
    pooling.py         MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D
    preprocessing.py   Rescaling, Resizing, CenterCrop, RandomFlip, RandomCrop, RandomRotation,
                       RandomZoom, RandomContrast
"""

from tinyvid.layers.base import InputSpec, Layer
from tinyvid.layers.convolutional import Conv2D
from tinyvid.layers.core import Activation, Dense, Dropout, Flatten, Input, InputLayer
from tinyvid.layers.pooling import AveragePooling2D, GlobalAveragePooling2D, MaxPooling2D
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

__all__ = [
    "Layer", "InputSpec", "Input", "InputLayer", "Dense", "Activation", "Flatten", "Dropout",
    "Conv2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D",
    "Rescaling", "Resizing", "CenterCrop", "RandomFlip", "RandomCrop", "RandomRotation",
    "RandomZoom", "RandomContrast",
]
