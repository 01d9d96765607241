"""Keras's `keras.optimizers`: GD and SGD (the source document, 3.3) and Adam.

The public face of tinyvid.training.optimizers: the code, and its documentation, live in tinyvid/training/optimizers.py.
"""

from tinyvid.training.optimizers import *  # noqa: F403
from tinyvid.training.optimizers import __all__  # noqa: F401
