"""Model classes and whole-model loading."""

from edgekeras.models.functional import Functional
from edgekeras.models.model import Model
from edgekeras.models.sequential import Sequential


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    from edgekeras.saving import load_model as _load

    return _load(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)
