"""A model's `compile_config`: what `compile()` received, written the way Keras 3 writes it, and
`compile()` called again from it on load (custom losses and metrics come from `custom_objects`)."""

import inspect

from edgekeras import losses, metrics, optimizers
from edgekeras.saving import registry, safety

_COMPILE_KEYS = ("optimizer", "loss", "loss_weights", "metrics", "weighted_metrics", "run_eagerly",
                 "steps_per_execution", "jit_compile")


def compile_config(model):
    """`{}` for an uncompiled model, as Keras writes."""
    args = model.get_compile_config()
    if not args:
        return {}
    run_eagerly = bool(getattr(model, "run_eagerly", False))
    jit_compile = args.get("jit_compile", "auto")
    return {
        "optimizer": optimizers.serialize(model.optimizer),
        "loss": _serialize(args.get("loss")),
        "loss_weights": _serialize(args.get("loss_weights")),
        "metrics": _serialize(args.get("metrics")),
        "weighted_metrics": _serialize(args.get("weighted_metrics")),
        "run_eagerly": run_eagerly,
        "steps_per_execution": args.get("steps_per_execution", 1),
        "jit_compile": not run_eagerly if jit_compile == "auto" else bool(jit_compile),
    }


def _serialize(value):
    """Losses and metrics as Keras writes them: names stay strings, objects become entries."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return [_serialize(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _serialize(v) for k, v in value.items()}
    if isinstance(value, losses.Loss):
        return losses.serialize(value)
    if isinstance(value, metrics.Metric):
        return metrics.serialize(value)
    if inspect.isfunction(value):
        return {"module": "builtins", "class_name": "function", "config": registry.get_registered_name(value),
                "registered_name": "function"}
    raise TypeError(f"Cannot save compile() argument {value!r}: pass losses and metrics by name, as Loss/Metric "
                    "objects or as functions.")


def compile_from_config(model, config, custom_objects):
    """Call `model.compile()` with a saved compile config."""
    if not isinstance(config, dict):
        raise ValueError(f"compile_config must be a dict, got {safety.short(config)}.")
    unknown = sorted(set(config) - set(_COMPILE_KEYS))
    if unknown:
        raise ValueError(f"compile_config has unknown keys {unknown}.")
    kwargs = {key: _custom(config[key], custom_objects) for key in _COMPILE_KEYS if key in config}
    with safety.as_value_error("Cannot compile the model from its saved compile_config"):
        model.compile(**kwargs)


def _custom(value, custom_objects):
    """Swap names and entries of custom losses/metrics for the objects `custom_objects` (or the
    registry) gives; everything else is left for `compile()` to resolve among the builtins."""
    if isinstance(value, list):
        return [_custom(v, custom_objects) for v in value]
    if isinstance(value, str):
        return custom_objects.get(value, registry.registered_object(value) or value)
    if not isinstance(value, dict):
        return value
    if "class_name" not in value:  # per-output dict
        return {k: _custom(v, custom_objects) for k, v in value.items()}
    names = [value.get("registered_name"), value.get("class_name")]
    if value.get("class_name") == "function":
        names = [value.get("config")]
    for name in names:
        if not isinstance(name, str):
            continue
        found = custom_objects.get(name) or registry.registered_object(name)
        if found is not None:
            if inspect.isclass(found):
                with safety.as_value_error(f"Cannot create custom object '{name}' from its saved config"):
                    return found.from_config(value.get("config") or {})
            return found
    return value
