"""Front ends: an edgekeras model, a `.keras` / legacy `.h5` file or an `.onnx` file to edgekeras IR.

`import_model` is the compiler's `import` phase; `source_digest` identifies what was imported, so
artifacts can record (and caches can key on) exactly which model they were built from.
"""

import hashlib
import json
import os

from edgekeras.frontend.errors import ModelImportError
from edgekeras.frontend.files import from_keras_file
from edgekeras.frontend.keras_model import from_keras_model
from edgekeras.frontend.onnx_model import from_onnx

FORMATS = {".keras": "Keras 3 model", ".h5": "legacy Keras-2 model", ".hdf5": "legacy Keras-2 model",
           ".onnx": "ONNX model"}

__all__ = ["FORMATS", "ModelImportError", "from_keras_file", "from_keras_model", "from_onnx", "import_model",
           "source_digest"]


def import_model(source, safe_mode=True, custom_objects=None):
    """The IR graph of an edgekeras Model object or of a model file (chosen by its extension)."""
    from edgekeras.models.model import Model

    if isinstance(source, Model):
        return from_keras_model(source)
    path = _path(source)
    ext = os.path.splitext(path)[1].lower()
    if ext == ".onnx":
        return from_onnx(path)
    if ext in FORMATS:
        return from_keras_file(path, safe_mode=safe_mode, custom_objects=custom_objects)
    supported = ", ".join(f"{e} ({what})" for e, what in FORMATS.items())
    raise ModelImportError(f"Cannot import {path}: unknown model format '{ext or '(no extension)'}'; supported "
                           f"formats: {supported}.")


def source_digest(source):
    """SHA-256 hex of a model file's bytes, or of an in-memory model's config JSON and weights."""
    from edgekeras.models.model import Model

    digest = hashlib.sha256()
    if isinstance(source, Model):
        from edgekeras.saving.serialize import serialize_model

        digest.update(json.dumps(serialize_model(source), sort_keys=True).encode())
        for weight in source.weights:
            array = weight.numpy()
            digest.update(f"\n{weight.path} {array.dtype} {array.shape}\n".encode())
            digest.update(array.tobytes())
        return digest.hexdigest()
    path = _path(source)
    try:
        with open(path, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    except OSError as err:
        raise ModelImportError(f"Cannot read {path}: {err.strerror or err}") from err
    return digest.hexdigest()


def _path(source):
    try:
        return os.fspath(source)
    except TypeError:
        raise ModelImportError(f"Cannot import {type(source).__name__} {source!r}: pass an edgekeras Model or the "
                               f"path of a model file ({', '.join(FORMATS)}).") from None
