"""Configs: layers, models, optimizers and losses as Keras 3's JSON dicts, and back.

Keras writes every object as

    {"module": "keras.layers", "class_name": "Dense", "config": {...layer.get_config()...},
     "registered_name": None, "build_config": {"input_shape": [None, 64]}}

and finds the class again by its family and class_name. tinyvid does the same with one registry
per family ("layers", "optimizers", "losses", "models"): `register_serializable(family, cls)` adds
a class (new optimizers, schedules and layers plug in there), `deserialize(family, config)` makes
an object from a config, and refuses, naming it, a class the registry does not hold.

Nothing here runs code from a file: a config only picks registered classes and passes them
plain values (numbers, strings, lists).
"""

import json
import warnings
from typing import Any

from tinyvid.layers.symbolic import KerasTensor, map_structure

_REGISTRY: dict[str, dict[str, type]] = {"layers": {}, "optimizers": {}, "losses": {}, "models": {}}
_MODULES = {"layers": "keras.layers", "optimizers": "keras.optimizers", "losses": "keras.losses",
            "models": "keras"}

# Keras optimizer arguments tinyvid's optimizers do not take yet, with their Keras defaults
_OPTIMIZER_KERAS_DEFAULTS: dict[str, Any] = {
    "weight_decay": None, "clipnorm": None, "global_clipnorm": None, "clipvalue": None,
    "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
    "loss_scale_factor": None, "gradient_accumulation_steps": None,
}
_ADAM_KERAS_DEFAULTS: dict[str, Any] = {"amsgrad": False}


def register_serializable(family: str, cls: type, name: str | None = None) -> type:
    """Make `cls` loadable from configs of `family` under `name` (default: its class name)."""
    _registry(family)[name or cls.__name__] = cls
    return cls


def _registry(family: str) -> dict[str, type]:
    if family not in _REGISTRY:
        raise ValueError(f"Unknown family {family!r}; known: {', '.join(_REGISTRY)}")
    if not _REGISTRY["layers"]:  # filled on first use: tinyvid.layers imports this package
        from tinyvid import layers
        from tinyvid.models import Model, Sequential
        from tinyvid.training import losses, optimizers

        for name in layers.__all__:
            value = getattr(layers, name)
            if isinstance(value, type) and issubclass(value, layers.Layer) and value is not layers.Layer:
                _REGISTRY["layers"].setdefault(name, value)
        for optimizer in set(optimizers.ALL.values()):
            _REGISTRY["optimizers"].setdefault(optimizer.__name__, optimizer)
        for loss in set(losses.ALL.values()):
            _REGISTRY["losses"].setdefault(loss.__name__, loss)
        _REGISTRY["models"].setdefault("Functional", Model)
        _REGISTRY["models"].setdefault("Model", Model)
        _REGISTRY["models"].setdefault("Sequential", Sequential)
    return _REGISTRY[family]


def known(family: str) -> list[str]:
    return sorted(_registry(family))


def lookup(family: str, class_name: str, where: str = "") -> Any:
    """The registered class, or a ValueError naming the class and what tinyvid has."""
    classes = _registry(family)
    if class_name not in classes:
        singular = family[:-1]
        raise ValueError(f"{where}{singular} class '{class_name}' is not one tinyvid has (tinyvid's "
                         f"{family}: {', '.join(sorted(classes))})")
    return classes[class_name]


# --- layers ----------------------------------------------------------------------------------------


def serialize_layer(layer: Any) -> dict[str, Any]:
    """A layer as Keras writes it inside a model's config (with build_config once built)."""
    config = {"module": _MODULES["layers"], "class_name": type(layer).__name__,
              "config": layer.get_config(), "registered_name": None}
    shape = getattr(layer, "_build_shape", None)
    if shape is not None and type(layer).__name__ != "InputLayer":
        config["build_config"] = {"input_shape": _listify(shape)}
    return config


def deserialize_layer(config: dict[str, Any], where: str = "") -> Any:
    """A new (unbuilt) layer from `serialize_layer`'s dict or Keras's, with its name."""
    class_name = config.get("class_name")
    cls = lookup("layers", str(class_name), where)
    layer_config = dict(config.get("config") or {})
    try:
        return cls.from_config(layer_config)
    except TypeError as error:  # a missing or unknown argument: the config is not this class's
        raise ValueError(f"{where}the config of {class_name} layer '{layer_config.get('name')}' "
                         f"does not fit tinyvid's {class_name}: {error}") from error


def tensor_reference(tensor: KerasTensor, node_index: int) -> dict[str, Any]:
    """A KerasTensor as an inbound node's argument: Keras's `__keras_tensor__` dict."""
    return {"class_name": "__keras_tensor__",
            "config": {"shape": _listify(tensor.shape), "dtype": tensor.dtype.name,
                       "keras_history": [tensor._keras_history.layer.name, node_index, 0]}}


