"""Saving and loading in Keras 3's formats (`.keras`, `.weights.h5`) and importing legacy Keras-2
`.h5` files, treating every file as untrusted input (see `safety`)."""

from edgekeras.saving.api import load_model, load_weights, save_model, save_weights
from edgekeras.saving.registry import get_registered_name, register_keras_serializable

__all__ = ["save_model", "load_model", "save_weights", "load_weights", "register_keras_serializable",
           "get_registered_name"]
