"""Callbacks: code `fit` runs at fixed points of training, with Keras's hooks and names.

One callback per file, as Keras keeps them:

    base.py                      Callback: the hooks, in fit's order
    callback_list.py             CallbackList: runs them, adding History and the progress bar
    history.py                   History: each epoch's logs; fit returns it
    progbar.py                   Progbar, ProgbarLogger: the progress bar
    early_stopping.py            EarlyStopping
    model_checkpoint.py          ModelCheckpoint: save every epoch or every few batches
    learning_rate_scheduler.py   LearningRateScheduler: alpha per epoch from a function
    reduce_lr_on_plateau.py      ReduceLROnPlateau: lower alpha when a metric stalls
    csv_logger.py                CSVLogger: one CSV row per epoch
    terminate_on_nan.py          TerminateOnNaN
    lambda_callback.py           LambdaCallback: a callback from plain functions
    backup_and_restore.py        BackupAndRestore: resume a killed run exactly
"""

from tinyvid.training.callbacks.backup_and_restore import BackupAndRestore
from tinyvid.training.callbacks.base import Callback
from tinyvid.training.callbacks.callback_list import CallbackList
from tinyvid.training.callbacks.csv_logger import CSVLogger
from tinyvid.training.callbacks.early_stopping import EarlyStopping
from tinyvid.training.callbacks.history import History
from tinyvid.training.callbacks.lambda_callback import LambdaCallback
from tinyvid.training.callbacks.learning_rate_scheduler import LearningRateScheduler
from tinyvid.training.callbacks.model_checkpoint import FilepathFormatError, ModelCheckpoint
from tinyvid.training.callbacks.progbar import Progbar, ProgbarLogger
from tinyvid.training.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from tinyvid.training.callbacks.terminate_on_nan import TerminateOnNaN

__all__ = [
    "Callback", "CallbackList", "History", "Progbar", "ProgbarLogger", "EarlyStopping",
    "ModelCheckpoint", "FilepathFormatError", "LearningRateScheduler", "ReduceLROnPlateau",
    "CSVLogger", "TerminateOnNaN", "LambdaCallback", "BackupAndRestore",
]