def functional_from_config(cls: type, config: dict[str, Any]) -> Any:
    """A functional model from its config: make each layer, then replay the recorded calls in an
    order where every call's inputs already exist (Keras's functional_from_config)."""
    created: dict[str, Any] = {}
    pending: dict[str, list[Any]] = {}
    for layer_data in _without_mask_ops(config["layers"]):
        name = layer_data.get("name") or layer_data["config"]["name"]
        created[name] = deserialize_layer(layer_data)
        pending[name] = list(layer_data.get("inbound_nodes", []))

    def resolve(value: Any) -> Any:
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            layer_name, node_index, tensor_index = value["config"]["keras_history"]
            layer = created[layer_name]
            if node_index >= len(layer._inbound_nodes):
                raise IndexError(layer_name)  # not made yet: try again after other layers
            return layer._inbound_nodes[node_index].outputs[tensor_index]
        if isinstance(value, list):
            return [resolve(v) for v in value]
        return value

    while any(pending.values()):
        progressed = False
        for name, nodes in pending.items():
            while nodes:
                try:
                    arguments = [resolve(arg) for arg in nodes[0]["args"]]
                    mask = nodes[0].get("kwargs", {}).get("mask")  # layer(x, mask=m)
                    if _made_by_left_out_op(mask, created):
                        mask = None  # Keras's mask ops: tinyvid's Masking attaches that mask
                    mask = resolve(mask)
                except IndexError:
                    break
                created[name](arguments[0], mask=mask)
                nodes.pop(0)
                progressed = True
        if not progressed:
            stuck = sorted(name for name, nodes in pending.items() if nodes)
            raise ValueError(f"Invalid functional model config: the calls of layers {stuck} refer "
                             f"to tensors that no layer makes (a loop or a missing layer)")

    def tensor(where: Any) -> Any:
        if isinstance(where, list) and len(where) == 3 and isinstance(where[0], str):
            layer_name, node_index, tensor_index = where
            return created[layer_name]._inbound_nodes[node_index].outputs[tensor_index]
        if isinstance(where, dict):
            return {key: tensor(value) for key, value in where.items()}
        return [tensor(value) for value in where]

    return cls(inputs=tensor(config["input_layers"]), outputs=tensor(config["output_layers"]),
               name=config.get("name"), trainable=config.get("trainable", True))


def _made_by_left_out_op(value: Any, created: dict[str, Any]) -> bool:
    """True for a recorded tensor whose layer was left out (one of Keras's mask op nodes)."""
    return (isinstance(value, dict) and value.get("class_name") == "__keras_tensor__"
            and value["config"]["keras_history"][0] not in created)


# Keras records the mask a Masking layer makes, in a functional graph, as two op nodes, x !=
# mask_value then any() over the features, that feed only the `mask=` keyword of later calls.
# tinyvid's Masking attaches that same mask to its output, and the calls replayed here pass no
# keywords, so these nodes are left out.
_MASK_OPS = ("NotEqual", "Any")


