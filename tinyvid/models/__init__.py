"""Models: layers put together, and the Keras methods that train and use them.

    sequential.py    Sequential: a stack of layers; compile, fit, evaluate, predict
"""

from tinyvid.models.sequential import Sequential

__all__ = ["Sequential"]
