"""Runs an IR graph with the ops' NumPy references: the float reference for every compiled artifact.

Shapes in the graph are fixed at batch 1, but the NumPy references are shape-generic, so a batch
of samples runs in one call.
"""

import numpy as np

from edgekeras.ops.registry import get


def run_node(node, args):
    return run_node_stages(node, args)[1]


def run_node_stages(node, args):
    """(the op's output before the fused epilogue, or None when there is none; the node's outputs):
    calibration observes both."""
    outs = get(node.op).numpy(*args, **node.attrs)
    outs = list(outs) if isinstance(outs, tuple) else [outs]
    pre = outs[0] if node.epilogue else None
    for op_name, attrs in node.epilogue:
        outs[0] = get(op_name).numpy(outs[0], **attrs)
    return pre, outs


def run(graph, feeds, keep_all=False):
    """`feeds`: one array per graph input (list) or a dict by input name. Returns {value name: array}
    for the graph outputs, or for every value when `keep_all`."""
    if not isinstance(feeds, dict):
        feeds = list(feeds) if isinstance(feeds, (list, tuple)) else [feeds]
        if len(feeds) != len(graph.inputs):
            raise ValueError(f"Graph '{graph.name}' has {len(graph.inputs)} inputs, got {len(feeds)} arrays.")
        feeds = {v.name: a for v, a in zip(graph.inputs, feeds)}
    env = {}
    for value in graph.inputs:
        if value.name not in feeds:
            raise ValueError(f"No data for graph input '{value.name}'; got {sorted(feeds)}.")
        env[id(value)] = np.asarray(feeds[value.name], dtype=value.type.dtype)
    for node in graph.nodes:
        args = [v.data if v.is_constant else env[id(v)] for v in node.inputs]
        for value, out in zip(node.outputs, run_node(node, args)):
            env[id(value)] = out
    wanted = graph.values() if keep_all else graph.outputs
    return {v.name: (v.data if v.is_constant else env[id(v)]) for v in wanted}
