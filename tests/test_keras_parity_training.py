"""Training pieces against Keras 3 (torch backend): optimizers, schedules, ReduceLROnPlateau,
preprocessing layers and metrics give the same numbers on the same inputs."""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

from tinyvid import optimizers  # noqa: E402
from tinyvid.optimizers import schedules  # noqa: E402
from tinyvid.tensor import Tensor  # noqa: E402

SHAPES = [(3, 4), (5,)]


def gradients(steps, seed=0):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s).astype(np.float32) * 3 for s in SHAPES] for _ in range(steps)]


def starting_weights():
    rng = np.random.default_rng(99)
    return [rng.standard_normal(s).astype(np.float32) for s in SHAPES]


def run_keras(optimizer, grads):
    variables = [keras.Variable(w) for w in starting_weights()]
    for step in grads:
        optimizer.apply_gradients(zip([keras.ops.convert_to_tensor(g) for g in step], variables))
    return [keras.ops.convert_to_numpy(v) for v in variables]


def run_tinyvid(optimizer, grads):
    weights = [Tensor(w, requires_grad=True) for w in starting_weights()]
    for step in grads:
        optimizer.apply_gradients(zip([g.copy() for g in step], weights))
    return [w.data for w in weights]


CASES = {
    "rmsprop": dict(cls="RMSprop", kwargs=dict(learning_rate=0.01)),
    "rmsprop_momentum_centered": dict(cls="RMSprop", kwargs=dict(
        learning_rate=0.01, rho=0.8, momentum=0.5, centered=True, epsilon=1e-3)),
    "adamw": dict(cls="AdamW", kwargs=dict(learning_rate=0.01)),
    "adamw_strong_decay": dict(cls="AdamW", kwargs=dict(learning_rate=0.05, weight_decay=0.3)),
    "adam_clipnorm": dict(cls="Adam", kwargs=dict(learning_rate=0.01, clipnorm=1.0)),
    "sgd_clipvalue": dict(cls="SGD", kwargs=dict(learning_rate=0.1, momentum=0.9, clipvalue=0.5)),
    "sgd_global_clipnorm": dict(cls="SGD", kwargs=dict(learning_rate=0.1, global_clipnorm=2.0)),
    "sgd_weight_decay": dict(cls="SGD", kwargs=dict(learning_rate=0.1, weight_decay=0.1,
                                                   nesterov=True, momentum=0.5)),
    "rmsprop_weight_decay_clipnorm": dict(cls="RMSprop", kwargs=dict(
        learning_rate=0.01, weight_decay=0.2, clipnorm=0.7)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_optimizer_steps_match_keras(case):
    cls, kwargs = CASES[case]["cls"], CASES[case]["kwargs"]
    grads = gradients(6, seed=len(case))
    expected = run_keras(getattr(keras.optimizers, cls)(**kwargs), grads)
    actual = run_tinyvid(getattr(optimizers, cls)(**kwargs), grads)
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a, e, rtol=2e-5, atol=2e-6)


SCHEDULES = {
    "exponential": ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=3,
                                             decay_rate=0.5)),
    "exponential_staircase": ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=3,
                                                       decay_rate=0.5, staircase=True)),
    "piecewise": ("PiecewiseConstantDecay", dict(boundaries=[2, 5], values=[0.1, 0.05, 0.01])),
    "cosine": ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=5, alpha=0.1)),
    "cosine_warmup": ("CosineDecay", dict(initial_learning_rate=0.0, decay_steps=5,
                                          warmup_target=0.2, warmup_steps=3)),
}


@pytest.mark.parametrize("case", sorted(SCHEDULES))
def test_schedules_give_keras_learning_rates_and_configs(case):
    cls, kwargs = SCHEDULES[case]
    k_schedule, t_schedule = getattr(keras.optimizers.schedules, cls)(**kwargs), getattr(
        schedules, cls)(**kwargs)
    expected = [float(keras.ops.convert_to_numpy(k_schedule(step))) for step in range(12)]
    np.testing.assert_allclose([t_schedule(step) for step in range(12)], expected, rtol=1e-6,
                               atol=1e-8)
    assert t_schedule.get_config() == k_schedule.get_config()
    assert schedules.serialize(t_schedule) == keras.optimizers.schedules.serialize(k_schedule)
    back = keras.optimizers.schedules.deserialize(schedules.serialize(t_schedule))
    assert back.get_config() == k_schedule.get_config()


