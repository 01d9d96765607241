"""The neural-network ops, as functions of tensors: each file holds one op's Function (forward and
backward side by side), its public function, and that function's argument checks.

    dense.py          dense(x, w, b)                       y = x @ w + b        -> kernels/dense.py
    conv.py           conv2d(x, w, b, strides, padding)    im2col + BLAS        -> kernels/conv.py
    pool.py           max_pool2d, avg_pool2d                                    -> kernels/pool.py
    softmax.py        softmax, log_softmax                 fused, stable
    crossentropy.py   sigmoid_cross_entropy_with_logits    fused, stable
    recurrent.py      gru(xw, u, ...), lstm(xw, u, ...)    the steps of GRU / LSTM, through time

`tinyvid.functional` shows the same functions under PyTorch's name for them.
"""

from tinyvid.nn.conv import KEEP_COLS_BYTES, Conv2D, conv2d
from tinyvid.nn.crossentropy import SigmoidCrossEntropyWithLogits, sigmoid_cross_entropy_with_logits
from tinyvid.nn.dense import Dense, dense
from tinyvid.nn.pool import AvgPool2D, MaxPool2D, avg_pool2d, max_pool2d
from tinyvid.nn.recurrent import GRU, LSTM, gru, lstm
from tinyvid.nn.softmax import LogSoftmax, Softmax, log_softmax, softmax

__all__ = [
    "dense", "conv2d", "max_pool2d", "avg_pool2d", "softmax", "log_softmax",
    "sigmoid_cross_entropy_with_logits",
    "Dense", "Conv2D", "MaxPool2D", "AvgPool2D", "Softmax", "LogSoftmax",
    "SigmoidCrossEntropyWithLogits", "KEEP_COLS_BYTES",
]
__all__ += ["gru", "lstm", "GRU", "LSTM"]
