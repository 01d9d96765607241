"""Weights files (issue 15, items 5-10): loads that change nothing until they succeed, values that
cannot be weights refused, clear errors for files that are not weights files, bounded memory,
no temporaries left by killed saves, the umask's file mode, and a full disk named."""

import errno
import os
import stat
import tracemalloc
import zipfile

import numpy as np
import pytest

from tinyvid.layers import Dense, Input
from tinyvid.models import Sequential
from tinyvid.training import files
from tinyvid.training.files import atomic_write, temporary_path


def two_layer_model():
    return Sequential([Input(shape=(4,)), Dense(3, activation="relu"), Dense(2)])


def saved(tmp_path, **replace):
    """A weights file of two_layer_model, with the arrays in `replace` put in place of some."""
    model = two_layer_model()
    arrays = {"dense/0": model.layers[0].weights[0].data, "dense/1": model.layers[0].weights[1].data,
              "dense_1/0": model.layers[1].weights[0].data, "dense_1/1": model.layers[1].weights[1].data}
    arrays.update(replace)
    path = tmp_path / "model.weights.npz"
    np.savez(path, **arrays)
    return path


def assert_unchanged(model, before):
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


# --- 5: a failed load changes nothing -------------------------------------------------------------


@pytest.mark.parametrize("last", [np.array(["a", "b"]), np.array([b"a", b"b"]),
                                  np.zeros(2, dtype=[("x", "f4")]), np.zeros(2, dtype="V4")],
                         ids=["str", "bytes", "structured", "void"])
def test_item_05_failed_load_changes_nothing(tmp_path, last):
    path = saved(tmp_path, **{"dense/0": np.ones((4, 3), np.float32),
                              "dense/1": np.ones(3, np.float32), "dense_1/1": last})
    model = two_layer_model()
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"model\.weights\.npz.*'dense_1'.*weight 1 \('bias'\)"):
        model.load_weights(path)
    assert_unchanged(model, before)


# --- 6: values that cannot be weights --------------------------------------------------------------


@pytest.mark.parametrize("bias", [np.array([1, 2]), np.array([True, False]),
                                  np.array(["2000-01-01", "2000-01-02"], dtype="datetime64[D]"),
                                  np.array(["1.5", "2.5"]), np.array([1 + 2j, 3 + 0j])],
                         ids=["int", "bool", "datetime64", "numeric-strings", "complex"])
def test_item_06_non_float_dtypes_are_refused(tmp_path, bias):
    path = saved(tmp_path, **{"dense_1/1": bias})
    model = two_layer_model()
    before = model.get_weights()
    with pytest.raises(ValueError, match=(rf"load_weights\('{path}'\): layer '.*' \(saved as "
                                          rf"'dense_1'\) weight 1 \('bias'\) has dtype .* a weight "
                                          rf"must be floating point")):
        model.load_weights(path)
    assert_unchanged(model, before)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf, 1e300])
def test_item_06_non_finite_values_are_refused(tmp_path, value):
    kernel = np.zeros((3, 2), np.float64)
    kernel[2, 1] = value
    path = saved(tmp_path, **{"dense_1/0": kernel})
    model = two_layer_model()
    before = model.get_weights()
    with pytest.raises(ValueError, match=(rf"load_weights\('{path}'\): layer .*'dense_1'.* weight 0 "
                                          rf"\('kernel'\) holds .* at index \(2, 1\).*finite")):
        model.load_weights(path)
    assert_unchanged(model, before)


def test_item_06_float64_and_float16_weights_still_load(tmp_path):
    kernel = np.full((3, 2), 0.5, np.float64)
    path = saved(tmp_path, **{"dense_1/0": kernel, "dense_1/1": np.ones(2, np.float16)})
    model = two_layer_model()
    model.load_weights(path)
    np.testing.assert_array_equal(model.layers[1].weights[0].data, kernel.astype(np.float32))
    assert model.layers[1].weights[0].data.dtype == np.float32


# --- 7: clear errors for what is not a weights file -------------------------------------------------


