"""Keras's `keras.metrics`: accuracy and the other numbers `fit` reports.

The public face of tinyvid.training.metrics: the code, and its documentation, live in tinyvid/training/metrics.py.
"""

from tinyvid.training.metrics import *  # noqa: F403
from tinyvid.training.metrics import __all__  # noqa: F401
