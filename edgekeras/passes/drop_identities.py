"""Remove ops that compute nothing: `identity` (what Dropout traces to at inference), reshapes to the
same shape and transposes by the identity permutation. Kernels and arena slots for them are waste.

A no-op is kept only where removing it would make a graph output alias a graph input, a constant
or another graph output, which the runtime's tensor table cannot express.
"""


def is_noop(node):
    if node.op == "identity":
        return True
    if node.op == "reshape":
        return tuple(node.outputs[0].type.shape) == tuple(node.inputs[0].type.shape)
    if node.op == "transpose":
        return tuple(node.attrs["perm"]) == tuple(range(len(node.inputs[0].type.shape)))
    return False


def run(graph):
    for node in list(graph.nodes):
        if not is_noop(node):
            continue
        source, out = node.inputs[0], node.outputs[0]
        aliases = source.producer is None or any(v is source for v in graph.outputs)
        if aliases and any(v is out for v in graph.outputs):
            continue
        graph.replace_uses(out, source)
        graph.remove_node(node)
    return graph
