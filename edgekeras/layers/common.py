"""Helpers shared by the layer files: Keras's argument normalization and Keras-identical configs.

Configs must equal Keras 3's `get_config()` so real Keras reads ours and we read theirs; the dtype
is written in Keras's DTypePolicy dict form for that reason.
"""

from edgekeras import initializers, regularizers
from edgekeras.serialization import serialize


def standardize_tuple(value, n, name, allow_zero=False):
    """An int or n ints -> a tuple of n ints (Keras's argument_validation.standardize_tuple)."""
    try:
        values = (int(value),) * n if isinstance(value, int) else tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"The `{name}` argument must be a tuple of {n} integers. Received {name}={value}") from None
    if len(values) != n or any(v < 0 or (v == 0 and not allow_zero) for v in values):
        raise ValueError(
            f"The `{name}` argument must be a tuple of {n} integers {'>= 0' if allow_zero else '> 0'}. "
            f"Received {name}={value}"
        )
    return values


def positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}.")
    return value


def channels_last_only(value):
    """edgekeras is channels-last only (what every edge kernel expects); say so instead of misreading."""
    if value not in (None, "channels_last"):
        raise ValueError(f"data_format={value!r} is not supported: edgekeras layers are channels_last only.")
    return "channels_last"


def check_ndim(layer, shape, ndim):
    if len(shape) != ndim:
        raise ValueError(
            f"Layer '{layer.name}' ({type(layer).__name__}) expects a {ndim}-D input, got shape {tuple(shape)}."
        )


def check_axis(layer, shape, axis):
    if not -len(shape) <= axis < len(shape):
        raise ValueError(f"Layer '{layer.name}': axis {axis} is out of range for input shape {tuple(shape)}.")
    return axis % len(shape)


def to_config(obj, module):
    """Keras's serialize for initializers/regularizers/constraints: None stays None, dicts pass through."""
    if obj is None or isinstance(obj, dict):
        return obj
    return serialize(obj, module)


def base_config(layer):
    """Keras 3's Layer.get_config(): name, trainable, dtype policy, and the activity regularizer if set."""
    from edgekeras.layers.layer import Layer

    return Layer.get_config(layer)


def weight_config(layer, prefixes):
    """`{prefix}_initializer/_regularizer/_constraint` entries for each weight prefix, as Keras names them."""
    config = {}
    for prefix in prefixes:
        config[f"{prefix}_initializer"] = initializers.serialize_initializer(getattr(layer, f"{prefix}_initializer"))
        config[f"{prefix}_regularizer"] = to_config(getattr(layer, f"{prefix}_regularizer"), "keras.regularizers")
        config[f"{prefix}_constraint"] = to_config(getattr(layer, f"{prefix}_constraint"), "keras.constraints")
    return config


_INIT_ALIASES = {"uniform": "random_uniform", "normal": "random_normal", "one": "ones", "zero": "zeros"}


def get_initializer(identifier):
    """initializers.get, plus Keras's short aliases it does not know yet ("uniform" is Embedding's default)."""
    return initializers.get(_INIT_ALIASES.get(identifier, identifier) if isinstance(identifier, str) else identifier)


def set_weight_args(layer, prefix, initializer, regularizer, constraint):
    """Store one weight's initializer/regularizer/constraint under Keras's attribute names.

    A constraint is a callable the optimizer applies after each update. Keras's named constraint
    classes (MaxNorm, NonNeg, ...) have no edgekeras version yet: refuse them rather than train
    without them.
    """
    if constraint is not None and not callable(constraint):
        name = constraint.get("class_name") if isinstance(constraint, dict) else constraint
        raise ValueError(f"{type(layer).__name__} '{layer.name}': weight constraint {name!r} is not supported yet; "
                         "pass a callable (e.g. lambda w: jnp.clip(w, -1, 1)) or remove it.")
    setattr(layer, f"{prefix}_initializer", get_initializer(initializer))
    setattr(layer, f"{prefix}_regularizer", regularizers.get(regularizer))
    setattr(layer, f"{prefix}_constraint", constraint)


def add_prefixed_weight(layer, prefix, shape, name):
    return layer.add_weight(shape, getattr(layer, f"{prefix}_initializer"),
                            regularizer=getattr(layer, f"{prefix}_regularizer"),
                            constraint=getattr(layer, f"{prefix}_constraint"), name=name)
