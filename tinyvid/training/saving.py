"""Saving and loading a model's weights: one .npz file (NumPy's zip of arrays), written atomically.

The file maps one key per weight to its array, in Keras's layouts:

    conv2d/0    (3, 3, 3, 32)    conv2d/1    (32,)        kernel and bias of the first Conv2D
    conv2d_1/0  (3, 3, 32, 64)   ...
    dense/0     (230400, 64)     dense/1     (64,)        ...

A layer's key is the name it would get in a fresh session (its class in snake case, numbered
within the model), as Keras 3 names layers inside its .weights.h5 files. It equals the layer's
name for a model built first in its process, and, unlike the name, it does not change when the
same model is built a second time (then named dense_2, dense_3, ...), so that copy still loads
the file.

Saving goes through `tinyvid.training.files.atomic_write`: a crash while saving leaves the
previous file whole and no temporary behind after the next save.

Loading reads the file in the order that lets nothing bad in and nothing change early:

    1. the zip's directory: member names and their sizes (nothing decompressed yet)
    2. each needed member's .npy header: dtype and shape, checked against the model's weight
    3. each needed member's data, exactly as many bytes as its header promises; every value
       must be finite once converted to the weight's dtype
    4. only then, every weight is assigned

so a small file cannot expand into gigabytes (unknown members are never decompressed), a file
that fails any check leaves the model as it was, and nothing is ever unpickled.
"""

import math
import os
import zipfile
from typing import IO, Any, Union

import numpy as np

from tinyvid.layers.base import to_snake_case
from tinyvid.training.files import atomic_write

PathLike = Union[str, "os.PathLike[str]"]

FLOAT_DTYPES = ("float16", "float32", "float64")
"""The dtypes a stored weight may have: floating point, converted to the weight's own dtype."""


def weight_keys(model: Any) -> list[tuple[Any, str]]:
    """[(layer, key)] for the layers of `model`, the key as described in the module docstring."""
    counts: dict[str, int] = {}
    keys = []
    for layer in model.layers:
        base = to_snake_case(type(layer).__name__)
        n = counts.get(base, 0)
        counts[base] = n + 1
        keys.append((layer, base if n == 0 else f"{base}_{n}"))
    return keys


def save_weights(model: Any, filepath: PathLike) -> None:
    """Write every weight of `model` to `filepath` (.npz), replacing the file atomically."""
    arrays = {f"{key}/{i}": w.data
              for layer, key in weight_keys(model) for i, w in enumerate(layer.weights)}

    def write(file: IO[bytes]) -> None:
        np.savez(file, **arrays)  # to an open file: savez adds no ".npz" to the name

    atomic_write(filepath, write, what="save_weights")


def load_weights(model: Any, filepath: PathLike) -> None:
    """Read weights written by `save_weights` into `model`, in place; all of them or none.

    Raises:
        FileNotFoundError: when the file does not exist.
        ValueError: when the file is not a weights file, when its keys, shapes or dtypes do
            not match the model's weights, or when a value is not finite; the message names
            the file (and the layer and weight). Nothing is changed then.
    """
    filepath = os.fspath(filepath)
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"load_weights: no such file: '{filepath}'")
    try:
        with zipfile.ZipFile(filepath) as archive:
            updates = _read_checked(model, filepath, archive)
    except zipfile.BadZipFile as error:
        raise _unreadable(filepath, _not_a_zip(filepath, error)) from error
    except OSError as error:
        raise _unreadable(filepath, str(error)) from error
    for weight, value in updates:  # 4. every check passed: assign
        np.copyto(weight.data, value)


# --- the steps of a load ---------------------------------------------------------------------


def _read_checked(model: Any, filepath: str,
                  archive: zipfile.ZipFile) -> list[tuple[Any, np.ndarray]]:
    """[(weight, new value)] for every weight of `model`, after steps 1-3 of the docstring."""
    members = _members(filepath, archive)  # 1. names
    planned = []  # (weight, what to call it, member, dtype, shape, header end)
    expected = set()
    for layer, key in weight_keys(model):
        called = f"layer '{layer.name}'" + (f" (saved as '{key}')" if key != layer.name else "")
        for i, (weight, name) in enumerate(zip(layer.weights, layer._weight_names)):
            entry = f"{key}/{i}"
            expected.add(entry)
            called_weight = f"{called} weight {i} ('{name}')"
            if entry not in members:
                raise ValueError(f"load_weights('{filepath}'): the file has no weight {i} ('{name}') "
                                 f"for {called}; the file holds: "
                                 f"{', '.join(sorted(members)) or 'nothing'}")
            info = members[entry]
            dtype, shape, fortran, header_end = _header(filepath, archive, info)  # 2. headers
            if shape != weight.shape:
                raise ValueError(f"load_weights('{filepath}'): {called_weight} has shape "
                                 f"{weight.shape} in the model but {shape} in the file")
            if dtype.kind != "f" or dtype.itemsize > 8:
                raise ValueError(f"load_weights('{filepath}'): {called_weight} has dtype {dtype} "
                                 f"in the file; a weight must be floating point "
                                 f"({', '.join(FLOAT_DTYPES)})")
            planned.append((weight, called_weight, info, dtype, shape, fortran, header_end))
    extra = sorted(set(members) - expected)
    if extra:
        raise ValueError(f"load_weights('{filepath}'): the file holds weights the model does not have: "
                         f"{', '.join(extra)} (the model's layers: "
                         f"{', '.join(layer.name for layer in model.layers)})")
    updates = []
    for weight, called_weight, info, dtype, shape, fortran, header_end in planned:  # 3. data
        value = _data(filepath, archive, info, dtype, shape, fortran, header_end)
        with np.errstate(over="ignore"):  # 1e300 -> inf in float32: reported just below
            converted = value.astype(weight.dtype)
        _check_finite_weight(filepath, called_weight, value, converted)
        updates.append((weight, converted))
    return updates


