"""Keras 3's file formats: the whole model as `.keras`, the weights as `.weights.h5` (with h5py).

A `.keras` file is a zip archive, laid out as keras/src/saving/saving_lib.py writes it:

    metadata.json        {"keras_version": ..., "date_saved": ...}
    config.json          the model's config (training/serialization.py), with compile_config
    model.weights.h5     the weights, by layer path:

        vars                          (attrs: name = the model's name; no datasets)
        layers/conv2d/vars/0, 1       kernel, bias   (attrs: name = the layer's name)
        layers/dense/vars/0, 1        ...
        layers/dense_1/vars/0, 1      ...
        layers/gru/cell/vars/0, 1, 2  kernel, recurrent_kernel, bias  (a recurrent layer's cell)
        layers/time_distributed/layer/vars/0, 1   the wrapped layer's weights

A layer's path is its class in snake case, numbered within the model in `model.layers` order
(Keras's `_save_container_state`), not its name: a copy of a model built later in the session
(named dense_2, ...) still loads the file. A `.weights.h5` file is that same HDF5 file alone.

A compiled model's .keras file also holds its optimizer's state, as Keras lays it out:

    optimizer/vars/0, 1, 2, ...   iterations, learning_rate, then per trainable weight its slots
                                  (Adam: momentum, velocity; SGD: momentum), interleaved

so training resumes where it stopped, in tinyvid or in Keras. Optimizers whose slots this file
does not know (see OPTIMIZER_SLOTS) are saved without state: training then resumes from a fresh
optimizer, as Keras does when the state does not fit.

Writing goes to a temporary file in the target's folder, then `os.replace`: no partial file is
ever visible, and no temporary is left behind, even on error. Reading never unpickles (JSON and
HDF5 arrays only), checks every layer and shape before changing a weight, and names the file.
"""

import datetime
import io
import json
import os
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from typing import Any

import h5py
import numpy as np

from tinyvid.layers.base import to_snake_case
from tinyvid.training import saving as npz_saving
from tinyvid.training.serialization import deserialize_model, serialize_model

KERAS_VERSION = "3.15.1"  # the Keras 3 version whose layout this follows and is tested against
WEIGHTS_SUFFIX = ".weights.h5"


def optimizer_slots(optimizer: Any) -> tuple[str, ...] | None:
    """The names of an optimizer's per-weight arrays in Keras's order (Keras's names, which
    `optimizer.state(weight, *names)` returns); None if unknown. An optimizer may declare its own
    as a `keras_slots` property."""
    declared = getattr(optimizer, "keras_slots", None)
    if declared is not None:
        return tuple(declared)
    if not isinstance(optimizer.learning_rate, (int, float, np.floating)):
        return None  # a schedule: Keras keeps no learning_rate variable then
    name = type(optimizer).__name__
    if name in ("Adam", "AdamW"):
        return ("momentum", "velocity")
    if name == "SGD":
        return ("momentum",) if optimizer.momentum else ()
    if name == "GD":
        return ()
    return None


def weight_paths(model: Any) -> list[tuple[Any, str]]:
    """[(layer, "layers/dense_1")]: where each layer's weights are inside the HDF5 file (module
    docstring), at the object that holds them in Keras (`variables_owner`)."""
    counts: dict[str, int] = {}
    paths = []
    for layer in model._unique_layers():
        base = to_snake_case(type(layer).__name__)
        n = counts.get(base, -1) + 1
        counts[base] = n
        paths.append(variables_owner(layer, f"layers/{base}" if n == 0 else f"layers/{base}_{n}"))
    return paths


def variables_owner(layer: Any, path: str) -> tuple[Any, str]:
    """(the layer whose weights these are, their path), as Keras's saving_lib walks attributes:
    a wrapper's weights are its wrapped layer's, under `<path>/layer` (TimeDistributed), and a
    recurrent layer's are its cell's, under `<path>/cell` (GRU, LSTM: kernel, recurrent_kernel,
    bias)."""
    from tinyvid.layers import GRU, LSTM, TimeDistributed

    if isinstance(layer, TimeDistributed):
        return variables_owner(layer.layer, f"{path}/layer")
    if isinstance(layer, (GRU, LSTM)):
        return layer, f"{path}/cell"
    return layer, path


# --- writing ---------------------------------------------------------------------------------------


