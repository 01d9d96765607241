"""Keras's `keras.initializers`: how layers fill their weights.

The public face of tinyvid.layers.initializers: the code, and its documentation, live in tinyvid/layers/initializers.py.
"""

from tinyvid.layers.initializers import *  # noqa: F403
from tinyvid.layers.initializers import __all__  # noqa: F401
