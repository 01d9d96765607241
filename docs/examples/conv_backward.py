"""One training step of the source document's model (section 4.2), small enough to step through.

docs/tutorial.md runs this script under the debugger, from the repository's root folder:

    python -m pdb -c "import tinyvid.nn.conv" -c "b tinyvid.nn.conv.Conv2D.backward" -c c docs/examples/conv_backward.py

stops inside Conv2D's backward (it runs twice: the second convolution first), and

    NUMBA_DISABLE_JIT=1 python -m pdb ...the same...

lets the debugger step on into the kernels (kernels/conv.py). Run alone, it prints the loss.
"""

import numpy as np

from tinyvid.datasets import moving_shapes_video
from tinyvid.layers import Conv2D, Dense, Flatten
from tinyvid.models import Sequential
from tinyvid.utils import set_random_seed, to_categorical

set_random_seed(0)
frame_size, num_classes = 16, 3

# Two real frames: the first of a red-circle video and of a green-square one, in [0, 1].
frames = [moving_shapes_video(name, 0, num_frames=1, size=frame_size)
          for name in ("red_circle", "green_square")]
x = np.concatenate(frames).astype(np.float32) / 255      # (2, 16, 16, 3)
y = to_categorical([0, 1], num_classes)                   # (2, 3), one-hot

model = Sequential()
model.add(Conv2D(32, (3, 3), activation='relu', input_shape=(frame_size, frame_size, 3)))
model.add(Conv2D(64, (3, 3), activation='relu'))
model.add(Flatten())
model.add(Dense(64, activation='relu'))
model.add(Dense(num_classes, activation='softmax'))
model.compile(optimizer='sgd', loss='categorical_crossentropy')

# forward -> loss -> backward (each Conv2D.backward runs here) -> the SGD step
loss = model.train_on_batch(x, y)
print(f"loss before the step: {loss:.4f}")
