"""Make the graph channels-last (NHWC) end to end and record every value's layout.

An NCHW import (ONNX) wraps each channels-last op in transposes: NHWC->NCHW after it, NCHW->NHWC
before the next, with NCHW elementwise ops in between. Each transpose is a full memory pass. This
pass sinks transposes below layout-agnostic ops (elementwise, and ops with an axis attribute it can
remap), where they meet their inverse and cancel; chains of transposes compose into one and
duplicates of one value merge. What is left (at graph inputs and outputs, or before a flatten)
keeps the graph's meaning and is labelled.
"""

import numpy as np

from edgekeras.ir.types import default_layout
from edgekeras.ir.verifier import EPILOGUE_OPS
from edgekeras.ops.reduce import canonical_axes
from edgekeras.passes.rewrite import insert_after, only_consumer, retype, set_constant

UNARY = EPILOGUE_OPS | {"cast"}
BINARY = frozenset({"add", "subtract", "multiply", "maximum", "minimum"})
AXIS_OPS = frozenset({"softmax", "batch_norm", "concatenate"})
REDUCE = frozenset({"reduce_mean", "reduce_max"})
ALL_INPUTS_MOVE = BINARY | {"concatenate"}  # ops whose every input is in the transposed layout
CHANNELS_LAST = frozenset({"conv", "depthwise_conv", "conv_transpose", "max_pool", "avg_pool", "upsample"})


def run(graph):
    changed = True
    while changed:
        changed = False
        for node in list(graph.nodes):
            if node in graph.nodes and node.op == "transpose":
                changed |= _merge(graph, node) or _compose(graph, node)
            elif node in graph.nodes:
                changed |= _sink(graph, node)
    _assign_layouts(graph)
    return graph


def _identity(perm):
    return tuple(perm) == tuple(range(len(perm)))


def _merge(graph, node):
    """Two transposes of one value by one permutation (an import emits one per reader) are one."""
    perm = tuple(node.attrs["perm"])
    twin = next(n for n in graph.nodes if n.op == "transpose" and n.inputs[0] is node.inputs[0]
                and tuple(n.attrs["perm"]) == perm)
    if twin is node or any(v is node.outputs[0] for v in graph.outputs):
        return False
    graph.replace_uses(node.outputs[0], twin.outputs[0])
    graph.remove_node(node)
    return True


def _compose(graph, node):
    """transpose(transpose(x, p), q) == transpose(x, p[q]); the identity is dropped."""
    first = node.inputs[0].producer
    if first is None or first.op != "transpose":
        return False
    source, out = first.inputs[0], node.outputs[0]
    perm = tuple(first.attrs["perm"][i] for i in node.attrs["perm"])
    if _identity(perm):
        aliases = source.producer is None or any(v is source for v in graph.outputs)
        if aliases and any(v is out for v in graph.outputs):
            return False
        graph.replace_uses(out, source)
        graph.remove_node(node)
    else:
        node.inputs[0], node.attrs["perm"] = source, perm
    if graph.uses(first.outputs[0]) == 0:
        graph.remove_node(first)
    return True


def _sink(graph, node):
    """op(transpose(x, p), ...) -> transpose(op'(x, ...), p') where op' reads x's layout."""
    moving = range(len(node.inputs)) if node.op in ALL_INPUTS_MOVE else range(min(1, len(node.inputs)))
    perm, transposes = None, []
    for i in moving:
        value = node.inputs[i]
        producer = value.producer
        if producer is not None and producer.op == "transpose":
            if perm not in (None, tuple(producer.attrs["perm"])) or not only_consumer(graph, value, node):
                return False
            perm = tuple(producer.attrs["perm"])
            transposes.append(i)
        elif not (value.is_constant and node.op in ALL_INPUTS_MOVE):
            return False
    rule = _rule(node.op, node.attrs, perm) if perm is not None else None
    if rule is None or any(len(node.inputs[i].type.shape) > len(perm) for i in moving):
        return False
    node.attrs, out_perm = rule
    inverse = tuple(np.argsort(perm))
    for i in moving:
        value = node.inputs[i]
        if i in transposes:
            node.inputs[i] = value.producer.inputs[0]
            graph.remove_node(value.producer)
        else:  # a broadcast constant: bring it to the same rank, then into x's axis order
            data = value.data.reshape((1,) * (len(perm) - value.data.ndim) + value.data.shape)
            set_constant(graph, node, i, np.transpose(data, inverse), value.name)
    retype(node)
    if not _identity(out_perm):
        out = node.outputs[0]
        back = graph.add_node("transpose", [out], {"perm": out_perm}, layer=node.layer)
        insert_after(graph, node, back)
        graph.replace_uses(out, back.outputs[0])
        back.inputs[0] = out
    return True


def _rule(op, attrs, perm):
    """(attrs on x, permutation from op'(x) back to op(transpose(x, perm))), or None if unknown."""
    n = len(perm)
    if op in UNARY or op in BINARY:
        return dict(attrs), perm
    if op in AXIS_OPS:
        return {**attrs, "axis": perm[attrs.get("axis", -1) % n]}, perm
    if op == "pad":
        pads = [None] * n
        for i, pair in enumerate(attrs["pads"]):
            pads[perm[i]] = tuple(pair)
        return {**attrs, "pads": tuple(pads)}, perm
    if op in REDUCE:
        axes = canonical_axes(op, n, attrs["axes"])
        new = {**attrs, "axes": tuple(sorted(perm[a] for a in axes))}
        if attrs.get("keepdims", False):
            return new, perm
        kept = [perm[i] for i in range(n) if i not in axes]
        return new, tuple(sorted(kept).index(k) for k in kept)
    return None


def _assign_layouts(graph):
    """Layouts follow data: channels-last ops give NHWC, transposes permute letters, reductions drop
    them, same-rank ops inherit from their first activation input, anything else gets the default."""
    for node in graph.nodes:
        source = next((v for v in node.inputs if not v.is_constant), None)
        for value in node.outputs:
            value.type = value.type.with_(layout=_layout(node, source, len(value.type.shape)))


def _layout(node, source, rank):
    given = source.type.layout if source is not None else None
    if node.op in CHANNELS_LAST or given is None or len(given) != len(source.type.shape):
        return default_layout(rank)
    if node.op == "transpose":
        return "".join(given[p] for p in node.attrs["perm"])
    if node.op in REDUCE and not node.attrs.get("keepdims", False):
        axes = canonical_axes(node.op, len(given), node.attrs["axes"])
        return "".join(c for i, c in enumerate(given) if i not in axes) or None
    return given if rank == len(given) else default_layout(rank)
