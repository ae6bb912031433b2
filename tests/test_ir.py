"""IR verifier (each error class) and printer (stable, readable text)."""

import numpy as np
import pytest

from edgekeras.ir import Graph
from edgekeras.ir.graph import Node, Value
from edgekeras.ir.printer import format_graph
from edgekeras.ir.types import TensorType
from edgekeras.ir.verifier import IRError, verify


def conv_graph():
    g = Graph("net")
    x = g.add_input("input", (1, 8, 8, 1))
    k = g.constant("conv2d/kernel", np.ones((3, 3, 1, 16), np.float32))
    b = g.constant("conv2d/bias", np.zeros(16, np.float32))
    conv = g.add_node("conv", [x, k, b], {"strides": 1, "padding": "same"}, name="conv2d", layer="conv2d",
                      epilogue=[("relu", {})])
    pool = g.add_node("max_pool", [conv.output], {"pool_size": (2, 2)}, name="pool", layer="pool")
    g.outputs = [pool.output]
    return g


def test_valid_graph_passes_and_is_returned():
    g = conv_graph()
    assert verify(g) is g


def test_unknown_op():
    g = conv_graph()
    g.nodes[1].op = "frobnicate"
    with pytest.raises(IRError, match="node 'pool' \\(frobnicate\\).*Unknown op 'frobnicate'"):
        verify(g)


def test_dangling_edge():
    g = conv_graph()
    g.nodes[1].inputs[0] = Value("ghost", TensorType((1, 8, 8, 16), "float32"))
    with pytest.raises(IRError, match="node 'pool'.*%ghost is not defined before use"):
        verify(g)


def test_wrong_order_is_a_use_before_definition():
    g = conv_graph()
    g.nodes.reverse()
    with pytest.raises(IRError, match="node 'pool'.*%conv2d is not defined before use"):
        verify(g)


def test_cycle_is_caught():
    g = Graph()
    x = g.add_input("x", (1, 4))
    a = g.add_node("relu", [x], name="a")
    b = g.add_node("relu", [a.output], name="b")
    a.inputs[0] = b.output
    g.outputs = [b.output]
    with pytest.raises(IRError, match="node 'a'.*%b is not defined before use"):
        verify(g)


def test_duplicate_value_names():
    g = conv_graph()
    g.nodes[1].outputs[0].name = "conv2d"
    with pytest.raises(IRError, match="duplicate value name 'conv2d'"):
        verify(g)


def test_constant_named_like_an_activation():
    g = conv_graph()
    g.nodes[0].inputs[1].name = "input"
    with pytest.raises(IRError, match="constant @input: duplicate value name"):
        verify(g)


def test_output_shape_disagrees_with_shape_rule():
    g = conv_graph()
    out = g.nodes[0].outputs[0]
    out.type = out.type.with_(shape=(1, 8, 8, 15))
    with pytest.raises(IRError, match="node 'conv2d' \\(conv\\).*typed f32\\[1,8,8,15\\].*float32\\[1, 8, 8, 16\\]"):
        verify(g)


def test_output_dtype_disagrees():
    g = conv_graph()
    out = g.nodes[1].outputs[0]
    out.type = out.type.with_(dtype="int8")
    with pytest.raises(IRError, match="node 'pool'.*typed i8"):
        verify(g)


def test_shape_rule_rejecting_attrs():
    g = conv_graph()
    g.nodes[0].attrs["padding"] = "sideways"
    with pytest.raises(IRError, match="node 'conv2d'.*shape rule rejects.*sideways"):
        verify(g)


def test_epilogue_must_be_elementwise_unary():
    g = conv_graph()
    g.nodes[0].epilogue.append(("softmax", {}))
    with pytest.raises(IRError, match="node 'conv2d'.*epilogue op 'softmax' is not an elementwise unary op"):
        verify(g)


def test_graph_output_not_produced():
    g = conv_graph()
    g.outputs.append(Value("nowhere", TensorType((1,), "float32")))
    with pytest.raises(IRError, match="graph output %nowhere is not produced"):
        verify(g)


def test_foreign_producer_is_caught():
    g = conv_graph()
    g.nodes[1].outputs[0].producer = Node("other", "relu", [])
    with pytest.raises(IRError, match="node 'pool'.*names another producer"):
        verify(g)


def test_constant_graph_output_named_like_an_activation():
    g = conv_graph()
    g.outputs.append(g.constant("spare", np.zeros(1, np.float32)))
    g.outputs[-1].name = "pool"
    with pytest.raises(IRError, match="graph output @pool: duplicate value name"):
        verify(g)


def test_irerror_is_a_value_error():
    assert issubclass(IRError, ValueError)


GOLDEN = """\
graph net(%input: f32[1,8,8,1] NHWC) {
  %conv2d: f32[1,8,8,16] NHWC = conv(%input, @conv2d/kernel: f32[3,3,1,16], @conv2d/bias: f32[16]) {strides=1, padding="same"} +relu   # conv2d
  %pool: f32[1,4,4,16] NHWC = max_pool(%conv2d) {pool_size=(2, 2)}   # pool
  return %pool
}
"""


def test_printer_golden():
    assert format_graph(conv_graph()) == GOLDEN
    assert str(conv_graph()) == GOLDEN


def test_printer_is_deterministic_across_copies():
    g = conv_graph()
    assert format_graph(g) == format_graph(g.copy()) == format_graph(conv_graph())


def test_printer_shows_epilogue_attrs_and_constant_graph_outputs():
    g = Graph("misc")
    x = g.add_input("x", (1, 4))
    c = g.constant("c", np.ones((4,), np.float32))
    a = g.add_node("add", [x, c], name="sum")
    a.epilogue.append(("relu", {"max_value": 6.0, "negative_slope": np.float32(0.5)}))
    r = g.add_node("reshape", [a.output], {"shape": (2, 2)}, name="r")
    p = g.add_node("pad", [r.output], {"pads": ((0, 0), (1, 1), (0, 0)), "value": 0.0})
    g.outputs = [p.output, c]
    text = format_graph(g)
    assert "%sum: f32[1,4] NC = add(%x, @c: f32[4]) +relu{max_value=6.0, negative_slope=0.5}\n" in text
    assert "= reshape(%sum) {shape=(2, 2)}\n" in text
    assert "pads=((0, 0), (1, 1), (0, 0)), value=0.0}" in text
    assert "  return %pad, @c: f32[4]\n" in text
    assert "#" not in text  # no layer, no layer comment
