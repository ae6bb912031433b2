"""Fold a zero `pad` of the spatial axes into the conv it feeds: the conv's explicit (lo, hi)
padding does the same without materializing the padded tensor (ZeroPadding2D + Conv2D "valid" is
the usual MobileNet/ResNet stem). A pad with another value, or touching batch/channel axes, or whose
output anything else reads, stays.
"""

from edgekeras.ops.windows import as_tuple, pad_pairs
from edgekeras.passes.rewrite import only_consumer

CONVS = ("conv", "depthwise_conv")


def run(graph):
    for conv in list(graph.nodes):
        pad = conv.inputs[0].producer if conv.op in CONVS else None
        if pad is not None and pad.op == "pad" and _foldable(graph, pad, conv):
            _fold(graph, pad, conv)
    return graph


def _foldable(graph, pad, conv):
    pads = [tuple(int(p) for p in pair) for pair in pad.attrs["pads"]]
    return (
        float(pad.attrs.get("value", 0.0)) == 0.0
        and pads[0] == (0, 0)
        and pads[-1] == (0, 0)
        and only_consumer(graph, pad.outputs[0], conv)
    )


def _fold(graph, pad, conv):
    padded = pad.outputs[0].type.shape
    window = conv.inputs[1].type.shape[:-2]
    rank = len(window)
    current = pad_pairs(
        padded[1:-1],
        window,
        as_tuple(conv.attrs.get("strides", 1), rank),
        as_tuple(conv.attrs.get("dilation", 1), rank),
        conv.attrs.get("padding", "valid"),
    )
    extra = [tuple(int(p) for p in pair) for pair in pad.attrs["pads"][1:-1]]
    conv.attrs["padding"] = tuple((lo + a, hi + b) for (lo, hi), (a, b) in zip(current, extra))
    conv.inputs[0] = pad.inputs[0]
    graph.remove_node(pad)
