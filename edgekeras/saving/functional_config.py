"""A Functional model's graph to and from Keras 3's config: layers with `inbound_nodes`, plus
`input_layers` / `output_layers` as `[layer_name, node_index, tensor_index]` structures.

Node indices count only the nodes that belong to the model (a layer shared with another model
has more). Keras still numbers a nested Functional model's calls from 1 in `input_layers` /
`output_layers` (a leftover of Keras 2, where such a model owned a node of its own), but from 0
in `inbound_nodes`; both are mirrored here.
"""

import inspect

import numpy as np

from edgekeras.backend.symbolic import is_symbolic
from edgekeras.layers.layer import flatten, map_structure
from edgekeras.models.functional import Functional
from edgekeras.saving import safety
from edgekeras.saving.serialize import serialize_layer


# ---- model -> config ------------------------------------------------------------------------------
def functional_config(model):
    own = {id(node) for node in model._nodes}

    def history(tensor, offset=False):
        layer, node_index, tensor_index = tensor._keras_history
        kept = sum(1 for node in layer._inbound_nodes[:node_index] if id(node) in own)
        return [layer.name, kept + (_node_offset(layer) if offset else 0), tensor_index]

    def endpoint(tensor):
        return history(tensor, offset=True)

    def keras_tensor(value):
        if not is_symbolic(value):
            return value.tolist() if isinstance(value, np.ndarray) else value
        return {"class_name": "__keras_tensor__",
                "config": {"shape": list(value.shape), "dtype": value.dtype, "keras_history": history(value)}}

    layers = []
    for layer in model._layers:
        entry = serialize_layer(layer)
        entry["name"] = layer.name
        entry["inbound_nodes"] = [
            {"args": map_structure(keras_tensor, list(node.args)),
             "kwargs": {**_call_context_kwargs(layer, node), **map_structure(keras_tensor, node.kwargs)}}
            for node in layer._inbound_nodes if id(node) in own and node.input_tensors
        ]
        layers.append(entry)
    return {"name": model.name, "trainable": model.trainable, "layers": layers,
            "input_layers": map_structure(endpoint, model._nested_inputs),
            "output_layers": map_structure(endpoint, model._nested_outputs)}


def _node_offset(layer):
    return 1 if isinstance(layer, Functional) else 0


def _call_context_kwargs(layer, node):
    """What Keras adds to a recorded call: `training` when `call` defaults it to a value, and a
    `mask` of Nones when `call` takes a mask and the call had a single tensor argument."""
    params = inspect.signature(layer.call).parameters
    added = {}
    training = params.get("training")
    if training is not None and training.default not in (None, inspect.Parameter.empty):
        added["training"] = training.default
    tensor_args = [a for a in list(node.args) + list(node.kwargs.values()) if any(map(is_symbolic, flatten(a)))]
    if "mask" in params and "mask" not in node.kwargs and len(tensor_args) == 1:
        added["mask"] = map_structure(lambda _: None, tensor_args[0])
    return added


# ---- config -> model ------------------------------------------------------------------------------
def functional_from_config(cls, config, deserialize_layer):
    """Rebuild the graph: create every layer, then replay its calls once their inputs exist."""
    entries = config.get("layers")
    if not isinstance(entries, list):
        raise ValueError("A Functional config needs a 'layers' list.")
    created, pending = {}, {}
    for entry in entries:
        if not isinstance(entry, dict):
            raise ValueError(f"A Functional config's layer entry must be a dict, got {safety.short(entry)}.")
        layer = deserialize_layer(entry)
        name = entry.get("name", layer.name)
        if not isinstance(name, str) or name in created:
            raise ValueError(f"Layer names in a Functional config must be unique strings; got {name!r} "
                             "twice or as a non-string.")
        nodes = entry.get("inbound_nodes", [])
        if not isinstance(nodes, list) or not all(isinstance(n, dict) for n in nodes):
            raise ValueError(f"Layer '{name}': 'inbound_nodes' must be a list of {{'args', 'kwargs'}} dicts.")
        created[name], pending[name] = layer, list(nodes)

    with safety.as_value_error(f"Cannot rebuild the graph of Functional model '{config.get('name')}'"):
        while any(pending.values()):
            progressed = False
            for name, nodes in pending.items():
                while nodes:
                    call = _resolve_node(nodes[0], created)
                    if call is None:
                        break
                    args, kwargs = call
                    created[name](*args, **kwargs)
                    nodes.pop(0)
                    progressed = True
            if not progressed:
                stuck = sorted(name for name, nodes in pending.items() if nodes)
                raise ValueError(f"The layer graph cannot be rebuilt: the calls of {stuck} wait on each other "
                                 "(a cycle) or on layer calls that do not exist.")
        inputs = _map_history(config.get("input_layers"), created)
        outputs = _map_history(config.get("output_layers"), created)
        return cls(inputs=inputs, outputs=outputs, name=config.get("name"), trainable=config.get("trainable", True))


