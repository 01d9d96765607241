"""Keras-style layers, in the order a frame meets them in the source document's model.

    base.py            Layer: __init__ -> build(input_shape) -> call(x) -> compute_output_shape
    core.py            Input, Dense, Activation, Flatten, Dropout
    convolutional.py   Conv2D
    pooling.py         MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D
    merging.py         Add, Concatenate, Average, Multiply (several inputs, one output)
    symbolic.py        KerasTensor, Node: what calling a layer on Input(...) records
"""

from tinyvid.layers.base import InputSpec, Layer
from tinyvid.layers.convolutional import Conv2D
from tinyvid.layers.core import Activation, Dense, Dropout, Flatten, Input, InputLayer
from tinyvid.layers.merging import Add, Average, Concatenate, Multiply
from tinyvid.layers.pooling import AveragePooling2D, GlobalAveragePooling2D, MaxPooling2D
from tinyvid.layers.symbolic import KerasTensor

__all__ = [
    "Layer", "InputSpec", "Input", "InputLayer", "Dense", "Activation", "Flatten", "Dropout",
    "Conv2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D",
    "Add", "Concatenate", "Average", "Multiply", "KerasTensor",
]
