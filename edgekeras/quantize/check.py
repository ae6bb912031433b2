"""The integer-only guarantee: between the quantize nodes at the inputs and the dequantize nodes at
the outputs of an int8 model, every op reads and writes integers, unless the user kept its layer
in float on purpose."""

from edgekeras.quantize.convert import QuantizeError, layer_matches

EDGE_OPS = ("quantize", "dequantize")


def check_integer_only(graph, keep_float=()):
    for node in graph.nodes:
        if node.op in EDGE_OPS or layer_matches(node, keep_float):
            continue
        for value in [v for v in node.inputs if not v.is_constant] + node.outputs:
            if not value.type.dtype.startswith(("int", "uint")):
                raise QuantizeError(
                    f"Op '{node.op}' (layer '{node.layer or node.name}') computes in {value.type.dtype} inside "
                    f"the int8 model (tensor '{value.name}'); it has no integer kernel.")