@pytest.mark.parametrize("case", ["exponential", "cosine_warmup", "piecewise"])
def test_a_schedule_drives_the_optimizer_as_in_keras(case):
    cls, kwargs = SCHEDULES[case]
    grads = gradients(8, seed=3)
    expected = run_keras(keras.optimizers.Adam(
        learning_rate=getattr(keras.optimizers.schedules, cls)(**kwargs)), grads)
    optimizer = optimizers.Adam(learning_rate=getattr(schedules, cls)(**kwargs))
    actual = run_tinyvid(optimizer, grads)
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a, e, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("cls, kwargs", [
    ("SGD", dict(learning_rate=0.05, momentum=0.9, nesterov=True, clipnorm=1.0)),
    ("RMSprop", dict(rho=0.8, momentum=0.1, centered=True, weight_decay=0.01)),
    ("Adam", dict(beta_1=0.8, global_clipnorm=3.0)),
    ("AdamW", dict(learning_rate=0.003, weight_decay=0.01, clipvalue=2.0)),
])
def test_optimizer_configs_have_keras_keys_and_load_both_ways(cls, kwargs):
    k_config = getattr(keras.optimizers, cls)(**kwargs).get_config()
    t_optimizer = getattr(optimizers, cls)(**kwargs)
    t_config = t_optimizer.get_config()
    assert set(t_config) == set(k_config)
    for key, value in k_config.items():
        if isinstance(value, float):
            assert t_config[key] == pytest.approx(value, rel=1e-6), key
        elif key != "name":
            assert t_config[key] == value, key
    # tinyvid's config read by Keras, and Keras's by tinyvid
    from_tinyvid = keras.optimizers.deserialize(optimizers.serialize(t_optimizer))
    assert type(from_tinyvid).__name__ == cls
    from_keras = optimizers.deserialize(keras.optimizers.serialize(
        getattr(keras.optimizers, cls)(**kwargs)))
    assert type(from_keras).__name__ == cls
    assert from_keras.get_config()["learning_rate"] == pytest.approx(t_config["learning_rate"])


def test_optimizer_variables_are_in_keras_order():
    for cls, kwargs in [("Adam", {}), ("RMSprop", dict(momentum=0.5, centered=True)),
                        ("SGD", dict(momentum=0.9)), ("SGD", {}), ("AdamW", {})]:
        k_opt, t_opt = getattr(keras.optimizers, cls)(**kwargs), getattr(optimizers, cls)(**kwargs)
        k_vars = [keras.Variable(w) for w in starting_weights()]
        k_opt.build(k_vars)
        t_opt.build([Tensor(w, requires_grad=True) for w in starting_weights()])
        assert [tuple(v.shape) for v in k_opt.variables] == [v.shape for v in t_opt.variables]


# --- callbacks ------------------------------------------------------------------------------------


class FakeModel:
    def __init__(self, optimizer):
        self.optimizer, self.stop_training = optimizer, False


@pytest.mark.parametrize("kwargs", [
    dict(factor=0.5, patience=2, cooldown=1, min_lr=0.01),
    dict(factor=0.2, patience=0, min_delta=0.05, mode="min"),
    dict(monitor="val_accuracy", factor=0.5, patience=1, mode="max", cooldown=2),
])
def test_reduce_lr_on_plateau_gives_kerass_learning_rate_sequence(kwargs):
    from tinyvid import callbacks

    values = np.random.default_rng(len(kwargs)).uniform(0.4, 1.0, 30).round(2).tolist()
    monitor = kwargs.get("monitor", "val_loss")
    sequences = []
    for library, optimizer in ((keras, keras.optimizers.SGD(learning_rate=0.5)),
                               (callbacks, optimizers.SGD(learning_rate=0.5))):
        callback = (keras.callbacks if library is keras else callbacks).ReduceLROnPlateau(**kwargs)
        callback.set_model(FakeModel(optimizer))
        callback.on_train_begin()
        rates = []
        for epoch, value in enumerate(values):
            logs = {monitor: value}
            callback.on_epoch_end(epoch, logs)
            rates.append(float(keras.ops.convert_to_numpy(optimizer.learning_rate)))
        sequences.append(rates)
    np.testing.assert_allclose(sequences[1], sequences[0], rtol=1e-6)
    assert len(set(sequences[0])) > 2  # the script did make it reduce, more than once


def test_learning_rate_scheduler_gives_kerass_sequence():
    from tinyvid import callbacks

    def schedule(epoch, lr):
        return lr if epoch < 2 else lr * 0.9

    sequences = []
    for module, optimizer in ((keras.callbacks, keras.optimizers.Adam(learning_rate=0.01)),
                              (callbacks, optimizers.Adam(learning_rate=0.01))):
        callback = module.LearningRateScheduler(schedule)
        callback.set_model(FakeModel(optimizer))
        rates = []
        for epoch in range(6):
            callback.on_epoch_begin(epoch)
            logs = {"loss": 1.0}  # Keras replaces an empty dict by a new one
            callback.on_epoch_end(epoch, logs)
            rates.append(logs["learning_rate"])
        sequences.append(rates)
    np.testing.assert_allclose(sequences[1], sequences[0], rtol=1e-6)


