"""Keras's `keras.losses`: mean squared error and the cross-entropies (the source document, 3.2).

The public face of tinyvid.training.losses: the code, and its documentation, live in tinyvid/training/losses.py.
"""

from tinyvid.training.losses import *  # noqa: F403
from tinyvid.training.losses import __all__  # noqa: F401
