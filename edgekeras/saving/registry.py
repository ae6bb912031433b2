"""Which Python class a class name in a saved config means.

Names resolve only through `custom_objects`, classes registered with
`register_keras_serializable`, and the layers `edgekeras.layers` exports (looked up when a file
is loaded, so layers added later are found too). Nothing a file names is ever imported.
"""

import inspect

from edgekeras import layers
from edgekeras.layers.layer import Layer
from edgekeras.models import Functional, Sequential
from edgekeras.saving import safety

_BY_NAME = {}  # "package>Name" -> class or function
_NAME_OF = {}  # class or function -> "package>Name"

# Where real Keras 3 says its model classes live (what it writes as "module" / "registered_name").
_MODEL_ENTRIES = {Sequential: ("keras", None), Functional: ("keras.src.models.functional", "Functional")}


def register_keras_serializable(package="Custom", name=None):
    """Register a class (or function) so files can name it as "package>name", as in Keras."""

    def decorator(obj):
        if inspect.isclass(obj) and not hasattr(obj, "get_config"):
            raise ValueError(f"Cannot register {obj.__name__}: classes need a get_config() method to be saved.")
        key = f"{package}>{name or obj.__name__}"
        _BY_NAME[key] = obj
        _NAME_OF[obj] = key
        return obj

    return decorator


def get_registered_name(obj):
    """The name a class is saved under: its registered key, else its class name (as Keras)."""
    return _NAME_OF.get(obj, getattr(obj, "__name__", type(obj).__name__))


def registered_object(name):
    """The class or function registered under "package>name", or None."""
    return _BY_NAME.get(name)


def builtin_classes():
    """Keras class name -> edgekeras class, for every Layer subclass `edgekeras.layers` exports."""
    table = {name: obj for name, obj in vars(layers).items() if inspect.isclass(obj) and issubclass(obj, Layer)}
    table.update(Sequential=Sequential, Functional=Functional, Model=Functional)  # Keras 2 wrote "Model"
    return table


def keras_entry(cls):
    """("module", "registered_name") Keras writes for objects of this class."""
    if cls in (Sequential, Functional):
        return _MODEL_ENTRIES[cls]
    if cls not in _NAME_OF and builtin_classes().get(cls.__name__) is cls:
        return "keras.layers", None
    module = None if cls.__module__ == "__main__" else cls.__module__
    return module, get_registered_name(cls)


def resolve(entry, custom_objects):
    """The class a serialized `{"module", "class_name", "registered_name", ...}` entry names."""
    class_name = entry.get("class_name")
    registered = entry.get("registered_name")
    module = entry.get("module")
    if not isinstance(class_name, str):
        raise ValueError(f"A saved object has no valid class_name: {safety.short(entry)}.")
    for key in (registered, class_name):
        if isinstance(key, str) and key in custom_objects:
            return custom_objects[key]
    if isinstance(registered, str) and registered.startswith("edgekeras>"):
        import edgekeras.quantize.layers  # noqa: F401 - registers the QAT layers (loaded lazily: they need the op set)
    for key in (registered, class_name):
        if isinstance(key, str) and key in _BY_NAME:
            return _BY_NAME[key]
    builtins = builtin_classes()
    if class_name in builtins and (module is None or (isinstance(module, str) and module.startswith("keras"))):
        return builtins[class_name]
    known = ", ".join(sorted(builtins))
    raise ValueError(
        f"Unknown class '{class_name}' (module {module!r}, registered as {registered!r}). If it is a custom class, "
        "pass it in custom_objects={'" + class_name + "': " + class_name + "} or register it with "
        f"@edgekeras.saving.register_keras_serializable(). Classes edgekeras knows: {known}.")

