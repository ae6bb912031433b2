"""Whole-model and weights-only `.h5` files in the Keras-2 layout (written by tf.keras 2.x, and
still by Keras 3 for `model.save("m.h5")`; most published edge models ship this way).

Root attributes `model_config` / `training_config` (JSON), `keras_version`, `backend`; weights
under `model_weights/<layer>/`, listed in order by each layer group's `weight_names` attribute
(the datasets themselves sit at `<layer>/<weight_name>`, e.g. `dense/dense/kernel:0`);
optimizer state under `optimizer_weights`, listed by its `weight_names`.
"""

import warnings

import h5py

from edgekeras.models.model import Model
from edgekeras.saving import legacy_config, safety
from edgekeras.saving.compile_config import compile_from_config
from edgekeras.saving.serialize import deserialize


def is_weights_group(h5):
    """Whether an HDF5 file holds legacy-layout weights (whole model or weights-only)."""
    return "model_weights" in h5 or "layer_names" in h5.attrs


def load_model(h5, custom_objects, compile, safe_mode):
    model_config = _json_attr(h5, "model_config")
    if model_config is None:
        raise ValueError("This HDF5 file has no model_config attribute: it holds weights only. Build the model in "
                         "code and call model.load_weights() with it.")
    model = deserialize(legacy_config.upgrade_model_config(model_config), custom_objects, safe_mode)
    if not isinstance(model, Model):
        raise ValueError(f"model_config describes a {type(model).__name__}, not a model.")
    if "model_weights" not in h5:
        raise ValueError("This HDF5 file has a model_config but no model_weights group.")
    load_weights(model, h5["model_weights"])
    training_config = _json_attr(h5, "training_config") if compile else None
    if training_config is not None:
        compile_from_config(model, legacy_config.upgrade_training_config(training_config), custom_objects)
        _load_optimizer_weights(model, h5)
    return model


def load_weights(model, group, skip_mismatch=False):
    """Assign weights matched by layer name (the legacy order: trainable, then non-trainable)."""
    if "model_weights" in group:
        group = group["model_weights"]
    saved = {name: _string_list_attr(_layer_group(group, name), "weight_names")
             for name in _string_list_attr(group, "layer_names")}
    units = [(layer.name, layer.trainable_weights + layer.non_trainable_weights) for layer in model.layers]
    units.append(("top_level_model_weights", list(model._trainable_variables) + list(model._non_trainable_variables)))
    if "top_level_model_weights" in group:
        saved.setdefault("top_level_model_weights", _string_list_attr(group["top_level_model_weights"], "weight_names"))
    assignments = []
    for name, variables in units:
        names = saved.pop(name, [])
        try:
            if len(names) != len(variables):
                raise ValueError(f"Layer '{name}' has {len(variables)} weight(s) {[v.path for v in variables]}, "
                                 f"the file has {len(names)} ({names[:10]}).")
            values = [safety.read_h5_dataset(group[name], n, v.shape, v.dtype, f"Weight '{v.path}'")
                      for v, n in zip(variables, names)]
            assignments.extend(zip(variables, values))
        except ValueError as err:
            if not skip_mismatch:
                raise
            warnings.warn(f"Skipping the weights of layer '{name}': {err}", stacklevel=2)
    extra = sorted(name for name, names in saved.items() if names)
    if extra:
        message = f"The file has weights for layers {extra[:10]}, which the model does not have."
        if not skip_mismatch:
            raise ValueError(message)
        warnings.warn(message, stacklevel=2)
    for variable, value in assignments:
        variable.assign(value)


def _load_optimizer_weights(model, h5):
    """Restore optimizer state when it lines up with ours (Keras 3 writes it in our order)."""
    if "optimizer_weights" not in h5:
        return
    group = h5["optimizer_weights"]
    names = _string_list_attr(group, "weight_names")
    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build(model.trainable_weights)
    variables = optimizer.variables
    try:
        if len(names) != len(variables):
            raise ValueError(f"the file has {len(names)} optimizer variables, the optimizer has {len(variables)}")
        values = [safety.read_h5_dataset(group, n, v.shape, v.dtype, f"Optimizer variable '{v.path}'")
                  for v, n in zip(variables, names)]
    except ValueError as err:
        warnings.warn(f"The optimizer starts fresh: its saved state does not fit ({err}).", stacklevel=3)
        return
    for variable, value in zip(variables, values):
        variable.assign(value)


def _json_attr(h5, name):
    value = h5.attrs.get(name)
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        raise ValueError(f"The '{name}' attribute must be a JSON string, got {type(value).__name__}.")
    return safety.parse_json(value, f"The '{name}' attribute")


def _string_list_attr(group, name):
    """A list-of-strings attribute, also in the chunked form (`name0`, `name1`, ...) Keras uses
    for lists too long for one HDF5 attribute."""
    if name in group.attrs:
        chunks = [group.attrs[name]]
    else:
        chunks, i = [], 0
        while f"{name}{i}" in group.attrs:
            chunks.append(group.attrs[f"{name}{i}"])
            i += 1
    out = []
    for chunk in chunks:
        items = chunk.tolist() if hasattr(chunk, "tolist") else chunk
        for item in items if isinstance(items, list) else [items]:
            item = item.decode("utf-8", errors="replace") if isinstance(item, bytes) else item
            if not isinstance(item, str):
                raise ValueError(f"Attribute '{name}' of '{group.name}' must list strings, got {safety.short(item)}.")
            out.append(item)
    return out


def _layer_group(group, name):
    layer_group = group.get(name)
    if not isinstance(layer_group, h5py.Group):
        raise ValueError(f"layer_names lists '{name}', but the file has no such group.")
    return layer_group
