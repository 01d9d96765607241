"""The neural-network ops, as functions of tensors: each file holds one op's Function (forward and
backward side by side), its public function, and that function's argument checks.

    dense.py          dense(x, w, b)                       y = x @ w + b        -> kernels/dense.py
    conv.py           conv2d(x, w, b, strides, padding)    im2col + BLAS        -> kernels/conv.py
    conv3d.py         conv3d(x, w, b, strides, padding)    frames im2col + BLAS -> kernels/conv3d.py
    pool.py           max_pool2d, avg_pool2d, max_pool3d, avg_pool3d  -> kernels/pool.py, pool3d.py
    normalization.py  batch_normalization                  fused, batch or moving statistics
    softmax.py        softmax, log_softmax                 fused, stable
    crossentropy.py   sigmoid_cross_entropy_with_logits    fused, stable
    image.py          resize, affine_transform             for the preprocessing layers
    recurrent.py      gru(xw, u, ...), lstm(xw, u, ...)    the steps of GRU / LSTM, through time

`tinyvid.functional` shows the same functions under PyTorch's name for them.
"""

from tinyvid.nn.conv import KEEP_COLS_BYTES, Conv2D, conv2d
from tinyvid.nn.conv3d import Conv3D, conv3d
from tinyvid.nn.crossentropy import SigmoidCrossEntropyWithLogits, sigmoid_cross_entropy_with_logits
from tinyvid.nn.dense import Dense, dense
from tinyvid.nn.image import AffineSample, Pad2D, Resize, affine_transform, resize
from tinyvid.nn.normalization import BatchNormInference, BatchNormTraining, batch_normalization
from tinyvid.nn.pool import (
    AvgPool2D,
    AvgPool3D,
    MaxPool2D,
    MaxPool3D,
    avg_pool2d,
    avg_pool3d,
    max_pool2d,
    max_pool3d,
)
from tinyvid.nn.recurrent import GRU, LSTM, gru, lstm
from tinyvid.nn.softmax import LogSoftmax, Softmax, log_softmax, softmax

__all__ = [
    "dense", "conv2d", "max_pool2d", "avg_pool2d", "softmax", "log_softmax",
    "sigmoid_cross_entropy_with_logits",
    "Dense", "Conv2D", "MaxPool2D", "AvgPool2D", "Softmax", "LogSoftmax",
    "SigmoidCrossEntropyWithLogits", "KEEP_COLS_BYTES",
    "conv3d", "max_pool3d", "avg_pool3d", "batch_normalization",
    "Conv3D", "MaxPool3D", "AvgPool3D", "BatchNormTraining", "BatchNormInference",
    "resize", "affine_transform", "Resize", "AffineSample", "Pad2D",
]
__all__ += ["gru", "lstm", "GRU", "LSTM"]
