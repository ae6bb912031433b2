"""Keras-style object (de)serialization: {"module", "class_name", "config", "registered_name"} dicts.

Shared by initializers, regularizers, activations, layers, losses, metrics and optimizers so that
every config edgekeras writes has the shape real Keras 3 writes and reads.
"""


def serialize(obj, module):
    return {"module": module, "class_name": type(obj).__name__, "config": obj.get_config(), "registered_name": None}


def resolve(identifier, classes, aliases, kind):
    """Turn a string, a serialized dict, an instance or None into an object of `classes`.

    `classes` maps class names to classes; `aliases` maps Keras string names to class names.
    """
    if identifier is None:
        return None
    if isinstance(identifier, str):
        key = aliases.get(identifier, aliases.get(identifier.lower(), identifier))
        if key not in classes:
            known = sorted(set(aliases) | set(classes))
            raise ValueError(f"Unknown {kind} '{identifier}'. Known {kind}s: {', '.join(known)}.")
        return classes[key]()
    if isinstance(identifier, dict):
        name = identifier.get("class_name")
        if name not in classes:
            raise ValueError(f"Unknown {kind} class '{name}' in config {identifier}.")
        return classes[name](**(identifier.get("config") or {}))
    return identifier
