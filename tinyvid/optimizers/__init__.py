"""Keras's `keras.optimizers`: GD and SGD (the source document, 3.3), RMSprop, Adam, AdamW, and
`keras.optimizers.schedules` as the submodule `tinyvid.optimizers.schedules`.

The public face of tinyvid.training.optimizers: the code, and its documentation, live in
tinyvid/training/optimizers/.
"""

from tinyvid.training.optimizers import *  # noqa: F403
from tinyvid.training.optimizers import __all__  # noqa: F401
