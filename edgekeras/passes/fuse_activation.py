"""Append an elementwise activation to the epilogue of the op that produces its input, so the
kernel applies it while the value is still in registers instead of a second pass over memory.

The producer's output must be read by the activation alone (a graph output or a second reader needs
the value before the activation). The fused node takes over the activation's output value, whose
name per-layer comparisons look up. softmax is not elementwise and never fuses.
"""

from edgekeras.passes.rewrite import absorb, only_consumer, producer_of

ACTIVATIONS = ("relu", "sigmoid", "tanh", "elu", "gelu", "hard_sigmoid", "swish", "hard_swish")
PRODUCERS = ("conv", "depthwise_conv", "dense", "conv_transpose", "add")


def run(graph):
    for act in list(graph.nodes):
        if act.op not in ACTIVATIONS:
            continue
        x = act.inputs[0]
        node = producer_of(x, PRODUCERS)
        if node is not None and len(node.outputs) == 1 and only_consumer(graph, x, act):
            node.epilogue.append((act.op, dict(act.attrs)))
            absorb(graph, node, act)
    return graph
