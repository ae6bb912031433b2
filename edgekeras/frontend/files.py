"""Keras model files (`.keras`, legacy Keras-2 `.h5`) to IR: load with edgekeras.saving, then trace.

Loading is where untrusted bytes are parsed; whatever goes wrong there is reported as one
`ModelImportError` naming the file and the cause.
"""

import os

from edgekeras.frontend.errors import ModelImportError
from edgekeras.frontend.keras_model import from_keras_model


def load_keras_file(path, safe_mode=True, custom_objects=None):
    """The edgekeras model stored in a `.keras` or legacy `.h5` file (optimizer state not loaded)."""
    from edgekeras.saving import load_model

    path = os.fspath(path)
    try:
        return load_model(path, custom_objects=custom_objects, compile=False, safe_mode=safe_mode)
    except Exception as err:  # noqa: BLE001 - the file is untrusted input: any failure means "bad file"
        cause = str(err) if isinstance(err, ValueError) else f"{type(err).__name__}: {err}"
        raise ModelImportError(f"Cannot import {path}: {cause}") from err


def from_keras_file(path, safe_mode=True, custom_objects=None):
    return from_keras_model(load_keras_file(path, safe_mode, custom_objects))
