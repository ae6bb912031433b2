"""Limits and checks for loading model files, which are untrusted input.

Loading a file must never run code from it, write anywhere, or allocate without bound, and every
bad file must fail the same way: a `ValueError` that names the problem. The checks that more than
one format needs live here.
"""

import contextlib
import json
import math
import threading
import zipfile

import h5py
import ml_dtypes
import numpy as np

MIB = 1 << 20
MAX_JSON_BYTES = 64 * MIB  # config.json, or the model_config attribute of a legacy .h5
MAX_JSON_DEPTH = 200  # deeper configs are hostile, and would exhaust recursion further on
MAX_WEIGHT_BYTES = 2 << 30  # total bytes of all variables a loaded model may allocate
MAX_ZIP_ENTRIES = 10_000
MAX_ZIP_RATIO = 100  # Keras stores entries uncompressed; deflate itself stays below ~1032:1


def human_bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            break
        n /= 1024
    return f"{n:.0f} B" if unit == "B" else f"{n:.1f} {unit}"


def short(value, limit=200):
    """A value from a file, cut to a length fit for an error message."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


@contextlib.contextmanager
def as_value_error(what, prefix_value_errors=False):
    """Turn any failure inside the block into `ValueError("<what>: ...")`, keeping the cause.

    Used only around work driven by file contents (parsing, constructing layers from configs,
    reading HDF5), where any exception means "this file is bad" to the caller. ValueErrors pass
    unchanged unless `prefix_value_errors` (for leaves, whose errors lack the context).
    """
    try:
        yield
    except ValueError as err:
        if not prefix_value_errors:
            raise
        raise ValueError(f"{what}: {err}") from err
    except RecursionError:
        raise ValueError(f"{what}: the file's structure is nested too deeply.") from None
    except Exception as err:  # noqa: BLE001 - the trust boundary: see the docstring
        raise ValueError(f"{what}: {type(err).__name__}: {err}") from err


# ---- zip archives ---------------------------------------------------------------------------------
def check_zip_names(archive):
    """Refuse archives whose entry names could point outside a folder if ever extracted."""
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_ENTRIES:
        raise ValueError(f"The archive has {len(infos)} entries; a model file has a handful (limit {MAX_ZIP_ENTRIES}).")
    for info in infos:
        name = info.filename
        parts = name.replace("\\", "/").split("/")
        if not name or "\x00" in name or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") \
                or ".." in parts:
            raise ValueError(f"Refusing archive entry {name!r}: absolute paths and '..' are not allowed in "
                             "model files.")


def read_zip_entry(archive, name, limit):
    """The bytes of one entry, read into memory after checking its declared sizes."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise ValueError(f"The archive has no '{name}' entry (entries: {archive.namelist()[:10]}).") from None
    if info.file_size > limit:
        raise ValueError(f"Archive entry '{name}' declares {human_bytes(info.file_size)}, more than the "
                         f"{human_bytes(limit)} this loader accepts.")
    if info.file_size > MIB and info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1):
        raise ValueError(f"Archive entry '{name}' declares {human_bytes(info.file_size)} but stores only "
                         f"{human_bytes(info.compress_size)}: refusing a likely decompression bomb.")
    with as_value_error(f"Cannot read archive entry '{name}'"):
        with archive.open(info) as stream:
            data = stream.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"Archive entry '{name}' is larger than the {human_bytes(limit)} this loader accepts.")
    return data


def open_zip(fileobj):
    """A zip archive opened for reading; anything that is not one is a ValueError."""
    with as_value_error("Not a valid .keras file (a zip archive was expected)"):
        return zipfile.ZipFile(fileobj, "r")


# ---- JSON -----------------------------------------------------------------------------------------
def parse_json(data, what, limit=MAX_JSON_BYTES):
    """Parse JSON text from a file, bounded in size and nesting depth."""
    if len(data) > limit:
        raise ValueError(f"{what} is {human_bytes(len(data))}, more than the {human_bytes(limit)} this loader accepts.")
    try:
        value = json.loads(data)
    except RecursionError:
        raise ValueError(f"{what} is nested too deeply.") from None
    except ValueError as err:  # includes JSONDecodeError and UnicodeDecodeError
        raise ValueError(f"{what} is not valid JSON: {err}") from None
    _check_depth(value, what)
    return value


def _check_depth(value, what):
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"{what} is nested more than {MAX_JSON_DEPTH} levels deep.")
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children)


def refuse_code(config, safe_mode, custom_objects):
    """Refuse configs that carry Python code (Lambda layers, serialized lambdas).

    edgekeras never turns bytecode from a file into a function, so these are refused whatever
    `safe_mode` says; the message tells which of the two reasons applies.
    """
    stack = [config]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            name = item.get("class_name")
            if name == "__lambda__" or (name == "Lambda" and "Lambda" not in custom_objects):
                if safe_mode:
                    raise ValueError(
                        "The file contains a Lambda layer or a Python lambda: it holds Python bytecode, and loading "
                        "it would run code from the file. This is refused in safe mode (safe_mode=True).")
                raise ValueError(
                    "The file contains a Lambda layer or a Python lambda (Python bytecode). edgekeras never runs "
                    "bytecode from a file, even with safe_mode=False: Lambda layers are unsupported. Rewrite the "
                    "Lambda as a Layer subclass and pass it in custom_objects or register it with "
                    "@edgekeras.saving.register_keras_serializable().")
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


