"""Small graph edits the passes share, so each pass states only when it fires and what it computes."""

import numpy as np

from edgekeras.ir.graph import Value
from edgekeras.ir.types import TensorType
from edgekeras.ops.registry import get


def only_consumer(graph, value, node):
    """True when `node` is the single reader of `value` and it is not a graph output."""
    return graph.uses(value) == 1 and any(v is value for v in node.inputs)


def producer_of(value, ops):
    """The node producing `value` when its op is one of `ops`, else None."""
    node = value.producer
    return node if node is not None and node.op in ops else None


def bypass(graph, node, source):
    """Drop `node`, reading `source` wherever its output was read."""
    graph.replace_uses(node.outputs[0], source)
    graph.remove_node(node)


def absorb(graph, producer, consumer):
    """`producer` now computes what `consumer` did: it takes over the consumer's output value (name,
    type, readers), so per-layer comparisons keep finding the layer output by its name."""
    out = consumer.outputs[0]
    out.producer = producer
    producer.outputs[0] = out
    graph.remove_node(consumer)


def insert_after(graph, anchor, node):
    """Move `node` (just appended by add_node) to run right after `anchor`."""
    graph.nodes.remove(node)
    graph.nodes.insert(graph.nodes.index(anchor) + 1, node)


def retype(node):
    """Re-derive output shapes and dtypes from the op's shape rule after inputs or attrs changed."""
    specs = get(node.op).infer([v.type for v in node.inputs], **node.attrs)
    specs = specs if isinstance(specs, tuple) else (specs,)
    for value, spec in zip(node.outputs, specs):
        value.type = value.type.with_(shape=tuple(spec.shape), dtype=spec.dtype)


def set_constant(graph, node, index, array, name):
    """Make input `index` of `node` a constant holding `array`. The old constant may be shared (a
    layer called twice), so it is never modified; its name is reused when nothing else reads it."""
    array = np.ascontiguousarray(array)
    old = node.inputs[index] if index < len(node.inputs) else None
    if old is not None and old.is_constant and graph.uses(old) == 1:
        new = Value(old.name, TensorType(tuple(array.shape), array.dtype.name), data=array)
    else:
        new = graph.constant(name, array)
    if old is None:
        node.inputs.append(new)
    else:
        node.inputs[index] = new
    return new


def channel_vector(constant, value):
    """The (C,) float64 vector a constant adds or multiplies per channel (last axis) of `value`, when
    it broadcasts that way ((C,), (1, ..., C), a scalar) in `value`'s dtype; else None."""
    if not constant.is_constant or constant.data.dtype.name != value.type.dtype:
        return None
    shape, channels = constant.data.shape, value.type.shape[-1]
    per_channel = shape[-1:] in ((), (1,), (channels,)) and all(d == 1 for d in shape[:-1])
    if not per_channel or len(shape) > len(value.type.shape):
        return None
    return np.broadcast_to(constant.data.reshape(-1), (channels,)).astype(np.float64)
