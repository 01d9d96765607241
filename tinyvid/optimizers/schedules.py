"""Keras's `keras.optimizers.schedules`: ExponentialDecay, PiecewiseConstantDecay, CosineDecay.

The public face of tinyvid.training.optimizers.schedules, where the code and its documentation
live.
"""

from tinyvid.training.optimizers.schedules import *  # noqa: F403
from tinyvid.training.optimizers.schedules import __all__  # noqa: F401
