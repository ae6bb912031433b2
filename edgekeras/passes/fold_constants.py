"""Evaluate nodes whose inputs are all constants once, at compile time, with the NumPy reference
(e.g. the weight transposes and reshapes an ONNX import leaves), so no kernel runs them per inference.

Nodes producing a graph output are left alone: the runtime expects outputs to be computed tensors.
Folded values keep their names; like all weights they carry no layout (their axes are not activations').
"""

import numpy as np

from edgekeras.ir.graph import Value
from edgekeras.ir.interpreter import run_node


def run(graph):
    outputs = {id(v) for v in graph.outputs}
    for node in list(graph.nodes):
        if not node.inputs or not all(v.is_constant for v in node.inputs):
            continue
        if any(id(v) in outputs for v in node.outputs):
            continue
        results = run_node(node, [v.data for v in node.inputs])
        for value, array in zip(node.outputs, results):
            array = np.ascontiguousarray(np.asarray(array, dtype=value.type.dtype))
            graph.replace_uses(value, Value(value.name, value.type.with_(layout=None), data=array))
        graph.remove_node(node)
    return graph