def test_item_07_a_member_that_is_not_an_npy_is_named(tmp_path):
    path = saved(tmp_path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("dense_1/0", b"not an array")
    model = two_layer_model()
    before = model.get_weights()
    with pytest.raises(ValueError, match=rf"cannot read '{path}'.*member 'dense_1/0' is not a "
                                         rf"NumPy array \(\.npy\)"):
        model.load_weights(path)
    assert_unchanged(model, before)


def test_item_07_a_member_npy_in_name_only_is_named(tmp_path):
    path = tmp_path / "fake.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("dense/0.npy", b"plain bytes, no .npy header")
    with pytest.raises(ValueError, match=r"fake\.npz.*member 'dense/0\.npy' is not a valid \.npy"):
        two_layer_model().load_weights(path)


def test_item_07_a_text_file_is_called_a_text_file(tmp_path):
    path = tmp_path / "notes.weights.npz"
    path.write_text("dense/0: 1 2 3\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"cannot read '.*notes\.weights\.npz'.*text file") as caught:
        two_layer_model().load_weights(path)
    assert "pickle" not in str(caught.value)


def test_item_07_a_single_npy_array_is_told_apart(tmp_path):
    path = tmp_path / "one.npz"
    with open(path, "wb") as file:
        np.save(file, np.zeros(3))
    with pytest.raises(ValueError, match=r"one\.npz.*single array"):
        two_layer_model().load_weights(path)


# --- 8: names and headers first, bounded memory -------------------------------------------------------


def test_item_08_unknown_members_are_never_decompressed(tmp_path):
    path = saved(tmp_path)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("zeros/0.npy", "w") as member:  # 64 MB of zeros, ~64 KB compressed
            np.lib.format.write_array_header_1_0(member, {"descr": "<f8", "fortran_order": False,
                                                          "shape": (8 * 1024 * 1024,)})
            for _ in range(64):
                member.write(bytes(1024 * 1024))
    assert path.stat().st_size < 2_000_000
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="the file holds weights the model does not have: zeros/0"):
            two_layer_model().load_weights(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4_000_000


def test_item_08_a_member_longer_than_its_header_is_refused_unread(tmp_path):
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, shape in (("dense/0", (4, 3)), ("dense/1", (3,)), ("dense_1/0", (3, 2))):
            with archive.open(f"{name}.npy", "w") as member:
                np.save(member, np.zeros(shape, np.float32))
        with archive.open("dense_1/1.npy", "w") as member:  # header: 2 floats; data: 64 MB
            np.lib.format.write_array_header_1_0(member, {"descr": "<f4", "fortran_order": False,
                                                          "shape": (2,)})
            for _ in range(64):
                member.write(bytes(1024 * 1024))
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"bomb\.npz.*'dense_1/1\.npy' is \d+ bytes long, but"):
            two_layer_model().load_weights(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4_000_000


# --- 9: killed saves leave no temporaries; the umask's mode -------------------------------------------


def test_item_09_a_killed_save_leaves_no_temporary_after_the_next_save(tmp_path):
    model = two_layer_model()
    path = tmp_path / "model.weights.npz"
    model.save_weights(path)
    # What a save killed mid-write (SIGKILL: no clean-up runs) leaves: its temporary.
    temporary_path(path).write_bytes(b"PK\x03\x04 half a zip")
    model.save_weights(path)
    assert sorted(os.listdir(tmp_path)) == ["model.weights.npz"]
    two_layer_model().load_weights(path)


def test_item_09_saved_files_get_the_umask_mode_or_keep_the_replaced_mode(tmp_path):
    model = two_layer_model()
    previous = os.umask(0o022)
    try:
        new = tmp_path / "new.weights.npz"
        model.save_weights(new)
        assert stat.S_IMODE(new.stat().st_mode) == 0o644
        shared = tmp_path / "shared.weights.npz"
        shared.write_bytes(b"")
        os.chmod(shared, 0o664)
        model.save_weights(shared)
        assert stat.S_IMODE(shared.stat().st_mode) == 0o664
    finally:
        os.umask(previous)


def test_item_09_atomic_write_removes_its_temporary_when_writing_fails(tmp_path):
    def fail(file):
        file.write(b"half")
        raise RuntimeError("stopped")

    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "out.bin", fail)
    assert os.listdir(tmp_path) == []


# --- 10: a full disk names the file -------------------------------------------------------------------


def test_item_10_a_full_disk_names_the_file(tmp_path, monkeypatch):
    model = two_layer_model()
    path = tmp_path / "model.weights.npz"
    model.save_weights(path)
    before = path.read_bytes()

    def no_space(handle, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files.os, "fsync", no_space)
    with pytest.raises(OSError, match=rf"save_weights: No space left on device: '{path}'") as caught:
        model.save_weights(path)
    monkeypatch.undo()
    assert caught.value.errno == errno.ENOSPC
    assert caught.value.filename == str(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.weights.npz"]


def test_item_10_an_unwritable_folder_names_the_file(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    folder = tmp_path / "locked"
    folder.mkdir()
    os.chmod(folder, 0o500)
    try:
        with pytest.raises(PermissionError, match="locked/model.weights.npz"):
            two_layer_model().save_weights(folder / "model.weights.npz")
    finally:
        os.chmod(folder, 0o700)
