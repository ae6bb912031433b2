"""Sample files for `verify --data` and `compile --calib`: arrays in an .npz (or one .npy), matched to
the model's inputs by name, or a single `x` for one-input models."""

import zipfile

import numpy as np


def read_arrays(path, error, kind):
    """{name: array} from `path`; an unreadable file raises `error` ("Cannot read {kind} {path}: ...")."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.ndarray):
            return {"x": loaded}
        with loaded as npz:
            return {name: npz[name] for name in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise error(f"Cannot read {kind} {path}: {err}") from None


def match_inputs(where, arrays, names, error):
    """[(array name, array)] in input order: arrays named after the inputs, or one `x`."""
    if all(name in arrays for name in names):
        return [(name, arrays[name]) for name in names]
    if len(names) == 1 and "x" in arrays:
        return [("x", arrays["x"])]
    raise error(f"{where} holds {sorted(arrays)}; it needs arrays named after the model inputs {names}"
                + (" or a single 'x'." if len(names) == 1 else "."))
