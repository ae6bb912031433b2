"""Trace an edgekeras model into the IR.

The model's `call` runs on symbolic tensors of its input shapes (batch 1) inside an `OpRecorder`;
every recorded op call becomes one IR node. Layers append to `_inbound_nodes` when called
symbolically, so their lengths are restored afterwards: tracing leaves the model as it was.
"""

import numpy as np

from edgekeras.backend.symbolic import KerasTensor, is_symbolic
from edgekeras.frontend.errors import ModelImportError
from edgekeras.ir.graph import Graph
from edgekeras.layers.layer import flatten
from edgekeras.ops.registry import OpRecorder


def from_keras_model(model):
    """The IR graph of `model` at batch 1; it computes what `model.predict` computes."""
    error = getattr(model, "_trace_error", None)
    if error:
        raise ModelImportError(f"Model '{model.name}' cannot be compiled: its call() does not trace with edgekeras "
                               f"ops ({error}).")
    names, specs = _input_specs(model)
    graph = Graph(model.name)
    tensors = [KerasTensor(shape, dtype) for shape, dtype in specs]
    env = {id(t): graph.add_input(name, t.shape, t.dtype) for name, t in zip(names, tensors)}
    args = dict(zip(names, tensors)) if isinstance(getattr(model, "_build_shapes", None), dict) else tensors
    if not isinstance(args, dict) and len(args) == 1:
        args = args[0]
    layers = all_layers(model)
    sizes = [len(layer._inbound_nodes) for layer in layers]
    try:
        with OpRecorder() as recorder:
            outputs = model.call(args, **model._filter_call_kwargs({"training": False}))
        call_outputs = _call_outputs(layers, sizes)
    except (TypeError, AttributeError, ValueError) as err:
        raise ModelImportError(f"Tracing model '{model.name}' failed: {type(err).__name__}: {err}") from err
    finally:
        for layer, size in zip(layers, sizes):
            del layer._inbound_nodes[size:]
    _add_nodes(graph, recorder.calls, env, _weight_names(model), call_outputs)
    for out in flatten(outputs):
        if not is_symbolic(out) or id(out) not in env:
            raise ModelImportError(f"Model '{model.name}' returns {out!r}, which no traced op produced.")
        graph.outputs.append(env[id(out)])
    return graph


def _input_specs(model):
    """([input name], [(shape with batch 1, dtype)]) from the model's inputs or its build shapes."""
    inputs = getattr(model, "inputs", None) or []
    if inputs:
        names, shapes, dtypes = model.input_names, [t.shape for t in inputs], [t.dtype for t in inputs]
    else:
        shapes = getattr(model, "_build_shapes", None) if model.built else None
        if shapes is None:
            raise ModelImportError(f"Model '{model.name}' is not built, so its input shapes are unknown: call it on "
                                   "data or call model.build(input_shape) first.")
        if isinstance(shapes, dict):
            names, shapes = list(shapes), list(shapes.values())
        elif shapes and isinstance(shapes[0], (list, tuple)):
            names = [f"input_{i}" for i in range(len(shapes))]
        else:
            names, shapes = ["input"], [shapes]
        dtypes = [model.dtype] * len(shapes)
    specs = []
    for name, shape, dtype in zip(names, shapes, dtypes):
        if any(d is None for d in shape[1:]):
            raise ModelImportError(f"compile needs static shapes: input '{name}' has shape {tuple(shape)}")
        specs.append(((1,) + tuple(int(d) for d in shape[1:]), dtype))
    return names, specs


def all_layers(model):
    """The model and every (sub)layer below it, each once."""
    seen, order, stack = set(), [], [model]
    while stack:
        layer = stack.pop()
        if id(layer) not in seen:
            seen.add(id(layer))
            order.append(layer)
            stack.extend(layer._layers)
    return order


def _call_outputs(layers, sizes):
    """For each layer call the trace made: the set of its output tensor ids (it ends when all exist)."""
    calls = []
    for layer, size in zip(layers, sizes):
        calls.extend({id(t) for t in node.outputs} for node in layer._inbound_nodes[size:])
    return calls


def _weight_names(model):
    """id of each weight's current array -> its variable path (e.g. "conv2d/kernel")."""
    return {id(w.value): w.path for w in model.weights}


def _add_nodes(graph, calls, env, weight_names, call_outputs):
    """One IR node per recorded op call. A layer call's first op is named after the layer (its path;
    a shared layer's second call gets a suffix), its later ops "<first op's name>/<op>"."""
    open_calls = {}  # layer path -> name of the first node of its call in progress
    for call in calls:
        inputs = [_input_value(graph, x, env, weight_names, call) for x in call.inputs]
        path = call.layer
        first = open_calls.get(path)
        node = graph.add_node(call.op.name, inputs, call.attrs, layer=path,
                              name=f"{first}/{call.op.name}" if first else (path or call.op.name))
        if path and not first:
            open_calls[path] = node.name
        for tensor, value in zip(call.outputs, node.outputs):
            env[id(tensor)] = value
            for outputs in call_outputs:
                outputs.discard(id(tensor))
                if not outputs:
                    open_calls.pop(path, None)
        call_outputs[:] = [outputs for outputs in call_outputs if outputs]


def _input_value(graph, x, env, weight_names, call):
    if is_symbolic(x):
        if id(x) not in env:
            raise ModelImportError(f"Op '{call.op.name}' in layer '{call.layer}' reads a symbolic tensor that the "
                                   "traced model did not produce (a tensor kept from another call?).")
        return env[id(x)]
    if id(x) not in env:
        name = weight_names.get(id(x)) or f"{call.layer or call.op.name}/const"
        env[id(x)] = graph.constant(name, np.asarray(x))
    return env[id(x)]
