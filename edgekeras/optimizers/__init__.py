"""Optimizers with Keras 3 names, defaults, update math, variable order and configs."""

from edgekeras.optimizers import schedules
from edgekeras.optimizers.adagrad import Adagrad
from edgekeras.optimizers.adam import Adam
from edgekeras.optimizers.adamw import AdamW
from edgekeras.optimizers.base import Optimizer
from edgekeras.optimizers.rmsprop import RMSprop
from edgekeras.optimizers.sgd import SGD
from edgekeras.serialization import resolve
from edgekeras.serialization import serialize as _serialize

_CLASSES = {cls.__name__: cls for cls in (SGD, Adam, AdamW, RMSprop, Adagrad)}
_ALIASES = {name.lower(): name for name in _CLASSES}


def get(identifier):
    """An optimizer from a name ("adam", case-insensitive), a Keras config dict or an instance."""
    if isinstance(identifier, dict) and identifier.get("class_name") in _CLASSES:
        return _CLASSES[identifier["class_name"]].from_config(identifier.get("config") or {})
    return resolve(identifier, _CLASSES, _ALIASES, "optimizer")


def serialize(optimizer):
    return _serialize(optimizer, "keras.optimizers")


def deserialize(config):
    return get(config)


__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "schedules", "get", "serialize", "deserialize"]
