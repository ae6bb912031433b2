"""Layers and models to and from the config dicts real Keras 3.15 writes and reads.

An entry is `{"module", "class_name", "config", "registered_name"}`, plus `"build_config"` for
built layers whose class has a `build()`, and `"compile_config"` for models. Classes are found
through `registry` only, and building happens under the load's `WeightBudget`.
"""

import numpy as np

from edgekeras.backend.symbolic import is_symbolic
from edgekeras.layers.input_layer import InputLayer
from edgekeras.layers.layer import Layer, map_structure
from edgekeras.models import Functional, Sequential
from edgekeras.models.model import Model
from edgekeras.saving import registry, safety
from edgekeras.saving.compile_config import compile_config

_DTYPE_POLICY = {"module": "keras", "class_name": "DTypePolicy", "registered_name": None}


# ---- serialization --------------------------------------------------------------------------------
def serialize_layer(layer):
    cls = type(layer)
    module, registered_name = registry.keras_entry(cls)
    config = layer.get_config()
    if not isinstance(config, dict):
        raise TypeError(f"{cls.__name__}.get_config() must return a dict, got {type(config).__name__}.")
    entry = {"module": module, "class_name": cls.__name__, "config": _keras_config(layer, config),
             "registered_name": registered_name}
    build_config = _build_config(layer)
    if build_config is not None:
        entry["build_config"] = build_config
    if isinstance(layer, Model):
        entry["compile_config"] = compile_config(layer)
    return entry


def serialize_model(model):
    """The whole-model entry written to config.json (and returned by `model.to_json()`)."""
    if not isinstance(model, Model):
        raise TypeError(f"serialize_model() takes a Model, got {type(model).__name__}.")
    return serialize_layer(model)


def _keras_config(layer, config):
    """JSON-ready config in Keras's shape: layers other than InputLayer carry a DTypePolicy dict."""
    config = _jsonable(config, f"{type(layer).__name__} '{layer.name}'")
    if isinstance(config.get("dtype"), str) and not isinstance(layer, InputLayer):
        config["dtype"] = {**_DTYPE_POLICY, "config": {"name": config["dtype"]}}
    if isinstance(layer, Sequential) and layer.built and layer.inputs:
        config.setdefault("build_input_shape", list(layer.input_shape))
    return config


def _jsonable(value, where):
    if isinstance(value, dict):
        return {str(k): _jsonable(v, where) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, where) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"{where}: get_config() holds {value!r} ({type(value).__name__}), which cannot be saved as "
                    "JSON. Return plain values or serialized dicts from get_config().")


def _build_config(layer):
    """What Keras records as the layer's build input: only classes that define `build()` have one."""
    if isinstance(layer, Functional):
        return {"input_shape": None}
    if isinstance(layer, Sequential):
        return {"input_shape": list(layer.input_shape)} if layer.built and layer.inputs else None
    if isinstance(layer, Model):
        shapes = getattr(layer, "_build_shapes", None)
        return {"input_shape": _shape_list(shapes)} if layer.built and shapes is not None else None
    if type(layer).build is Layer.build or not layer._inbound_nodes or not layer._inbound_nodes[0].args:
        return None
    first = layer._inbound_nodes[0].args[0]
    return {"input_shape": map_structure(lambda t: list(t.shape) if is_symbolic(t) else None, first)}


def _shape_list(shapes):
    if isinstance(shapes, dict):
        return {k: _shape_list(v) for k, v in shapes.items()}
    if isinstance(shapes, (list, tuple)) and shapes and isinstance(shapes[0], (list, tuple, dict)):
        return [_shape_list(s) for s in shapes]
    return list(shapes)


# ---- deserialization ------------------------------------------------------------------------------
def deserialize(entry, custom_objects=None, safe_mode=True):
    """A layer or model from its Keras entry; refuses code and bounds what building allocates."""
    custom_objects = dict(custom_objects or {})
    safety.refuse_code(entry, safe_mode, custom_objects)
    with safety.weight_budget() as budget:
        return _deserialize(entry, custom_objects, budget)


def _deserialize(entry, custom_objects, budget):
    from edgekeras.saving.functional_config import functional_from_config  # it imports this module

    if not isinstance(entry, dict):
        raise ValueError(f"Expected a serialized layer (a dict with class_name and config), got {safety.short(entry)}.")
    cls = registry.resolve(entry, custom_objects)
    config = {} if entry.get("config") is None else entry["config"]
    if not isinstance(config, dict):
        raise ValueError(f"The config of a saved '{entry['class_name']}' must be a dict, got {type(config).__name__}.")
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise ValueError(f"'{entry['class_name']}' resolves to {cls!r}, which is not a Layer.")

    def child(sub_entry):
        return _deserialize(sub_entry, custom_objects, budget)

    if issubclass(cls, Functional):
        return functional_from_config(cls, config, child)
    what = f"Cannot rebuild {cls.__name__} '{config.get('name')}' from its saved config"
    if issubclass(cls, Sequential):
        with safety.as_value_error(what):
            return _sequential_from_config(cls, config, child)
    with safety.as_value_error(what, prefix_value_errors=True):
        obj = cls.from_config(dict(config))
        budget.watch(obj)
        build_config = entry.get("build_config")
        shape = build_config.get("input_shape") if isinstance(build_config, dict) else None
        if isinstance(obj, Model) and not obj.built and shape is not None:
            obj.build(_shape_tuple(shape))
    return obj


def _sequential_from_config(cls, config, deserialize_layer):
    entries = config.get("layers", [])
    if not isinstance(entries, list):
        raise ValueError(f"A Sequential config's 'layers' must be a list, got {type(entries).__name__}.")
    model = cls(layers=[deserialize_layer(entry) for entry in entries], name=config.get("name"),
                trainable=config.get("trainable", True))
    shape = config.get("build_input_shape")
    if not model.built and shape is not None:
        model.build(_shape_tuple(shape))
    return model


def _shape_tuple(shape):
    if isinstance(shape, dict):
        return {k: _shape_tuple(v) for k, v in shape.items()}
    if isinstance(shape, list) and shape and isinstance(shape[0], (list, dict)):
        return [_shape_tuple(s) for s in shape]
    if not isinstance(shape, (list, tuple)) or not all(d is None or isinstance(d, int) for d in shape):
        raise ValueError(f"Invalid input shape in a saved build config: {safety.short(shape)}.")
    return tuple(shape)
