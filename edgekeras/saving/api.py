"""The public entry points: save and load whole models and weights.

The format is chosen by extension when writing (Keras's rules) and by content when reading (zip
for `.keras`, HDF5 for weights and legacy `.h5`), so a mislabelled file still loads or fails
with a clear ValueError. Files are built in memory and written in one go: a failed save leaves
the target untouched, and loading writes nothing.
"""

import io
import os

from edgekeras.models.model import Model
from edgekeras.saving import keras_zip, legacy_h5, safety, weights_h5
from edgekeras.saving.compile_config import compile_from_config
from edgekeras.saving.serialize import deserialize

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def save_model(model, filepath, overwrite=True):
    """Save as a Keras 3 `.keras` file (config, weights and optimizer state)."""
    name = _name(filepath)
    if name.endswith((".h5", ".hdf5")):
        raise ValueError(f"edgekeras writes models as .keras files; legacy .h5 is supported for loading only. "
                         f"Received: filepath={name}")
    if not name.endswith(".keras") and not hasattr(filepath, "write"):
        raise ValueError(f"Invalid filepath: expected a `.keras` extension. Received: filepath={name}")
    _write(filepath, keras_zip.to_bytes(model), overwrite)


def save_weights(model, filepath, overwrite=True):
    """Save the variables (and optimizer state) in Keras 3's `.weights.h5` layout."""
    name = _name(filepath)
    if not name.endswith(".weights.h5") and not hasattr(filepath, "write"):
        raise ValueError(f"The filename must end in `.weights.h5`. Received: filepath={name}")
    buffer = io.BytesIO()
    weights_h5.write(model, buffer)
    _write(filepath, buffer.getvalue(), overwrite)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Load a `.keras` file, or a legacy whole-model `.h5` file (Keras 2 layout)."""
    custom_objects = dict(custom_objects or {})
    source, kind = _source(filepath)
    if kind == "hdf5":
        with safety.open_h5(source, _name(filepath)) as h5:
            return legacy_h5.load_model(h5, custom_objects, compile, safe_mode)
    config, weights = keras_zip.read(source)
    model = deserialize(config, custom_objects, safe_mode)
    if not isinstance(model, Model):
        raise ValueError(f"The file's config describes a {type(model).__name__}, not a model.")
    if compile and config.get("compile_config"):
        compile_from_config(model, config["compile_config"], custom_objects)
    with safety.open_h5(io.BytesIO(weights), keras_zip.WEIGHTS_NAME) as h5:
        weights_h5.load(model, h5, include_optimizer=compile)
    return model


def load_weights(model, filepath, skip_mismatch=False):
    """Load weights from a `.weights.h5`, a `.keras` or a legacy `.h5` file into a built model."""
    if not model.built:
        raise ValueError(f"Model '{model.name}' is not built yet, so it has no variables to load into: call it on "
                         "data or call model.build(input_shape) first.")
    source, kind = _source(filepath)
    if kind == "zip":
        source = io.BytesIO(keras_zip.read(source)[1])
    with safety.open_h5(source, _name(filepath)) as h5:
        if legacy_h5.is_weights_group(h5):
            legacy_h5.load_weights(model, h5, skip_mismatch=skip_mismatch)
        else:
            weights_h5.load(model, h5, skip_mismatch=skip_mismatch)


def _name(filepath):
    return str(getattr(filepath, "name", filepath) if hasattr(filepath, "read") else os.fspath(filepath))


def _source(filepath):
    """(path or binary file, "zip" | "hdf5"), told apart by the first bytes."""
    if hasattr(filepath, "read"):
        head = filepath.read(8)
        filepath.seek(0)
        source = filepath
    else:
        source = os.fspath(filepath)
        if not os.path.isfile(source):
            raise ValueError(f"File not found (or not a file): filepath={source}")
        with open(source, "rb") as stream:
            head = stream.read(8)
    if head.startswith(_ZIP_MAGIC):
        return source, "zip"
    if head == _HDF5_MAGIC:
        return source, "hdf5"
    raise ValueError(f"{_name(filepath)} is neither a .keras file (zip) nor an HDF5 file (.h5): it starts with "
                     f"{head!r}.")


def _write(filepath, data, overwrite):
    if hasattr(filepath, "write"):
        filepath.write(data)
        return
    path = os.fspath(filepath)
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path} exists and overwrite=False.")
    with open(path, "wb") as stream:
        stream.write(data)
