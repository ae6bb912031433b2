"""Model and optimizer variables to and from HDF5 in Keras 3's key layout: `*.weights.h5` files
and the `model.weights.h5` inside `.keras` files.

An object's variables sit at `<path>/vars/<i>` (trainable first, then non-trainable), where
`<path>` is how Keras's saving_lib first reaches the object from the model: `layers` of a
Sequential/Functional model first, then attributes in sorted order with private ones last; items
of lists and dicts are named by snake_case class name made unique in order (`dense`, `dense_1`),
nested containers `container`, `container_1`; an object reached twice is stored once.
"""

import warnings

import h5py
import numpy as np

from edgekeras.layers.layer import Layer, to_snake_case
from edgekeras.models import Functional, Sequential
from edgekeras.models.model import Model
from edgekeras.optimizers import Optimizer
from edgekeras.saving import safety


# ---- the walk -------------------------------------------------------------------------------------
def variable_groups(model, include_optimizer=True):
    """[(path, object, variables)] for the model and every layer / optimizer reachable from it."""
    groups, seen = [], set()

    def visit(obj, path):
        if id(obj) in seen:
            return
        seen.add(id(obj))
        groups.append((path, obj, _own_variables(obj)))
        for attr, child in _children(obj):
            if attr == "optimizer" and obj is model and not include_optimizer:
                continue
            reach(child, _join(path, attr), set())

    def reach(value, path, seen_containers):
        if _is_saveable(value):
            visit(value, path)
            return
        if not isinstance(value, (list, tuple, dict)) or id(value) in seen_containers:
            return
        seen_containers.add(id(value))
        used = {}
        for item in value.values() if isinstance(value, dict) else value:
            if _is_saveable(item):
                visit(item, _join(path, _unique(to_snake_case(type(item).__name__), used)))
            elif isinstance(item, (list, tuple, dict)):
                reach(item, _join(path, _unique("container", used)), seen_containers)

    visit(model, "")
    return groups


def _is_saveable(value):
    return isinstance(value, (Layer, Optimizer))


def _own_variables(obj):
    if isinstance(obj, Layer):
        return list(obj._trainable_variables) + list(obj._non_trainable_variables)
    return list(obj.variables)


def _children(obj):
    """(attribute, value) pairs in the order Keras visits them."""
    if not isinstance(obj, Layer):
        return []
    attrs = {name: value for name, value in vars(obj).items() if name != "_layers"}  # `layers` stands for it
    first = []
    if isinstance(obj, (Sequential, Functional)):
        first = [("layers", obj.layers)]
    elif isinstance(obj, Model):
        attrs["layers"] = obj.layers
    return first + sorted(attrs.items(), key=lambda item: f"~{item[0]}" if item[0].startswith("_") else item[0])


def _unique(name, used):
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


def _join(path, name):
    return f"{path}/{name}" if path else name


# ---- writing --------------------------------------------------------------------------------------
def write(model, target):
    """Write every variable of the model (and its optimizer) to `target`, a path or a binary file."""
    with h5py.File(target, "w") as h5:
        for path, obj, variables in variable_groups(model):
            group = h5.create_group(_join(path, "vars"))
            group.attrs["name"] = str(obj.name)
            for i, variable in enumerate(variables):
                group.create_dataset(str(i), data=np.asarray(variable.numpy()))


# ---- reading --------------------------------------------------------------------------------------
def load(model, h5, include_optimizer=True, skip_mismatch=False):
    """Assign the variables stored in an open HDF5 file, all or nothing.

    Missing, extra and mis-shaped weights raise ValueError (or are skipped with a warning under
    `skip_mismatch`). Optimizer state with a different number of variables (another optimizer
    configuration, or one saved before its first step) is skipped with a warning, as in Keras.
    """
    optimizer = getattr(model, "optimizer", None)
    include_optimizer = include_optimizer and optimizer is not None
    saved_slots = len(h5["optimizer/vars"]) if include_optimizer and "optimizer/vars" in h5 else 0
    if include_optimizer and not optimizer.built and model.built and saved_slots > len(optimizer.variables):
        optimizer.build(model.trainable_weights)  # the file carries slot variables: create ours to receive them
    assignments, expected, skipped = [], set(), []
    for path, obj, variables in variable_groups(model, include_optimizer):
        vars_path = _join(path, "vars")
        try:
            values = _read_group(h5, vars_path, obj, variables)
        except ValueError as err:
            if not skip_mismatch and not (obj is optimizer and isinstance(err, _CountMismatch)):
                raise
            warnings.warn(f"Skipping the saved state of '{obj.name}': {err}", stacklevel=3)
            skipped.append(vars_path + "/")
            continue
        expected.update(_join(vars_path, str(i)) for i in range(len(variables)))
        assignments.extend(zip(variables, values))
    ignored = tuple(skipped) + (() if include_optimizer else ("optimizer/",))
    extra = [p for p in safety.h5_dataset_paths(h5) if p not in expected and not p.startswith(ignored)]
    if extra:
        message = (f"The weights file has {len(extra)} weight(s) the model does not have, e.g. {extra[:5]}. "
                   "It was saved from a different model.")
        if not skip_mismatch:
            raise ValueError(message)
        warnings.warn(message, stacklevel=2)
    for variable, value in assignments:
        variable.assign(value)


class _CountMismatch(ValueError):
    """The file holds a different number of variables for an object than it has."""


def _read_group(h5, vars_path, obj, variables):
    group = h5.get(vars_path)
    if group is not None and not isinstance(group, h5py.Group):
        raise ValueError(f"'{vars_path}' in the weights file is not a group.")
    stored = sorted(group.keys()) if group is not None else []
    wanted = [str(i) for i in range(len(variables))]
    if stored != sorted(wanted):
        names = [v.path for v in variables]
        raise _CountMismatch(f"'{obj.name}' has {len(variables)} variable(s) {names}, but the file has "
                             f"{len(stored)} at '{vars_path}' ({stored[:10]}).")
    return [safety.read_h5_dataset(group, key, variable.shape, variable.dtype, f"Variable '{variable.path}'")
            for key, variable in zip(wanted, variables)]