def _write_atomically(filepath: str, write: Callable[[Any], None], what: str) -> None:
    """Call `write(file)` on a temporary file beside `filepath`, then rename it over `filepath`."""
    folder = os.path.dirname(os.path.abspath(filepath))
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(filepath)}.",
                                             suffix=".tmp", dir=folder)
    except OSError as error:
        raise OSError(f"{what}: cannot write '{filepath}': {error}") from error
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())  # on disk before the rename: no rename exposes a partial file
        os.replace(temporary, filepath)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def _weights_h5_bytes(model: Any, with_optimizer: bool = False) -> bytes:
    """The HDF5 file of the model's weights (and its optimizer's state), in Keras's layout."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        h5.create_group("vars").attrs["name"] = model.name
        for layer, path in weight_paths(model):
            group = h5.create_group(path).create_group("vars")
            group.attrs["name"] = layer.name
            for i, weight in enumerate(layer.weights):
                group.create_dataset(str(i), data=weight.data)
        optimizer: Any = model.optimizer if with_optimizer and model.compiled else None
        slots = None if optimizer is None else optimizer_slots(optimizer)
        if slots is not None:
            group = h5.create_group("optimizer").create_group("vars")
            group.attrs["name"] = optimizer.name
            arrays = [np.asarray(optimizer.iterations, np.int32),
                      np.asarray(optimizer.learning_rate, np.float32)]
            for weight in model.trainable_weights:
                arrays += list(optimizer.state(weight, *slots)) if slots else []
            for i, array in enumerate(arrays):
                group.create_dataset(str(i), data=array)
    return buffer.getvalue()


def save_model(model: Any, filepath: Any) -> None:
    """Write `model` as a Keras 3 `.keras` file, atomically."""
    filepath = os.fspath(filepath)
    if not filepath.endswith(".keras"):
        raise ValueError(f"model.save: the filename must end in `.keras` (tinyvid writes Keras 3's "
                         f".keras format; for weights only use save_weights with `.weights.h5` or "
                         f"`.npz`). Received: filepath={filepath}")
    model._check_built("save")
    config = json.dumps(serialize_model(model))
    metadata = json.dumps({"keras_version": KERAS_VERSION,
                           "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")})
    weights = _weights_h5_bytes(model, with_optimizer=True)

    def write(file: Any) -> None:
        with zipfile.ZipFile(file, "w") as archive:
            archive.writestr("metadata.json", metadata)
            archive.writestr("config.json", config)
            archive.writestr("model.weights.h5", weights)

    _write_atomically(filepath, write, "model.save")


def save_weights_file(model: Any, filepath: Any) -> None:
    """`model.save_weights`: `.weights.h5` in Keras's layout, `.npz` in tinyvid's."""
    filepath = os.fspath(filepath)
    if filepath.endswith(".npz"):
        npz_saving.save_weights(model, filepath)
        return
    if not filepath.endswith(WEIGHTS_SUFFIX):
        raise ValueError(f"save_weights: the filename must end in `.weights.h5` (Keras's HDF5 "
                         f"weights file) or `.npz` (tinyvid's NumPy archive), which are the files "
                         f"it writes. Received: filepath={filepath}")
    weights = _weights_h5_bytes(model)
    _write_atomically(filepath, lambda file: file.write(weights), "save_weights")


# --- reading ---------------------------------------------------------------------------------------


def _read_archive(filepath: str, what: str) -> tuple[dict[str, Any], bytes]:
    """(config, weights HDF5 bytes) of a .keras file, or a ValueError naming the file."""
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"{what}: no such file: '{filepath}'")
    try:
        with zipfile.ZipFile(filepath) as archive:
            names = archive.namelist()
            for member in ("config.json", "model.weights.h5"):
                if member not in names:
                    raise ValueError(f"it has no {member} (it holds: {', '.join(names) or 'nothing'})")
            config = json.loads(archive.read("config.json"))
            weights = archive.read("model.weights.h5")
    except (zipfile.BadZipFile, json.JSONDecodeError, OSError, EOFError, ValueError) as error:
        raise ValueError(f"{what}: cannot read '{filepath}' as a Keras .keras file (a zip of "
                         f"config.json, metadata.json and model.weights.h5): {error}") from error
    return config, weights


def _updates(model: Any, h5: Any, filepath: str, what: str) -> list[tuple[Any, np.ndarray]]:
    """(weight, value) for every weight of `model` from the HDF5 file, all checked first."""
    updates = []
    expected = set()
    for layer, path in weight_paths(model):
        expected.add(path)
        if not layer.weights:
            continue
        group = h5.get(f"{path}/vars")
        stored = 0 if group is None else len(group)
        if stored != len(layer.weights):
            raise ValueError(f"{what}('{filepath}'): layer '{layer.name}' (at '{path}') has "
                             f"{len(layer.weights)} weights in the model but {stored} in the file")
        for i, (weight, name) in enumerate(zip(layer.weights, layer._weight_names)):
            dataset = group.get(str(i))
            if not isinstance(dataset, h5py.Dataset):
                raise ValueError(f"{what}('{filepath}'): the file has no weight {i} ('{name}') for "
                                 f"layer '{layer.name}' at '{path}'")
            if dataset.shape != weight.shape:
                raise ValueError(f"{what}('{filepath}'): layer '{layer.name}' weight {i} ('{name}') "
                                 f"has shape {weight.shape} in the model but {dataset.shape} in "
                                 f"the file")
            if dataset.dtype.kind not in "fiu":
                raise ValueError(f"{what}('{filepath}'): layer '{layer.name}' weight {i} ('{name}') "
                                 f"holds {dataset.dtype} values, not numbers")
            updates.append((weight, np.asarray(dataset[()])))
    expected = {"/".join(path.split("/")[:2]) for path in expected}  # the model's own layers
    extra = [f"layers/{key}" for key, group in (h5.get("layers") or {}).items()
             if f"layers/{key}" not in expected and _holds_arrays(group)]
    if extra:
        raise ValueError(f"{what}('{filepath}'): the file holds weights for layers the model does "
                         f"not have: {', '.join(sorted(extra))}")
    return updates


def _holds_arrays(group: Any) -> bool:
    """Whether an HDF5 group holds a dataset anywhere inside (a GRU's are in cell/vars)."""
    return bool(group.visititems(lambda _, item: True if isinstance(item, h5py.Dataset) else None))


def _assign(model: Any, weights: bytes | str, filepath: str, what: str,
            with_optimizer: bool = False) -> None:
    try:
        h5 = h5py.File(io.BytesIO(weights) if isinstance(weights, bytes) else weights, "r")
    except OSError as error:
        raise ValueError(f"{what}: cannot read '{filepath}' as an HDF5 weights file: "
                         f"{error}") from error
    with h5:
        updates = _updates(model, h5, filepath, what)
        optimizer_state = _optimizer_state(model, h5, filepath, what) if with_optimizer else None
    for weight, value in updates:  # every check passed: only now change the model
        np.copyto(weight.data, value, casting="unsafe")
    if optimizer_state is not None:
        iterations, slot_arrays = optimizer_state
        model.optimizer.iterations = iterations
        for target, value in slot_arrays:
            np.copyto(target, value, casting="unsafe")


def _optimizer_state(model: Any, h5: Any, filepath: str, what: str) -> Any:
    """(iterations, [(state array, stored value)]) if the file holds state that fits the model's
    optimizer; None (with a warning when state was there but does not fit) otherwise."""
    group = h5.get("optimizer/vars")
    if group is None or not model.compiled:
        return None
    slots = optimizer_slots(model.optimizer)
    weights = model.trainable_weights
    if len(group) == 2 and int(group["0"][()]) == 0:
        return None  # an optimizer never stepped (Keras builds its slots on the first step)
    if slots is None or len(group) != 2 + len(slots) * len(weights):
        warnings.warn(f"{what}('{filepath}'): skipping the optimizer's state: the file holds "
                      f"{len(group)} optimizer variables, which do not fit "
                      f"{type(model.optimizer).__name__} on {len(weights)} weights", stacklevel=4)
        return None
    pairs = []
    index = 2
    for weight in weights:
        for target in (model.optimizer.state(weight, *slots) if slots else ()):
            value = group[str(index)]
            if value.shape != target.shape:
                raise ValueError(f"{what}('{filepath}'): optimizer variable {index} has shape "
                                 f"{value.shape}, but the model's weight needs {target.shape}")
            pairs.append((target, np.asarray(value[()])))
            index += 1
    return int(group["0"][()]), pairs


def load_weights_file(model: Any, filepath: Any) -> None:
    """`model.load_weights` from `.weights.h5`, `.keras` or `.npz`; a failed load changes nothing."""
    filepath = os.fspath(filepath)
    if filepath.endswith(".npz"):
        npz_saving.load_weights(model, filepath)
    elif filepath.endswith(".keras"):
        _, weights = _read_archive(filepath, "load_weights")
        _assign(model, weights, filepath, "load_weights")
    elif filepath.endswith(WEIGHTS_SUFFIX):
        if not os.path.exists(filepath):
            raise FileNotFoundError(f"load_weights: no such file: '{filepath}'")
        _assign(model, filepath, filepath, "load_weights")
    else:
        raise ValueError(f"load_weights: the filename must end in `.weights.h5`, `.keras` or "
                         f"`.npz`. Received: filepath={filepath}")


def load_model(filepath: Any, compile: bool = True) -> Any:
    """A tinyvid model from a Keras 3 `.keras` file, written by tinyvid or by Keras.

    Args:
        filepath: the `.keras` file.
        compile: compile the model as it was saved (when tinyvid has its optimizer and losses).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a .keras archive, is truncated, or holds a layer tinyvid
            does not have (named), or weights that do not fit; the message names the file.
    """
    filepath = os.fspath(filepath)
    config, weights = _read_archive(filepath, "load_model")
    model = deserialize_model(config, f"load_model('{filepath}'): ", compile=compile)
    _assign(model, weights, filepath, "load_model", with_optimizer=True)
    return model