# ---- allocation budget ----------------------------------------------------------------------------
_state = threading.local()


class WeightBudget:
    """Caps the bytes of variables the layers of one load may create, checked before allocating.

    A config can declare a Dense with units=10**12; building it would try to allocate terabytes.
    While a budget is active, every layer the loader creates gets an `add_weight` that reserves
    the variable's bytes first and refuses with a ValueError past the limit.
    """

    def __init__(self, limit=MAX_WEIGHT_BYTES):
        self.limit = limit
        self.used = 0
        self._watched = []

    def reserve(self, shape, dtype, where):
        try:
            dims = [int(d) for d in shape]
        except (TypeError, ValueError):
            raise ValueError(f"{where}: a weight shape must be a list of integers, got {shape!r}.") from None
        if any(d < 0 for d in dims):
            raise ValueError(f"{where}: negative dimension in weight shape {tuple(dims)}.")
        try:
            itemsize = np.dtype(dtype).itemsize
        except TypeError:
            itemsize = 4
        self.used += math.prod(dims) * itemsize
        if self.used > self.limit:
            raise ValueError(
                f"{where}: the model's weights would need more than {human_bytes(self.limit)} (this loader's limit); "
                f"a weight of shape {tuple(dims)} was requested. The config is corrupt or hostile (e.g. a huge "
                "`units` or `filters`): refusing before allocating.")

    def watch(self, layer):
        """Route `add_weight` of the layer and its current sublayers through `reserve`."""
        stack = [layer]
        while stack:
            item = stack.pop()
            if "add_weight" in vars(item):
                continue
            object.__setattr__(item, "add_weight", self._guarded(item))
            self._watched.append(item)
            stack.extend(getattr(item, "_layers", []))

    def _guarded(self, layer):
        original = layer.add_weight

        def add_weight(shape=(), initializer="glorot_uniform", dtype=None, *args, **kwargs):
            self.reserve(shape, dtype or layer.dtype, f"Layer '{layer.name}'")
            return original(shape, initializer, dtype, *args, **kwargs)

        return add_weight

    def release(self):
        for item in self._watched:
            vars(item).pop("add_weight", None)
        self._watched = []


@contextlib.contextmanager
def weight_budget():
    """The budget of the current load: the outermost call creates it, nested calls share it."""
    budget = getattr(_state, "budget", None)
    if budget is not None:
        yield budget
        return
    _state.budget = budget = WeightBudget()
    try:
        yield budget
    finally:
        _state.budget = None
        budget.release()


# ---- HDF5 -----------------------------------------------------------------------------------------
@contextlib.contextmanager
def open_h5(source, what):
    """Open an HDF5 file read-only, refuse soft and external links anywhere in it (they could point
    at other files), and turn any failure while it is read into a ValueError."""
    with as_value_error(f"{what} is not a valid HDF5 file"):
        h5 = h5py.File(source, "r")
    try:
        with as_value_error(f"Cannot read {what}"):
            links = []
            h5.visititems_links(lambda name, link: links.append(name) if not isinstance(link, h5py.HardLink) else None)
            if links:
                raise ValueError(f"{what} links to other locations ({links[:3]}): soft and external links are not "
                                 "allowed in model files.")
            yield h5
    finally:
        h5.close()


def h5_dataset_paths(group):
    """Paths (relative to `group`) of every dataset under it."""
    found = []
    group.visititems(lambda name, obj: found.append(name) if isinstance(obj, h5py.Dataset) else None)
    return found


def read_h5_dataset(group, name, shape, dtype, where):
    """A dataset's values, after checking it is a plain numeric array of the expected shape."""
    ds = group.get(name)
    if not isinstance(ds, h5py.Dataset):
        raise ValueError(f"{where}: the file has no dataset '{name}' in '{group.name}'.")
    if ds.is_virtual or ds.external:
        raise ValueError(f"{where}: dataset '{ds.name}' keeps its data in other files, which is not allowed.")
    if ds.shape is None or tuple(ds.shape) != tuple(shape):
        raise ValueError(f"{where}: the file stores shape {ds.shape}, the model's variable has shape {tuple(shape)}.")
    declared = ds.attrs.get("dtype")
    stored = _numeric_kind("bfloat16" if declared == "bfloat16" else ds.dtype.name)
    wanted = _numeric_kind(str(dtype))
    if stored is None or stored != wanted:
        raise ValueError(f"{where}: dataset '{ds.name}' has dtype {ds.dtype}, which cannot hold a {dtype} variable.")
    value = np.asarray(ds[()])
    if declared == "bfloat16":
        value = value.view(ml_dtypes.bfloat16)
    if wanted == "int" and value.size and (value.min() < np.iinfo(dtype).min or value.max() > np.iinfo(dtype).max):
        raise ValueError(f"{where}: dataset '{ds.name}' holds values outside the range of {dtype}.")
    return value


def _numeric_kind(name):
    if name == "bfloat16" or name.startswith("float"):
        return "float"
    if name.startswith(("int", "uint")):
        return "int"
    return "bool" if name == "bool" else None
