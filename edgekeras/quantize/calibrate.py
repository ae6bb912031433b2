"""Post-training calibration: load representative inputs, run the float graph over them with the
NumPy references, and let one observer per activation propose its int8 range.

The ranges feed `quantize_graph`: a key per graph input and node output (the value's name), plus
`"{name}:pre"` for the output of a node before its fused epilogue (the accumulator's range, which
the requantization of e.g. conv + sigmoid needs). Calibration runs in batches and drops each
activation after its last reader, so memory is one batch's live tensors plus fixed-size observers.
"""

import os
from collections.abc import Mapping

import numpy as np

from edgekeras.harness.data_files import match_inputs, read_arrays
from edgekeras.ir.interpreter import run_node_stages
from edgekeras.quantize.observers import DEFAULT, make_observer


class CalibrationError(ValueError):
    """Calibration data that cannot calibrate the model: unreadable, mismatched, empty, NaN/Inf."""


# ---- loading ------------------------------------------------------------------------------------
def load_calibration(source, graph, samples=None):
    """One float array per graph input, shaped (N, *input shape without batch), from an .npz path
    (arrays named after the inputs, or a single `x`; `y` is ignored), a dict by input name, an array
    (one-input graphs) or a list of arrays in input order. `samples` keeps the first N."""
    if samples is not None and (isinstance(samples, bool) or not isinstance(samples, (int, np.integer))
                                or samples <= 0):
        raise CalibrationError(f"The number of calibration samples must be a positive integer, got {samples!r}.")
    where, labelled = _arrays_for_inputs(source, graph)
    arrays = [_checked(where, label, array, value) for (label, array), value in zip(labelled, graph.inputs)]
    counts = {len(a) for a in arrays}
    if len(counts) != 1:
        raise CalibrationError(f"{where}: the input arrays hold different numbers of samples {sorted(counts)}.")
    with np.errstate(over="ignore"):  # values too large for the input dtype are reported just below
        arrays = [a[:samples].astype(value.type.dtype) for a, value in zip(arrays, graph.inputs)]
    for (label, _), array in zip(labelled, arrays):
        _check_finite(where, label, array)
    return arrays


def _arrays_for_inputs(source, graph):
    """(where, [(label, array)] in graph input order): where/label name the data in error messages."""
    names = [v.name for v in graph.inputs]
    if isinstance(source, (str, os.PathLike)):
        where = f"Calibration file {source}"
        return where, _labelled(where, read_arrays(source, CalibrationError, "calibration file"), names)
    if isinstance(source, Mapping):
        return "Calibration data", _labelled("Calibration data", dict(source), names)
    if isinstance(source, np.ndarray):
        source = [source]
    if not isinstance(source, (list, tuple)):
        raise CalibrationError(f"Calibration data must be an .npz path, an array, a list of arrays or a dict by "
                               f"input name, got {type(source).__name__}.")
    if len(source) != len(names):
        raise CalibrationError(f"Calibration data has {len(source)} arrays but the model has {len(names)} "
                               f"inputs {names}.")
    return "Calibration data", [(f"array for input '{n}'", a) for n, a in zip(names, source)]


def _labelled(where, arrays, names):
    return [(f"array '{name}'", array) for name, array in match_inputs(where, arrays, names, CalibrationError)]


def _checked(where, label, array, value):
    """`array` as an ndarray after checking its dtype, per-sample shape and sample count."""
    try:
        array = np.asarray(array)
    except ValueError as err:
        raise CalibrationError(f"{where}: {label} is not a rectangular array: {err}") from None
    if array.dtype.kind not in "biuf":
        raise CalibrationError(f"{where}: {label} has dtype {array.dtype}; calibration needs numbers.")
    want = tuple(value.type.shape[1:])
    if array.ndim != len(want) + 1 or tuple(array.shape[1:]) != want:
        raise CalibrationError(f"{where}: {label} has shape {array.shape}; input '{value.name}' expects "
                               f"(samples, {', '.join(map(str, want))}), i.e. per-sample shape {want} but got "
                               f"{tuple(array.shape[1:])}.")
    if len(array) == 0:
        raise CalibrationError(f"{where}: {label} holds 0 samples; calibration needs at least one.")
    return array


def _check_finite(where, label, array):
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        nan, inf = int(np.isnan(array).sum()), int(np.isinf(array).sum())
        raise CalibrationError(f"{where}: {label} holds {nan} NaN and {inf} infinite values "
                               f"(of {array.size}, as {array.dtype}).")


# ---- collecting ranges --------------------------------------------------------------------------
def collect_ranges(graph, inputs, observer=DEFAULT, overrides=None, batch_size=32):
    """{value name (or "name:pre"): (lo, hi)} for every activation of the float `graph` over the
    calibration `inputs` (one array per graph input, as load_calibration returns). `overrides` maps a
    value name or a layer name to another observer spec for those tensors."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    inputs = list(inputs)
    if len(inputs) != len(graph.inputs):
        raise CalibrationError(f"Calibration data has {len(inputs)} arrays but the model has "
                               f"{len(graph.inputs)} inputs.")
    total = len(inputs[0]) if inputs else 0
    if total == 0 or any(len(a) != total for a in inputs):
        raise CalibrationError(f"Calibration needs the same, non-zero number of samples for every input; got "
                               f"{[len(a) for a in inputs]}.")
    observers = _make_observers(graph, observer, dict(overrides or {}))
    last_read = {id(v): i for i, node in enumerate(graph.nodes) for v in node.inputs}
    for start in range(0, total, batch_size):
        env = {}
        for value, array in zip(graph.inputs, inputs):
            env[id(value)] = np.asarray(array[start:start + batch_size], dtype=value.type.dtype)
            _observe(observers, value.name, env[id(value)], "graph input")
        for i, node in enumerate(graph.nodes):
            where = f"op {node.op}, layer '{node.layer}'"
            with np.errstate(all="ignore"):  # every NaN/Inf an op makes is reported by _observe
                pre, outs = run_node_stages(node, [v.data if v.is_constant else env[id(v)] for v in node.inputs])
            if pre is not None:
                _observe(observers, f"{node.output.name}:pre", pre, where)
            for value, out in zip(node.outputs, outs):
                _observe(observers, value.name, out, where)
                env[id(value)] = out
            for value in node.inputs + node.outputs:  # drop what no later node reads
                if last_read.get(id(value), i) == i:
                    env.pop(id(value), None)
    return {key: tuple(float(x) + 0.0 for x in obs.range()) for key, obs in observers.items()}  # no -0.0


def _make_observers(graph, default, overrides):
    """One observer per observed key; an override by key, by value name (for ":pre" keys) or by layer."""
    keys = [(v.name, v.name, None) for v in graph.inputs]
    for node in graph.nodes:
        if node.epilogue:
            keys.append((f"{node.output.name}:pre", node.output.name, node.layer))
        keys += [(v.name, v.name, node.layer) for v in node.outputs]
    known = {key for key, _, _ in keys} | {layer for _, _, layer in keys if layer}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"Observer overrides {unknown} match no value or layer of graph '{graph.name}'.")
    return {key: make_observer(overrides.get(key, overrides.get(name, overrides.get(layer, default))))
            for key, name, layer in keys}


def _observe(observers, key, array, where):
    array = np.asarray(array)
    if array.dtype.kind in "fc" and not np.all(np.isfinite(array)):
        bad = int(array.size - np.isfinite(array).sum())
        raise CalibrationError(f"Calibration produced {bad} NaN or infinite values in '{key}' ({where}); "
                               f"check the scale of the calibration data.")
    observers[key].update(array)
