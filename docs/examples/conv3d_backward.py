"""One training step of a tiny 3-D convolutional network on two clips, small enough to step through.

docs/tutorial.md (section 9.4) runs this script under the debugger, from the repository's root
folder, with every Numba kernel left as plain Python:

    NUMBA_DISABLE_JIT=1 python -m pdb -c "import tinyvid.nn" -c "b tinyvid.nn.Conv3D.backward" -c c docs/examples/conv3d_backward.py

It stops inside Conv3D's backward twice (the second convolution first, the first one next), and
from there the debugger steps on into kernels/conv3d.py. Two clips of 4 frames, 16 x 16, from
the motion dataset: a triangle moving left and one moving right. Run alone, it prints the loss.
"""

import numpy as np

from tinyvid.datasets import motion_video
from tinyvid.layers import Conv3D, Dense, GlobalAveragePooling3D, Input
from tinyvid.models import Sequential
from tinyvid.utils import set_random_seed

set_random_seed(0)
num_frames, size = 4, 16

clips = [motion_video(name, 0, num_frames=num_frames, size=size) for name in ("left", "right")]
x = np.stack(clips).astype(np.float32) / 255               # (2, 4, 16, 16, 3), in [0, 1]
y = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)  # left, right: one-hot

model = Sequential([
    Input((num_frames, size, size, 3)),
    Conv3D(4, (3, 3, 3), activation="relu"),        # kernel (3, 3, 3, 3, 4) -> (2, 2, 14, 14, 4)
    Conv3D(8, (2, 3, 3), activation="relu"),        # kernel (2, 3, 3, 4, 8) -> (2, 1, 12, 12, 8)
    GlobalAveragePooling3D(),                       # (2, 8)
    Dense(2, activation="softmax"),
])
model.compile(optimizer="sgd", loss="categorical_crossentropy")

# forward -> loss -> backward (each Conv3D.backward runs here, the second one first) -> the step
loss = model.train_on_batch(x, y)
print(f"loss before the step: {loss:.4f}")
