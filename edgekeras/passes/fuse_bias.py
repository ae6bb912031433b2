"""Turn `add(linear_op(x), constant)` into the linear op's bias input (ONNX and hand-built graphs
often add the bias separately, exporters split BN into multiply + add), so the add is not a separate
kernel and a later activation can fuse.

The constant must broadcast to one value per output channel: shape (C,), (1, ..., C), or a scalar.
"""

from edgekeras.passes.rewrite import absorb, channel_vector, only_consumer, producer_of, set_constant

PRODUCERS = ("conv", "depthwise_conv", "dense")


def run(graph):
    for add in list(graph.nodes):
        if add.op == "add":
            _fuse(graph, add)
    return graph


def _fuse(graph, add):
    for x, c in (add.inputs, add.inputs[::-1]):
        node = producer_of(x, PRODUCERS)
        vector = channel_vector(c, x)
        if node is None or node.epilogue or vector is None or not only_consumer(graph, x, add):
            continue
        if len(node.inputs) > 2:
            if not node.inputs[2].is_constant:
                continue
            vector = vector + node.inputs[2].data
        set_constant(graph, node, 2, vector.astype(x.type.dtype), f"{node.name}/bias")
        absorb(graph, node, add)
        return
