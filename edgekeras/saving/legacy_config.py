"""Keras-2 (tf.keras 2.x) model and training configs rewritten in the Keras 3 form the rest of `saving` reads.

What changed between the two: `batch_input_shape` on layers, Functional `inbound_nodes` as
`[[layer, node, tensor, kwargs], ...]` lists (where calls of a nested model count from 1: Keras 2
gave each model a node of its own), a top-level class "Model", single-element `axis` lists,
renamed or dropped layer arguments, and no "module" keys.
"""

import inspect

from edgekeras import optimizers
from edgekeras.saving import safety

_MODEL_CLASSES = ("Sequential", "Functional", "Model")
# Keras-2 layer arguments Keras 3 renamed or dropped: {class: {old: new or None}}.
_RENAMED = {"LeakyReLU": {"alpha": "negative_slope"}, "Embedding": {"input_length": None}}


def upgrade_model_config(config):
    """A Keras-2 `model_config` (already parsed JSON) in Keras 3 form; Keras 3 configs pass through."""
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise ValueError(f"model_config must be a dict with a class_name, got {safety.short(config)}.")
    return _upgrade_entry(config)


def _upgrade_entry(entry, nested_models=frozenset()):
    if not isinstance(entry, dict):
        raise ValueError(f"Expected a serialized layer, got {safety.short(entry)}.")
    entry = dict(entry)
    class_name = entry.get("class_name")
    config = entry.get("config")
    if class_name in _MODEL_CLASSES:
        if class_name == "Model":
            entry["class_name"] = "Functional"
        if isinstance(config, list):  # Keras <= 2.2 wrote a Sequential config as its layer list
            config = {"layers": config}
        if isinstance(config, dict) and isinstance(config.get("layers"), list):
            models = {layer.get("name") for layer in config["layers"]
                      if isinstance(layer, dict) and layer.get("class_name") in _MODEL_CLASSES
                      and isinstance(layer.get("name"), str)}
            config = {**config, "layers": [_upgrade_entry(layer, models) for layer in config["layers"]]}
    if isinstance(config, dict) and class_name not in _MODEL_CLASSES:
        config = _upgrade_layer_config(class_name, config)
    entry["config"] = config
    if isinstance(entry.get("inbound_nodes"), list):
        entry["inbound_nodes"] = [_upgrade_node(node, nested_models) for node in entry["inbound_nodes"]]
    return entry


def _upgrade_layer_config(class_name, config):
    config = dict(config)
    batch_input_shape = config.pop("batch_input_shape", None)
    if isinstance(batch_input_shape, list) and batch_input_shape:
        if class_name == "InputLayer":
            config.setdefault("batch_shape", batch_input_shape)
        else:
            config.setdefault("input_shape", batch_input_shape[1:])
            if batch_input_shape[0] is not None:
                config.setdefault("batch_size", batch_input_shape[0])
    axis = config.get("axis")
    if isinstance(axis, list) and len(axis) == 1:
        config["axis"] = axis[0]
    for old, new in _RENAMED.get(class_name, {}).items():
        if old in config:
            value = config.pop(old)
            if new is not None:
                config.setdefault(new, value)
    return config


def _upgrade_node(node, nested_models):
    """`[[name, node_index, tensor_index, kwargs], ...]` -> `{"args": [tensor or [tensors]], "kwargs"}`."""
    if isinstance(node, dict):
        return node
    if not isinstance(node, list) or not node:
        raise ValueError(f"Invalid inbound node {safety.short(node)}.")
    tensors, kwargs = [], {}
    for item in node:
        if not isinstance(item, list) or len(item) not in (3, 4):
            raise ValueError(f"Invalid inbound node entry {safety.short(item)}: expected "
                             "[layer, node, tensor, kwargs].")
        name, node_index, tensor_index = item[:3]
        if isinstance(name, str) and name in nested_models and isinstance(node_index, int) and node_index >= 1:
            node_index -= 1
        tensors.append({"class_name": "__keras_tensor__",
                        "config": {"shape": None, "dtype": None, "keras_history": [name, node_index, tensor_index]}})
        if len(item) == 4:
            if not isinstance(item[3], dict):
                raise ValueError(f"Invalid call arguments {safety.short(item[3])} in an inbound node.")
            kwargs = item[3]
    return {"args": [tensors[0] if len(tensors) == 1 else tensors], "kwargs": kwargs}


def upgrade_training_config(training_config):
    """A legacy `training_config` as a Keras 3 `compile_config`."""
    if not isinstance(training_config, dict) or not isinstance(training_config.get("optimizer_config"), dict):
        raise ValueError("training_config must be a dict with an optimizer_config, got "
                         f"{safety.short(training_config)}.")
    compile_config = {key: training_config[key] for key in ("loss_weights", "run_eagerly", "steps_per_execution",
                                                            "jit_compile") if key in training_config}
    compile_config["optimizer"] = _upgrade_optimizer(training_config["optimizer_config"])
    compile_config["loss"] = _upgrade_loss(training_config.get("loss"))
    for key in ("metrics", "weighted_metrics"):
        compile_config[key] = _upgrade_metrics(training_config.get(key))
    return compile_config


def _upgrade_optimizer(entry):
    """Keras-2 optimizer configs: `lr`, and arguments Keras 3 no longer takes (dropped)."""
    name = entry.get("class_name")
    name = name.split(">")[-1] if isinstance(name, str) else name  # tf 2.11+ sometimes wrote "Custom>Adam"
    config = dict(entry.get("config") or {})
    if "lr" in config:
        config.setdefault("learning_rate", config.pop("lr"))
    cls = getattr(optimizers, str(name), None)
    if isinstance(cls, type) and issubclass(cls, optimizers.Optimizer):
        accepted = set(inspect.signature(cls.__init__).parameters) | set(
            inspect.signature(optimizers.Optimizer.__init__).parameters)
        config = {k: v for k, v in config.items() if k in accepted}
    return {"module": "keras.optimizers", "class_name": name, "config": config, "registered_name": None}


def _upgrade_loss(loss):
    if isinstance(loss, list):
        return [_upgrade_loss(item) for item in loss]
    if isinstance(loss, dict) and "class_name" not in loss:
        return {k: _upgrade_loss(v) for k, v in loss.items()}
    if isinstance(loss, dict) and isinstance(loss.get("config"), dict) and loss["config"].get("reduction") == "auto":
        return {**loss, "config": {**loss["config"], "reduction": "sum_over_batch_size"}}
    return loss


def _upgrade_metrics(metrics):
    """MeanMetricWrapper entries become their names; one output's `[[...]]` becomes `[...]`."""
    if isinstance(metrics, list) and len(metrics) == 1 and isinstance(metrics[0], list):
        metrics = metrics[0]
    if isinstance(metrics, list):
        return [_upgrade_metrics(m) for m in metrics]
    if isinstance(metrics, dict) and "class_name" not in metrics:
        return {k: _upgrade_metrics(v) for k, v in metrics.items()}
    if isinstance(metrics, dict) and metrics.get("class_name") == "MeanMetricWrapper":
        return (metrics.get("config") or {}).get("name", metrics)
    return metrics
