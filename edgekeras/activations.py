"""Activation functions by Keras name, each built from edgekeras ops so it traces and compiles."""

from edgekeras import ops


def linear(x):
    return x


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    return ops.relu(x, negative_slope=negative_slope, max_value=max_value, threshold=threshold)


def relu6(x):
    return ops.relu(x, max_value=6.0)


def leaky_relu(x, negative_slope=0.2):
    return ops.relu(x, negative_slope=negative_slope)


def elu(x, alpha=1.0):
    return ops.elu(x, alpha=alpha)


def sigmoid(x):
    return ops.sigmoid(x)


def hard_sigmoid(x):
    return ops.hard_sigmoid(x)


def tanh(x):
    return ops.tanh(x)


def softmax(x, axis=-1):
    return ops.softmax(x, axis=axis)


def swish(x):
    return ops.swish(x)


def hard_swish(x):
    return ops.hard_swish(x)


def gelu(x, approximate=False):
    return ops.gelu(x, approximate=approximate)


silu = swish
hard_silu = hard_swish

_BY_NAME = {
    "linear": linear, "relu": relu, "relu6": relu6, "leaky_relu": leaky_relu, "elu": elu, "sigmoid": sigmoid,
    "hard_sigmoid": hard_sigmoid, "tanh": tanh, "softmax": softmax, "swish": swish, "silu": silu,
    "hard_swish": hard_swish, "hard_silu": hard_silu, "gelu": gelu,
}


def get(identifier):
    """A callable for a Keras activation name, None (linear) or a callable."""
    if identifier is None:
        return linear
    if isinstance(identifier, dict):  # Keras may serialize activations as objects
        identifier = identifier.get("config", identifier.get("class_name"))
    if isinstance(identifier, str):
        try:
            return _BY_NAME[identifier]
        except KeyError:
            raise ValueError(
                f"Unknown activation '{identifier}'. Known activations: {', '.join(sorted(_BY_NAME))}."
            ) from None
    if callable(identifier):
        return identifier
    raise ValueError(f"Cannot interpret {identifier!r} as an activation.")


def serialize(fn):
    """The Keras config name of an activation function."""
    for name, known in _BY_NAME.items():
        if known is fn and name not in ("silu", "hard_silu"):
            return name
    name = getattr(fn, "__name__", None)
    if name in _BY_NAME:
        return name
    raise ValueError(f"Cannot serialize activation {fn!r}: only Keras's named activations can be saved.")