def _without_mask_ops(layer_configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The layer configs without Keras's mask op nodes, if no layer's data (a positional
    argument) comes from them; else all of them (and the unknown op is named later)."""
    def name(layer: dict[str, Any]) -> str:
        return layer.get("name") or layer["config"]["name"]

    ops = {name(layer) for layer in layer_configs if layer.get("class_name") in _MASK_OPS}
    if not ops:
        return layer_configs

    def sources(value: Any) -> list[str]:
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            return [value["config"]["keras_history"][0]]
        if isinstance(value, list):
            return [source for item in value for source in sources(item)]
        return []

    for layer in layer_configs:
        if name(layer) not in ops and any(
                set(sources(node.get("args", []))) & ops for node in layer.get("inbound_nodes", [])):
            return layer_configs
    return [layer for layer in layer_configs if name(layer) not in ops]


# --- optimizers and losses -------------------------------------------------------------------------


def serialize_optimizer(optimizer: Any) -> dict[str, Any]:
    """Keras's optimizer config: `get_config()` if the optimizer has one, else its arguments."""
    if hasattr(optimizer, "get_config"):
        config = optimizer.get_config()
    else:
        config = {"name": optimizer.name, "learning_rate": optimizer.learning_rate,
                  **_OPTIMIZER_KERAS_DEFAULTS}
        for key in ("momentum", "nesterov", "beta_1", "beta_2", "epsilon"):
            if hasattr(optimizer, key):
                config[key] = getattr(optimizer, key)
        if type(optimizer).__name__ == "Adam":
            config.update(_ADAM_KERAS_DEFAULTS)
    return {"module": _MODULES["optimizers"], "class_name": type(optimizer).__name__,
            "config": config, "registered_name": None}


def deserialize_optimizer(config: Any) -> Any:
    """An optimizer from a name ('adam') or a config dict (tinyvid's or Keras's)."""
    from tinyvid.training import optimizers

    if isinstance(config, str):
        return optimizers.get(config)
    cls = lookup("optimizers", config.get("class_name", ""))
    arguments = dict(config.get("config") or {})
    if hasattr(cls, "from_config"):
        return cls.from_config(arguments)
    for key, default in {**_OPTIMIZER_KERAS_DEFAULTS, **_ADAM_KERAS_DEFAULTS}.items():
        if key in arguments and arguments.pop(key) != default:
            raise ValueError(f"Optimizer {cls.__name__}: tinyvid does not support `{key}` yet "
                             f"(only Keras's default, {default!r})")
    return cls(**arguments)


def serialize_loss(loss: Any) -> Any:
    """A loss as compile_config holds it: a name as given, or a Loss as its class and config."""
    if isinstance(loss, (str, type(None))):
        return loss
    if isinstance(loss, (list, tuple)):
        return [serialize_loss(item) for item in loss]
    if isinstance(loss, dict):
        return {key: serialize_loss(value) for key, value in loss.items()}
    if type(loss).__name__ in _registry("losses"):
        config = {"name": loss.name, "reduction": "sum_over_batch_size", **loss.kwargs}
        return {"module": _MODULES["losses"], "class_name": type(loss).__name__,
                "config": config, "registered_name": None}
    return getattr(loss, "__name__", getattr(loss, "name", repr(loss)))


def deserialize_loss(config: Any) -> Any:
    from tinyvid.training import losses

    if isinstance(config, list):
        return [deserialize_loss(item) for item in config]
    if isinstance(config, dict) and "class_name" not in config:
        return {key: deserialize_loss(value) for key, value in config.items()}
    if isinstance(config, dict):
        cls = lookup("losses", config["class_name"])
        arguments = dict(config.get("config") or {})
        if arguments.pop("reduction", "sum_over_batch_size") != "sum_over_batch_size":
            raise ValueError(f"Loss {cls.__name__}: tinyvid has only the 'sum_over_batch_size' "
                             f"reduction")
        arguments.pop("dtype", None)
        return cls(**arguments)
    return config if config is None else losses.get(config)


def _serialize_metrics(metric_ids: Any) -> Any:
    return map_structure(lambda m: m if isinstance(m, str) or m is None
                         else getattr(m, "__name__", repr(m)), metric_ids)


# --- models ----------------------------------------------------------------------------------------


def serialize_model(model: Any, include_compile: bool = True) -> dict[str, Any]:
    """The whole model as config.json holds it: class, config, build and compile configs."""
    sequential = type(model).__name__ == "Sequential"
    config: dict[str, Any] = {
        "module": "keras" if sequential else "keras.src.models.functional",
        "class_name": "Sequential" if sequential else "Functional",
        "config": model.get_config(),
        "registered_name": None if sequential else "Functional",
        "build_config": {"input_shape": _listify(getattr(model, "_input_shape", None))},
    }
    if include_compile:
        config["compile_config"] = compile_config(model)
    return config


def compile_config(model: Any) -> dict[str, Any]:
    if not model.compiled:
        return {}
    given = model._compile_config
    return {"optimizer": serialize_optimizer(model.optimizer), "loss": serialize_loss(given["loss"]),
            "loss_weights": given["loss_weights"], "metrics": _serialize_metrics(given["metrics"]),
            "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1,
            "jit_compile": False}


def deserialize_model(config: dict[str, Any], where: str = "", compile: bool = True) -> Any:
    """A model (fresh weights) from `serialize_model`'s dict or Keras's config.json; compiled
    from its compile_config when tinyvid knows the optimizer and losses (else with a warning)."""
    if not isinstance(config, dict) or "class_name" not in config or "config" not in config:
        raise ValueError(f"{where}expected a model config with 'class_name' and 'config'")
    cls = lookup("models", config["class_name"], where)
    try:
        model = cls.from_config(config["config"])
    except ValueError as error:
        raise ValueError(f"{where}{error}") from error
    compile_settings = config.get("compile_config") or {}
    if compile and compile_settings:
        try:
            model.compile(optimizer=deserialize_optimizer(compile_settings["optimizer"]),
                          loss=deserialize_loss(compile_settings["loss"]),
                          metrics=compile_settings.get("metrics"),
                          loss_weights=compile_settings.get("loss_weights"))
        except (ValueError, KeyError, TypeError) as error:
            warnings.warn(f"{where}the model is not compiled: its compile_config could not be "
                          f"used ({error}); call model.compile(...) before fit", stacklevel=3)
    return model


def model_from_json(json_string: str) -> Any:
    """A model (fresh weights) from `model.to_json()` or Keras's `model.to_json()`."""
    try:
        config = json.loads(json_string)
    except json.JSONDecodeError as error:
        raise ValueError(f"model_from_json: the string is not JSON: {error}") from error
    return deserialize_model(config, "model_from_json: ", compile=False)


def _listify(shape: Any) -> Any:
    """Tuples as lists, as JSON holds shapes."""
    if isinstance(shape, (list, tuple)):
        return [_listify(d) for d in shape]
    return shape
