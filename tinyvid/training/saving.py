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

Writing goes to a temporary file in the same folder, which then replaces the target in one
`os.replace`: a crash while saving leaves the previous file whole. Loading never unpickles
(`allow_pickle=False`), checks every layer and shape before changing any weight, and names the
file and the layer in every error.
"""

import os
import tempfile
import zipfile

import numpy as np

from tinyvid.layers.base import to_snake_case


def weight_keys(model):
    """[(layer, key)] for the layers of `model`, the key as described in the module docstring."""
    counts, keys = {}, []
    for layer in model.layers:
        base = to_snake_case(type(layer).__name__)
        n = counts.get(base, 0)
        counts[base] = n + 1
        keys.append((layer, base if n == 0 else f"{base}_{n}"))
    return keys


def save_weights(model, filepath):
    """Write every weight of `model` to `filepath` (.npz), replacing the file atomically."""
    filepath = os.fspath(filepath)
    arrays = {f"{key}/{i}": w.data
              for layer, key in weight_keys(model) for i, w in enumerate(layer.weights)}
    folder = os.path.dirname(os.path.abspath(filepath))
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(filepath)}.",
                                             suffix=".tmp", dir=folder)
    except OSError as error:
        raise OSError(f"save_weights: cannot write '{filepath}': {error}") from error
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(file, **arrays)  # to an open file: savez adds no ".npz" to the name
            file.flush()
            os.fsync(file.fileno())  # on disk before the rename: no rename exposes a partial file
        os.replace(temporary, filepath)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def load_weights(model, filepath):
    """Read weights written by `save_weights` into `model`, in place.

    Raises:
        FileNotFoundError: when the file does not exist.
        ValueError: when the file is not a weights file, or its layers or shapes do not match the
            model's; nothing is changed then.
    """
    filepath = os.fspath(filepath)
    stored = _read(filepath)
    updates = []
    expected = set()
    for layer, key in weight_keys(model):
        called = f"layer '{layer.name}'" + (f" (saved as '{key}')" if key != layer.name else "")
        for i, (weight, name) in enumerate(zip(layer.weights, layer._weight_names)):
            entry = f"{key}/{i}"
            expected.add(entry)
            if entry not in stored:
                raise ValueError(f"load_weights('{filepath}'): the file has no weight {i} ('{name}') "
                                 f"for {called}; the file holds: "
                                 f"{', '.join(sorted(stored)) or 'nothing'}")
            if stored[entry].shape != weight.shape:
                raise ValueError(f"load_weights('{filepath}'): {called} weight {i} ('{name}') has "
                                 f"shape {weight.shape} in the model but {stored[entry].shape} "
                                 f"in the file")
            updates.append((weight, stored[entry]))
    extra = sorted(set(stored) - expected)
    if extra:
        raise ValueError(f"load_weights('{filepath}'): the file holds weights the model does not have: "
                         f"{', '.join(extra)} (the model's layers: "
                         f"{', '.join(layer.name for layer in model.layers)})")
    for weight, value in updates:
        np.copyto(weight.data, value, casting="unsafe")


def _read(filepath):
    """{key: array} from an .npz file, or an error naming the file."""
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"load_weights: no such file: '{filepath}'")
    try:
        data = np.load(filepath, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single array, not a set of named weights")
        with data:
            return {key: data[key] for key in data.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"load_weights: cannot read '{filepath}' as a tinyvid weights file (.npz): "
                         f"{error}") from error
