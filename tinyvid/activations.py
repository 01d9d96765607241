"""Keras's `keras.activations`: relu, sigmoid, tanh, softmax by name.

The public face of tinyvid.layers.activations: the code, and its documentation, live in tinyvid/layers/activations.py.
"""

from tinyvid.layers.activations import *  # noqa: F403
from tinyvid.layers.activations import __all__  # noqa: F401
