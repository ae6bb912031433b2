"""The `.keras` file: a zip (stored, not compressed) of `metadata.json`, `config.json` and
`model.weights.h5`, as Keras 3 writes it. Entries are read into memory, never extracted."""

import datetime
import io
import json
import zipfile

from edgekeras.saving import safety, weights_h5
from edgekeras.saving.serialize import serialize_model

KERAS_VERSION = "3.15.1"  # the Keras release whose format these files follow
CONFIG_NAME = "config.json"
METADATA_NAME = "metadata.json"
WEIGHTS_NAME = "model.weights.h5"
_WEIGHTS_LIMIT = safety.MAX_WEIGHT_BYTES + 64 * safety.MIB  # the variables plus HDF5's own structures


def to_bytes(model):
    """The complete `.keras` file for the model, built in memory."""
    config = json.dumps(serialize_model(model))
    metadata = json.dumps({"keras_version": KERAS_VERSION,
                           "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")})
    weights = io.BytesIO()
    weights_h5.write(model, weights)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(METADATA_NAME, metadata)
        archive.writestr(CONFIG_NAME, config)
        archive.writestr(WEIGHTS_NAME, weights.getvalue())
    return buffer.getvalue()


def read(fileobj):
    """(config dict, weights file bytes) of a `.keras` file, after checking the archive."""
    with safety.open_zip(fileobj) as archive:
        safety.check_zip_names(archive)
        if WEIGHTS_NAME not in archive.namelist():
            raise ValueError(f"The .keras file has no '{WEIGHTS_NAME}' (edgekeras reads HDF5 weights only); its "
                             f"entries are {archive.namelist()[:10]}.")
        config = safety.parse_json(safety.read_zip_entry(archive, CONFIG_NAME, safety.MAX_JSON_BYTES), CONFIG_NAME)
        weights = safety.read_zip_entry(archive, WEIGHTS_NAME, _WEIGHTS_LIMIT)
    if not isinstance(config, dict):
        raise ValueError(f"{CONFIG_NAME} must hold a JSON object, got {type(config).__name__}.")
    return config, weights
