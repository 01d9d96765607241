"""The ready-made video models: each builds with the documented shapes and learns a little."""

import numpy as np
import pytest

import tinyvid.layers

needed = ("Conv3D", "MaxPooling3D", "TimeDistributed", "Reshape")
if not all(hasattr(tinyvid.layers, name) for name in needed):
    pytest.skip("the temporal layers are not in tinyvid.layers", allow_module_level=True)

from tinyvid.applications import CLIP_MODELS, MODELS  # noqa: E402
from tinyvid.optimizers import Adam  # noqa: E402
from tinyvid.utils import set_random_seed  # noqa: E402


@pytest.mark.parametrize("name", sorted(MODELS))
def test_each_model_builds_and_a_few_steps_lower_the_loss(name):
    set_random_seed(0)
    frames = 2 if name == "late_fusion" else 8
    model = MODELS[name](num_classes=3, num_frames=frames, frame_size=32)
    shape = (6, frames, 32, 32, 3) if name in CLIP_MODELS else (6, 32, 32, 3)
    rng = np.random.default_rng(0)
    x = rng.random(shape, dtype=np.float32)
    y = np.eye(3, dtype=np.float32)[[0, 1, 2, 0, 1, 2]]
    assert model.predict(x, verbose=0).shape == (6, 3)
    model.compile(optimizer=Adam(learning_rate=1e-3), loss="categorical_crossentropy")
    before = model.evaluate(x, y, verbose=0)  # without dropout, so the comparison is fair
    for _ in range(8):
        model.train_on_batch(x, y)
    assert model.evaluate(x, y, verbose=0) < before


def test_slow_fusion_sees_more_frames_layer_by_layer():
    model = MODELS["slow_fusion"](num_classes=4, num_frames=8, frame_size=32)
    conv_times = [layer.compute_output_shape((None, 8, 32, 32, 3)) for layer in model.layers[:1]]
    assert conv_times[0][1] == 6  # the first 3-D convolution keeps 6 of 8 time steps
    kernels = [layer.kernel_size[0] for layer in model.layers if type(layer).__name__ == "Conv3D"]
    assert kernels == [3, 3, 2]


def test_c3d_keeps_time_through_pool1_and_halves_it_after():
    model = MODELS["c3d"](num_classes=4, num_frames=8, frame_size=32)
    pools = [layer.pool_size for layer in model.layers if type(layer).__name__ == "MaxPooling3D"]
    assert pools == [(1, 2, 2), (2, 2, 2), (2, 2, 2), (2, 2, 2)]
    kernels = {layer.kernel_size for layer in model.layers if type(layer).__name__ == "Conv3D"}
    assert kernels == {(3, 3, 3)}
