"""fit's checks on its arguments and data (issue 15, items 15 and 19, the Python side)."""

import warnings

import numpy as np
import pytest

from tinyvid.callbacks import ModelCheckpoint
from tinyvid.layers import Dense, Input
from tinyvid.models import Sequential
from tinyvid.training.checks import MissingLogKeyError, first_non_finite


def classifier():
    model = Sequential([Input(shape=(4,)), Dense(3, activation="softmax")])
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    return model


def data(n=12):
    rng = np.random.default_rng(0)
    return rng.random((n, 4), dtype=np.float32), np.eye(3, dtype=np.float32)[rng.integers(0, 3, n)]


class Batches:
    """A minimal data source (Keras's PyDataset protocol) over fixed batches."""

    def __init__(self, batches):
        self.batches = batches

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, i):
        return self.batches[i]


# --- 15: non-finite inputs and labels --------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_item_15_fit_refuses_non_finite_inputs_naming_the_array_and_index(bad):
    x, y = data()
    x[7, 2] = bad
    model = classifier()
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"fit: `x` holds a non-finite value .* at index \(7, 2\)"):
        model.fit(x, y, epochs=1, verbose=0)
    for a, b in zip(before, model.get_weights()):  # refused before the first step
        np.testing.assert_array_equal(a, b)


def test_item_15_fit_refuses_non_finite_labels_and_validation_data():
    x, y = data()
    y[3, 0] = np.nan
    with pytest.raises(ValueError, match=r"`y` holds a non-finite value \(nan\) at index \(3, 0\)"):
        classifier().fit(x, y, epochs=1, verbose=0)
    x, y = data()
    x_val = x.copy()
    x_val[1, 1] = np.inf
    with pytest.raises(ValueError, match=r"`validation x` holds a non-finite value \(inf\) at index \(1, 1\)"):
        classifier().fit(x, y, epochs=1, verbose=0, validation_data=(x_val, y))


def test_item_15_fit_checks_each_batch_of_a_data_source():
    x, y = data()
    bad = x[4:8].copy()
    bad[2, 3] = np.nan
    source = Batches([(x[:4], y[:4]), (bad, y[4:8])])
    with pytest.raises(ValueError, match=r"batch 1 of the training data: `x` holds a non-finite "
                                         r"value \(nan\) at index \(2, 3\) of the batch"):
        classifier().fit(source, epochs=1, verbose=0)


def test_item_15_integer_frames_are_always_finite_and_big_arrays_are_checked_in_slices():
    assert first_non_finite(np.zeros((3, 8, 8, 3), np.uint8)) is None
    big = np.zeros((300, 64, 64, 3), np.float32)  # 14 MB: more than one slice
    big[-1, 63, 0, 2] = np.inf
    assert first_non_finite(big) == (299, 63, 0, 2)


def test_item_15_predict_with_nan_inputs_warns_once():
    x, _ = data(70)  # three batches of 32
    x[5, 0] = x[40, 0] = x[69, 1] = np.nan
    with pytest.warns(RuntimeWarning, match=r"predict: `x` holds a non-finite value \(nan\) at index \(5, 0\)") as caught:
        out = classifier().predict(x, verbose=0)
    assert len([w for w in caught if "non-finite" in str(w.message)]) == 1
    assert np.isnan(out[5]).all() and np.isfinite(out[6]).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        classifier().predict(np.nan_to_num(x), verbose=0)  # finite inputs: no warning


# --- 19: epochs, empty batches, ModelCheckpoint's keys ------------------------------------------------


@pytest.mark.parametrize("epochs", [2.5, -1, "3", True, None])
def test_item_19_fit_refuses_epochs_that_are_not_a_count(epochs):
    x, y = data()
    with pytest.raises(ValueError, match=r"fit: invalid value for argument `epochs`: expected an "
                                         r"integer >= 0"):
        classifier().fit(x, y, epochs=epochs, verbose=0)


def test_item_19_fit_accepts_numpy_integers_and_zero_epochs():
    x, y = data()
    assert len(classifier().fit(x, y, epochs=np.int64(2), verbose=0).history["loss"]) == 2
    assert classifier().fit(x, y, epochs=0, verbose=0).history == {}


def test_item_19_train_on_batch_refuses_zero_samples():
    model = classifier()
    with pytest.raises(ValueError, match=r"train_on_batch: the batch holds 0 samples \(x of shape \(0, 4\)\)"):
        model.train_on_batch(np.zeros((0, 4), np.float32), np.zeros((0, 3), np.float32))
    with pytest.raises(ValueError, match=r"train_on_batch: the batch has 2 samples in x but y of shape \(3, 3\)"):
        model.train_on_batch(np.zeros((2, 4), np.float32), np.zeros((3, 3), np.float32))


def test_item_19_fit_refuses_an_empty_batch_from_a_data_source():
    x, y = data()
    with pytest.raises(ValueError, match=r"batch 1 of the training data holds 0 samples"):
        classifier().fit(Batches([(x[:4], y[:4]), (x[:0], y[:0])]), epochs=1, verbose=0)


def test_item_19_checkpoint_name_with_val_loss_without_validation_data(tmp_path):
    x, y = data()
    checkpoint = ModelCheckpoint(str(tmp_path / "ckpt-{val_loss:.2f}.weights.npz"))
    with pytest.raises(ValueError, match=r"ModelCheckpoint: the filepath '.*ckpt-\{val_loss:.2f\}"
                                         r"\.weights\.npz' uses the key 'val_loss', which the logs "
                                         r"of epoch 1 do not have; they have: epoch, loss, accuracy"
                                         r" \(val_ keys need validation_data="):
        classifier().fit(x, y, epochs=2, verbose=0, callbacks=[checkpoint])
    with pytest.raises(KeyError):  # also what Keras raises
        raise MissingLogKeyError("same class")
    assert list(tmp_path.iterdir()) == []