# --- metrics --------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls, kwargs", [
    ("Precision", {}), ("Recall", {}), ("Precision", dict(thresholds=[0.2, 0.5, 0.9])),
    ("Recall", dict(class_id=1)), ("Precision", dict(top_k=2)), ("Recall", dict(top_k=1)),
    ("TopKCategoricalAccuracy", dict(k=2)), ("TopKCategoricalAccuracy", {}),
])
def test_metrics_accumulate_as_kerass_over_batches(cls, kwargs):
    from tinyvid import metrics

    rng = np.random.default_rng(7)
    k_metric, t_metric = getattr(keras.metrics, cls)(**kwargs), getattr(metrics, cls)(**kwargs)
    for _ in range(3):
        y_pred = rng.dirichlet(np.ones(6), size=5).astype(np.float32)
        y_true = np.eye(6, dtype=np.float32)[rng.integers(0, 6, 5)]
        k_metric.update_state(y_true, y_pred)
        t_metric.update_state(y_true, y_pred)
    np.testing.assert_allclose(t_metric.result(), keras.ops.convert_to_numpy(k_metric.result()),
                               rtol=1e-6)
    k_config = k_metric.get_config()
    assert t_metric.get_config() == {**k_config, "name": t_metric.name}  # Keras numbers its names


def test_top_k_categorical_accuracy_function_matches_keras():
    from tinyvid import metrics

    rng = np.random.default_rng(8)
    y_pred = rng.random((16, 7)).astype(np.float32)
    y_true = np.eye(7, dtype=np.float32)[rng.integers(0, 7, 16)]
    for k in (1, 3, 5):
        expected = keras.ops.convert_to_numpy(
            keras.metrics.top_k_categorical_accuracy(y_true, y_pred, k=k))
        np.testing.assert_array_equal(metrics.top_k_categorical_accuracy(y_true, y_pred, k=k),
                                      expected)


# --- preprocessing layers ---------------------------------------------------------------------


IMAGES = (np.random.default_rng(5).random((3, 9, 12, 3)) * 255).astype(np.float32)


def keras_out(layer, x, **kwargs):
    return keras.ops.convert_to_numpy(layer(x, **kwargs))


@pytest.mark.parametrize("name, kwargs", [
    ("Rescaling", dict(scale=1 / 127.5, offset=-1.0)),
    ("Resizing", dict(height=5, width=7)),
    ("Resizing", dict(height=20, width=17)),
    ("Resizing", dict(height=4, width=6, interpolation="nearest")),
    ("Resizing", dict(height=6, width=6, crop_to_aspect_ratio=True)),
    ("Resizing", dict(height=6, width=6, pad_to_aspect_ratio=True, fill_value=7.0)),
    ("CenterCrop", dict(height=5, width=8)),
    ("CenterCrop", dict(height=12, width=12)),  # larger than the image: cropped, then resized
])
def test_deterministic_preprocessing_matches_keras(name, kwargs):
    from tinyvid import layers

    expected = keras_out(getattr(keras.layers, name)(**kwargs), IMAGES)
    layer = getattr(layers, name)(**kwargs)
    np.testing.assert_allclose(layer(IMAGES).data, expected, rtol=1e-5, atol=1e-4)
    k_config = getattr(keras.layers, name)(**kwargs).get_config()
    assert set(layer.get_config()) <= set(k_config)
    for key in set(layer.get_config()) - {"name", "dtype"}:
        assert layer.get_config()[key] == pytest.approx(k_config[key]), key


def test_deterministic_preprocessing_on_clips_matches_keras_time_distributed():
    from tinyvid import layers

    clips = IMAGES.reshape(1, 3, 9, 12, 3)
    expected = keras_out(keras.layers.TimeDistributed(keras.layers.Resizing(4, 5)), clips)
    np.testing.assert_allclose(layers.Resizing(4, 5)(clips).data, expected, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("name, kwargs", [
    ("RandomFlip", {}), ("RandomFlip", dict(mode="horizontal")),
    ("RandomRotation", dict(factor=0.2)), ("RandomZoom", dict(height_factor=0.3, width_factor=0.1)),
    ("RandomContrast", dict(factor=0.4)),
])
def test_random_preprocessing_in_inference_matches_keras(name, kwargs):
    from tinyvid import layers

    expected = keras_out(getattr(keras.layers, name)(seed=1, **kwargs), IMAGES, training=False)
    np.testing.assert_array_equal(getattr(layers, name)(seed=1, **kwargs)(IMAGES).data, expected)
    k_config = getattr(keras.layers, name)(seed=1, **kwargs).get_config()
    t_config = getattr(layers, name)(seed=1, **kwargs).get_config()
    for key in set(t_config) - {"name", "dtype"}:
        assert t_config[key] == k_config[key], key
    assert set(t_config) <= set(k_config)


def test_random_crop_in_inference_is_kerass_documented_central_resize():
    # Keras 3.15's RandomCrop returns its input unchanged in inference (a shape other than its
    # own compute_output_shape); its documentation, followed here, says: the largest central
    # window of the target's aspect ratio, resized, i.e. Resizing(crop_to_aspect_ratio=True).
    from tinyvid import layers

    expected = keras_out(keras.layers.Resizing(5, 5, crop_to_aspect_ratio=True), IMAGES)
    np.testing.assert_allclose(layers.RandomCrop(5, 5)(IMAGES).data, expected, rtol=1e-5,
                               atol=1e-4)
    assert keras.layers.RandomCrop(5, 5).compute_output_shape((3, 9, 12, 3)) == (3, 5, 5, 3)
