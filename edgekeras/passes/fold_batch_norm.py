"""Fold an inference batch_norm into the conv / depthwise_conv / dense that feeds it.

BN is a per-channel affine map y = x * scale + shift; applied to a linear op's output it equals the
same op with its kernel's output channels scaled and its bias mapped, so the BN costs nothing at run
time. Exporters (Keras's ONNX export, TFLite) write BN as multiply + add by per-channel constants:
the multiply folds here the same way (shift 0), and fuse_bias takes the add. Fires only when the
producer's output is read by the BN alone, the BN normalizes the channel (last) axis and every
parameter is a constant; otherwise the BN stays as it is.
"""

import numpy as np

from edgekeras.passes.rewrite import absorb, channel_vector, only_consumer, producer_of, set_constant

PRODUCERS = ("conv", "depthwise_conv", "dense")


def run(graph):
    for node in list(graph.nodes):
        if node.op in ("batch_norm", "multiply"):
            _fold(graph, node)
    return graph


def _affine(node, x):
    """(scale, shift) per channel of what `node` applies to `x`, or None when it is not that."""
    if node.op == "multiply":
        other = node.inputs[1] if node.inputs[0] is x else node.inputs[0]
        scale = channel_vector(other, x)
        return None if scale is None else (scale, np.zeros_like(scale))
    rank = len(x.type.shape)
    if node.attrs.get("axis", -1) % rank != rank - 1 or not all(v.is_constant for v in node.inputs[1:]):
        return None
    mean, var, gamma, beta = (v.data.astype(np.float64) for v in node.inputs[1:])
    scale = gamma / np.sqrt(var + node.attrs.get("epsilon", 1e-3))
    return scale, beta - mean * scale


def _fold(graph, bn):
    for x in bn.inputs[: 2 if bn.op == "multiply" else 1]:
        node = producer_of(x, PRODUCERS)
        if node is None or node.epilogue or not only_consumer(graph, x, bn):
            continue
        affine = _affine(bn, x)
        if affine is None or not all(v.is_constant for v in node.inputs[1:]):
            continue
        scale, shift = affine
        kernel = node.inputs[1].data
        bias = node.inputs[2].data.astype(np.float64) if len(node.inputs) > 2 else np.zeros_like(scale)
        if node.op == "depthwise_conv":  # (*window, C, multiplier): channel c * multiplier + m
            folded = kernel * scale.reshape(kernel.shape[-2:])
        else:  # conv (*window, in, out) and dense (in, out): output channels on the last axis
            folded = kernel * scale
        set_constant(graph, node, 1, folded.astype(kernel.dtype), f"{node.name}/kernel")
        set_constant(graph, node, 2, (bias * scale + shift).astype(x.type.dtype), f"{node.name}/bias")
        absorb(graph, node, bn)
        return