class _NotYet(Exception):
    """A node refers to a layer call that has not been replayed yet."""


def _resolve_node(node, created):
    try:
        args = _revive(node.get("args", []), created)
        kwargs = _revive(node.get("kwargs", {}), created)
    except _NotYet:
        return None
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise ValueError(f"A node's 'args' must be a list and 'kwargs' a dict: {safety.short(node)}.")
    return args, kwargs


def _revive(value, created):
    """Replace serialized tensors (and NumPy constants) with live values."""
    if isinstance(value, list):
        return [_revive(v, created) for v in value]
    if not isinstance(value, dict):
        return value
    kind = value.get("class_name")
    if kind == "__keras_tensor__":
        history = (value.get("config") or {}).get("keras_history")
        return _tensor(history, created, in_node=True)
    if kind in ("__numpy__", "__tensor__"):
        inner = value.get("config") or {}
        with safety.as_value_error("Invalid array constant in a node"):
            array = np.asarray(inner.get("value"), dtype=inner.get("dtype"))
        if array.dtype.kind not in "biuf":
            raise ValueError(f"Array constants in a node must be numeric, got dtype {array.dtype}.")
        return array
    if kind is not None:
        raise ValueError(f"Unsupported object in a layer call's arguments: {safety.short(value)}.")
    return {k: _revive(v, created) for k, v in value.items()}


def _tensor(history, created, in_node=False):
    """The output a `[layer_name, node_index, tensor_index]` triple names. In a node that is not
    replayed yet raises _NotYet; in `input_layers` / `output_layers` nested models count from 1."""
    if not (isinstance(history, (list, tuple)) and len(history) == 3 and isinstance(history[0], str)
            and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in history[1:])):
        raise ValueError(f"Invalid keras_history {safety.short(history)}: expected "
                         "[layer_name, node_index, tensor_index].")
    name, node_index, tensor_index = history
    if name not in created:
        raise ValueError(f"A layer call refers to layer '{name}', which is not in the model.")
    layer = created[name]
    node_index -= 0 if in_node else _node_offset(layer)
    if not 0 <= node_index < len(layer._inbound_nodes):
        if in_node and node_index >= 0:
            raise _NotYet()
        raise ValueError(f"Layer '{name}' has no call #{history[1]} (it has {len(layer._inbound_nodes)}).")
    outputs = layer._inbound_nodes[node_index].outputs
    if tensor_index >= len(outputs):
        raise ValueError(f"Layer '{name}' call #{history[1]} has {len(outputs)} output(s), not #{tensor_index}.")
    return outputs[tensor_index]


def _map_history(structure, created):
    """`input_layers` / `output_layers`: a history triple, or a list / dict of them."""
    if isinstance(structure, list) and len(structure) == 3 and isinstance(structure[0], str):
        return _tensor(structure, created)
    if isinstance(structure, dict) and structure:
        return {str(k): _map_history(v, created) for k, v in structure.items()}
    if isinstance(structure, list) and structure:
        return [_map_history(v, created) for v in structure]
    raise ValueError(f"Invalid input_layers/output_layers entry {safety.short(structure)}.")
