"""Keras's `keras.callbacks`: History, EarlyStopping, ModelCheckpoint, LearningRateScheduler,
ReduceLROnPlateau, CSVLogger, TerminateOnNaN, LambdaCallback, BackupAndRestore, the progress bar.

The public face of tinyvid.training.callbacks: the code, and its documentation, live in tinyvid/training/callbacks/.
"""

from tinyvid.training.callbacks import *  # noqa: F403
from tinyvid.training.callbacks import __all__  # noqa: F401