def _members(filepath: str, archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """{key: member} from the zip's directory; every member must be an .npy, each name once."""
    members: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        if info.is_dir():
            continue
        if not info.filename.endswith(".npy"):
            raise _unreadable(filepath, f"its member '{info.filename}' is not a NumPy array "
                                        f"(.npy); a weights file holds only .npy members")
        key = info.filename[:-len(".npy")]
        if key in members:
            raise _unreadable(filepath, f"it holds the member '{info.filename}' twice")
        members[key] = info
    return members


def _header(filepath: str, archive: zipfile.ZipFile,
            info: zipfile.ZipInfo) -> tuple[np.dtype, tuple[int, ...], bool, int]:
    """(dtype, shape, Fortran order?, header length in bytes) from a member's .npy header."""
    with archive.open(info) as member:
        try:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(member)
            elif version == (2, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(member)
            else:
                raise ValueError(f".npy format version {version[0]}.{version[1]}, which tinyvid "
                                 f"does not read (weights are written as 1.0)")
        except (ValueError, EOFError) as error:
            raise _unreadable(filepath, f"its member '{info.filename}' is not a valid .npy "
                                        f"array: {error}") from error
        header_end = member.tell()
    if dtype.hasobject:
        raise _unreadable(filepath, f"its member '{info.filename}' holds Python objects "
                                    f"(dtype {dtype}), which only unpickling could load, and "
                                    f"tinyvid never unpickles (allow_pickle=False)")
    return dtype, tuple(int(n) for n in shape), bool(fortran_order), header_end


def _data(filepath: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo, dtype: np.dtype,
          shape: tuple[int, ...], fortran: bool, header_end: int) -> np.ndarray:
    """A member's array, reading exactly the bytes its header promises (checked sizes)."""
    nbytes = math.prod(shape) * dtype.itemsize
    if info.file_size != header_end + nbytes:
        raise _unreadable(filepath, f"its member '{info.filename}' is {info.file_size} bytes "
                                    f"long, but its header ({dtype}, shape {shape}) needs "
                                    f"{header_end + nbytes}")
    with archive.open(info) as member:
        member.seek(header_end)
        data = member.read(nbytes)
        if len(data) != nbytes or member.read(1):  # reading to the end also checks the CRC
            raise _unreadable(filepath, f"its member '{info.filename}' does not hold the "
                                        f"{nbytes} bytes of data its header promises")
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")


def _check_finite_weight(filepath: str, called_weight: str, stored: np.ndarray,
                         converted: np.ndarray) -> None:
    """Refuse NaN and inf, stored as such or made by the conversion (1e300 in float32)."""
    finite = np.isfinite(converted)
    if finite.all():
        return
    index = tuple(int(i) for i in np.argwhere(~finite)[0])
    value = stored[index]
    made = "" if not np.isfinite(value) else f", which is {converted[index]} in {converted.dtype}"
    raise ValueError(f"load_weights('{filepath}'): {called_weight} holds {value} at index "
                     f"{index}{made}; weights must be finite numbers")


# --- what a file that is not a weights file is ----------------------------------------------


def _unreadable(filepath: str, reason: str) -> ValueError:
    return ValueError(f"load_weights: cannot read '{filepath}' as a tinyvid weights file (.npz): "
                      f"{reason}")


def _not_a_zip(filepath: str, error: Exception) -> str:
    """Why `filepath` is not a zip archive, told from its first bytes."""
    try:
        with open(filepath, "rb") as file:
            start = file.read(512)
    except OSError:
        return str(error)
    if start.startswith(b"\x93NUMPY"):
        return "it holds a single array (.npy), not a set of named weights (.npz)"
    if not start:
        return "the file is empty"
    if _looks_like_text(start):
        return "it is a text file, not a zip archive of arrays"
    return f"it is not a zip archive of arrays ({error})"


def _looks_like_text(start: bytes) -> bool:
    text = start.decode("utf-8", errors="replace")
    return "\ufffd" not in text[:-1] and "\x00" not in text  # the last may be a cut character
