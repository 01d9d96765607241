"""Ready-made video classifiers, each a function returning an (uncompiled) model, as
keras.applications does, scaled to train in minutes on a laptop CPU.

    frame.py        single_frame    the source document's model, one frame at a time
    fusion.py       early_fusion    the first convolution sees all T frames at once
                    late_fusion     two frames far apart, one shared tower, merged at the dense
                    slow_fusion     3-D convolutions whose temporal extent grows layer by layer
    c3d.py          c3d             3x3x3 convolutions throughout (Tran et al., ICCV 2015)
    recurrent.py    cnn_gru         a frame CNN under TimeDistributed, then a GRU over the frames
                    cnn_lstm        the same with an LSTM (Donahue et al., CVPR 2015)

The fusion models are those of Karpathy et al., "Large-scale Video Classification with
Convolutional Neural Networks", CVPR 2014. Clips come in as (batch, T, height, width, 3), from
`tinyvid.datasets.ClipBatches`; `single_frame` takes frames (batch, height, width, 3), from
`FrameBatches`, and a video's class is the mean of its frames' predictions. The recurrent
models take two inputs, [clips, mask] (`ClipBatches(..., return_mask=True)`): `RECURRENT_MODELS`.

`MODELS` maps each name to its function and says whether it takes clips; the `tinyvid train
--model NAME` command reads it.
"""

from tinyvid.applications.c3d import c3d
from tinyvid.applications.frame import single_frame
from tinyvid.applications.fusion import early_fusion, late_fusion, slow_fusion
from tinyvid.applications.recurrent import cnn_gru, cnn_lstm

MODELS = {
    "single_frame": single_frame,
    "early_fusion": early_fusion,
    "late_fusion": late_fusion,
    "slow_fusion": slow_fusion,
    "c3d": c3d,
    "cnn_gru": cnn_gru,
    "cnn_lstm": cnn_lstm,
}
"""name -> function(num_classes, num_frames=..., frame_size=...) returning a model."""

CLIP_MODELS = frozenset({"early_fusion", "late_fusion", "slow_fusion", "c3d", "cnn_gru",
                         "cnn_lstm"})
"""The models that take clips (batch, T, h, w, 3); the others take single frames."""

RECURRENT_MODELS = frozenset({"cnn_gru", "cnn_lstm"})
"""The clip models that also take a mask (batch, T): inputs [clips, mask]."""

__all__ = ["single_frame", "early_fusion", "late_fusion", "slow_fusion", "c3d", "cnn_gru",
           "cnn_lstm", "MODELS", "CLIP_MODELS", "RECURRENT_MODELS"]
