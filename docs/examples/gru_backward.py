"""Backpropagation through time in a GRU, small enough to step through.

docs/tutorial.md runs this script under the debugger, from the repository's root folder:

    python -m pdb -c "import tinyvid.nn.recurrent" -c "b tinyvid.nn.recurrent.gru_step_backward" -c c docs/examples/gru_backward.py

and stops in the backward of the GRU's last time step (the backward walks the steps in
reverse). Two sequences of 5 steps: the first is 5 steps long, the second only 3, padded with
zeros, which Masking turns into a mask. Run alone, it prints the gradient of the GRU's kernel.
"""

import numpy as np

from tinyvid.layers import GRU, Dense, Input, Masking
from tinyvid.models import Sequential
from tinyvid.utils import set_random_seed

set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.standard_normal((2, 5, 4)).astype(np.float32)   # (batch, time, features)
x[1, 3:] = 0.0                                          # the second clip has 3 real steps
y = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)

model = Sequential([Input((5, 4)), Masking(), GRU(3), Dense(2, activation="softmax")])
model.compile(optimizer="sgd", loss="categorical_crossentropy")

# forward -> loss -> backward (GRU's backward walks t = 4, 3, ..., 0 here) -> the SGD step
model.train_on_batch(x, y)
gru = model.layers[1]
print("the GRU's kernel after one step:", gru.kernel.data.shape)
