"""Optimization passes and the graph phases: each pass keeps what the graph computes (checked with
the NumPy interpreter), changes the structure as intended, and leaves alone what it must not touch."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import edgekeras as keras
from edgekeras.frontend import from_keras_model
from edgekeras.ir import Graph, interpreter
from edgekeras.ir.verifier import IRError, verify
from edgekeras.passes import (
    canonical_layout,
    dead_code,
    drop_identities,
    fold_batch_norm,
    fold_constants,
    fold_pad,
    fuse_activation,
    fuse_bias,
)
from edgekeras.passes.pipeline import GRAPH_PHASES, PHASES, check_phase, run_graph_phases

layers = keras.layers


# ---- helpers -------------------------------------------------------------------------------------
def randomized(model, seed=0):
    """Random weights (BN variances positive) so folds are exercised with non-trivial numbers."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if isinstance(layer, layers.BatchNormalization):
            weights = [rng.uniform(0.5, 1.5, w.shape) if i in (0, 3) else rng.normal(0, 0.5, w.shape)
                       for i, w in enumerate(weights)]
        else:
            weights = [rng.normal(0, 0.5, w.shape) for w in weights]
        layer.set_weights([w.astype(np.float32) for w in weights])
    return model


def traced(*stack, shape, seed=0):
    model = keras.Sequential([keras.Input(shape)] + list(stack))
    return from_keras_model(randomized(model, seed))


def feeds(graph, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(3,) + v.type.shape[1:]).astype(v.type.dtype) for v in graph.inputs]


def apply(graph, *passes):
    """Run passes on a copy, verifying after each, as the pipeline does."""
    out = graph.copy()
    for p in passes:
        out = verify(p.run(out))
    return out


def assert_same(before, after, seed=1):
    x = feeds(before, seed)
    want = list(interpreter.run(before, x).values())
    got = list(interpreter.run(after, x).values())
    assert len(want) == len(got)
    for w, g in zip(want, got):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


def ops(graph):
    return [n.op for n in graph.nodes]


def const(g, name, shape, seed=0):
    return g.constant(name, np.random.default_rng(seed).normal(size=shape).astype(np.float32))


# ---- drop_identities -----------------------------------------------------------------------------
def test_drop_identities_removes_dropout_and_noop_reshape_transpose():
    g = traced(layers.Dense(4), layers.Dropout(0.5), layers.Reshape((4,)), layers.Dense(2), shape=(3,))
    x = g.nodes[-1].output
    t = g.add_node("transpose", [x], {"perm": (0, 1)})
    g.outputs = [t.output]
    assert ops(g) == ["dense", "identity", "reshape", "dense", "transpose"]
    out = apply(g, drop_identities)
    assert ops(out) == ["dense", "dense"]
    assert out.nodes[1].inputs[0] is out.nodes[0].output
    assert_same(g, out)


def test_drop_identities_keeps_identity_between_graph_input_and_output():
    g = Graph()
    x = g.add_input("x", (1, 4))
    g.outputs = [g.add_node("identity", [x]).output]
    assert ops(apply(g, drop_identities)) == ["identity"]


def test_drop_identities_keeps_reshape_that_changes_shape():
    g = traced(layers.Reshape((2, 2)), shape=(4,))
    assert ops(apply(g, drop_identities)) == ["reshape"]


# ---- fold_constants ------------------------------------------------------------------------------
def test_fold_constants_evaluates_constant_subgraphs():
    g = Graph()
    x = g.add_input("x", (1, 5, 5, 2))
    oihw = const(g, "w_oihw", (3, 2, 3, 3))
    kernel = g.add_node("transpose", [oihw], {"perm": (2, 3, 1, 0)}, name="w_hwio")
    conv = g.add_node("conv", [x, kernel.output])
    b = g.add_node("reshape", [const(g, "b", (1, 3))], {"shape": (3,)}, name="b_flat")
    g.outputs = [g.add_node("add", [conv.output, b.output]).output]
    out = apply(g, fold_constants)
    assert ops(out) == ["conv", "add"]
    kernel = out.nodes[0].inputs[1]
    assert kernel.is_constant and kernel.name == "w_hwio" and kernel.type.layout is None
    assert out.nodes[1].inputs[1].name == "b_flat"
    assert_same(g, out)


def test_fold_constants_leaves_graph_outputs_and_activations():
    g = Graph()
    x = g.add_input("x", (1, 3))
    c = g.add_node("relu", [const(g, "c", (3,))])
    g.outputs = [g.add_node("add", [x, c.output]).output, c.output]
    assert ops(apply(g, fold_constants)) == ["relu", "add"]


# ---- canonical_layout ----------------------------------------------------------------------------
NHWC, NCHW = (0, 2, 3, 1), (0, 3, 1, 2)


def nchw_conv(g, x, cin, cout, seed):
    """What an NCHW import emits for one conv: transpose in, channels-last conv, transpose out."""
    t = g.add_node("transpose", [x], {"perm": NHWC})
    c = g.add_node("conv", [t.output, const(g, f"k{seed}", (3, 3, cin, cout), seed)], {"padding": "same"})
    return g.add_node("transpose", [c.output], {"perm": NCHW}).output


def nchw_graph():
    g = Graph("nchw")
    x = g.add_input("x", (1, 2, 6, 6), layout="NCHW")
    a = g.add_node("relu", [nchw_conv(g, x, 2, 4, 1)], name="act")
    s = g.add_node("add", [a.output, const(g, "shift", (1, 4, 1, 1))])
    skip = g.add_node("sigmoid", [nchw_conv(g, s.output, 4, 4, 2)])
    r = g.add_node("add", [skip.output, s.output], name="residual")
    m = g.add_node("reduce_mean", [nchw_conv(g, r.output, 4, 3, 3)], {"axes": (2, 3)}, name="gap")
    g.outputs = [g.add_node("softmax", [m.output], {"axis": 1}).output]
    return g


def test_canonical_layout_cancels_nchw_wrapping():
    g = nchw_graph()
    assert ops(g).count("transpose") == 6
    out = apply(g, canonical_layout)
    assert_same(g, out)
    assert ops(out).count("transpose") == 1 and out.nodes[0].op == "transpose"  # only the NCHW input
    types = {v.name: v.type for v in out.values()}
    assert types["transpose"].layout == "NHWC"
    assert types["act"].layout == "NHWC" and types["act"].shape == (1, 6, 6, 4)
    assert types["residual"].layout == "NHWC"
    assert types["gap"].layout == "NC" and types["gap"].shape == (1, 3)
    assert out.inputs[0].type.layout == "NCHW"
    assert next(n for n in out.nodes if n.name == "add").inputs[1].type.shape == (1, 1, 1, 4)


def test_canonical_layout_then_optimize_fuses_the_unwrapped_graph():
    g = nchw_graph()
    out = run_graph_phases(g)
    assert_same(g, out)
    assert ops(out) == ["transpose", "conv", "add", "conv", "add", "conv", "reduce_mean", "softmax"]
    assert [n.epilogue for n in out.nodes if n.op == "conv"] == [[("relu", {})], [("sigmoid", {})], []]
    assert [n.output.name for n in out.nodes[1:5]] == ["act", "add", "sigmoid", "residual"]


def test_canonical_layout_remaps_axis_attributes():
    g = Graph()
    x = g.add_input("x", (1, 2, 5, 5), layout="NCHW")
    a, b = nchw_conv(g, x, 2, 3, 1), nchw_conv(g, x, 2, 2, 2)
    cat = g.add_node("concatenate", [a, b], {"axis": 1})
    params = [g.constant(f"p{i}", np.full(5, 1.0 + i, np.float32)) for i in range(4)]
    bn = g.add_node("batch_norm", [cat.output] + params, {"axis": 1})
    padded = g.add_node("pad", [bn.output], {"pads": ((0, 0), (0, 0), (1, 2), (0, 1))})
    peak = g.add_node("reduce_max", [padded.output], {"axes": (2,), "keepdims": True}, name="peak")
    g.outputs = [nchw_conv(g, peak.output, 5, 2, 3)]
    out = apply(g, canonical_layout)
    assert_same(g, out)
    assert ops(out).count("transpose") == 2  # the NCHW input and output
    attrs = {n.op: n.attrs for n in out.nodes}
    assert attrs["concatenate"]["axis"] == 3 and attrs["batch_norm"]["axis"] == 3
    assert attrs["pad"]["pads"] == ((0, 0), (1, 2), (0, 1), (0, 0)) and attrs["reduce_max"]["axes"] == (1,)
    assert next(v for v in out.values() if v.name == "peak").type.layout == "NHWC"


def test_canonical_layout_keeps_transposes_it_cannot_cancel():
    g = Graph()
    x = g.add_input("x", (1, 4, 4, 2))
    y = g.add_node("transpose", [x], {"perm": NCHW}, name="to_nchw")
    flat = g.add_node("reshape", [y.output], {"shape": (-1,)}, name="flat")  # NCHW flatten order matters
    other = g.add_node("relu", [y.output], name="branch")  # a second reader: not sunk
    g.outputs = [flat.output, other.output]
    out = apply(g, canonical_layout)
    assert ops(out) == ["transpose", "reshape", "relu"]
    assert out.nodes[0].output.type.layout == "NCHW" and out.nodes[2].output.type.layout == "NCHW"
    assert out.nodes[1].output.type.layout == "NC"
    assert_same(g, out)


def test_canonical_layout_does_not_sink_into_mixed_binary():
    g = Graph()
    x = g.add_input("x", (1, 4, 4, 2))
    z = g.add_input("z", (1, 2, 4, 4), layout="NCHW")
    y = g.add_node("transpose", [x], {"perm": NCHW})
    g.outputs = [g.add_node("add", [y.output, z]).output]
    assert ops(apply(g, canonical_layout)) == ["transpose", "add"]


def test_canonical_layout_on_onnx_import(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    from edgekeras.frontend import from_onnx

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(size=s).astype(np.float32), n)
             for n, s in (("w1", (4, 3, 3, 3)), ("b1", (4,)), ("w2", (4, 4, 3, 3)))]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c2", "r1"], ["s"]),
        helper.make_node("GlobalAveragePool", ["s"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 1, 1])], inits)
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=9), path)
    g = from_onnx(path)
    before = ops(g).count("transpose")
    out = run_graph_phases(g)
    assert_same(g, out)
    assert ops(out).count("transpose") <= 2 < before  # at most the NCHW input and output remain
    assert all(n.output.type.layout == "NHWC" for n in out.nodes if n.op == "conv")


# ---- fold_batch_norm -----------------------------------------------------------------------------
@pytest.mark.parametrize("stack, shape", [
    ([layers.Conv2D(4, 3, strides=2), layers.BatchNormalization()], (7, 7, 3)),
    ([layers.Conv2D(4, 3, use_bias=False, padding="same"), layers.BatchNormalization()], (5, 5, 2)),
    ([layers.DepthwiseConv2D(3, depth_multiplier=2), layers.BatchNormalization()], (6, 6, 3)),
    ([layers.Dense(5), layers.BatchNormalization()], (4,)),
    ([layers.Conv1D(3, 2, use_bias=False), layers.BatchNormalization(epsilon=0.1)], (6, 2)),
])
def test_fold_batch_norm(stack, shape):
    g = traced(*stack, shape=shape)
    out = apply(g, fold_batch_norm)
    assert "batch_norm" not in ops(out) and len(out.nodes) == 1
    assert out.outputs[0].name == g.outputs[0].name == stack[1].name  # the BN layer's output name survives
    assert len(out.nodes[0].inputs) == 3
    assert_same(g, out)


def bn_after_conv(g, x, name):
    conv = g.add_node("conv", [x, const(g, "k", (1, 1, 2, 2), 3)], name=name)
    params = (("mean", 0.5), ("variance", 2.0), ("gamma", 3.0), ("beta", 1.0))
    vec = [g.constant(f"{name}/{p}", np.full(2, v, np.float32)) for p, v in params]
    return conv, g.add_node("batch_norm", [conv.output] + vec, {"axis": -1})


def test_fold_batch_norm_does_not_fire_on_multi_use_or_output_or_epilogue_or_other_axis():
    g = Graph()
    x = g.add_input("x", (1, 3, 3, 2))
    a, bn_a = bn_after_conv(g, x, "multi")
    extra = g.add_node("relu", [a.output])
    b, bn_b = bn_after_conv(g, x, "out")
    c, bn_c = bn_after_conv(g, x, "epi")
    c.epilogue.append(("relu", {}))
    d = g.add_node("conv", [x, const(g, "k2", (1, 1, 2, 3), 4)], name="wide")
    bn_d = g.add_node("batch_norm", [d.output] + [g.constant(f"p{i}", np.ones(3, np.float32)) for i in range(4)],
                      {"axis": 2})
    g.outputs = [bn_a.output, extra.output, bn_b.output, b.output, bn_c.output, bn_d.output]
    out = apply(g, fold_batch_norm)
    assert ops(out).count("batch_norm") == 4
    assert_same(g, out)


def test_fold_batch_norm_takes_the_exported_multiply_add_form():
    g = Graph()
    x = g.add_input("x", (1, 5, 5, 2))
    dw = g.add_node("depthwise_conv", [x, const(g, "k", (3, 3, 2, 2)), const(g, "b", (4,), 1)])
    mul = g.add_node("multiply", [const(g, "scale", (1, 1, 1, 4), 2), dw.output])
    add = g.add_node("add", [mul.output, const(g, "shift", (1, 1, 1, 4), 3)], name="bn_out")
    spatial = g.add_node("multiply", [g.add_node("conv", [x, const(g, "k2", (1, 1, 2, 2))]).output,
                                      const(g, "map", (5, 5, 1))])  # not per-channel: stays
    g.outputs = [add.output, spatial.output]
    out = apply(g, fold_batch_norm, fuse_bias)
    assert ops(out) == ["depthwise_conv", "conv", "multiply"] and out.outputs[0].name == "bn_out"
    assert_same(g, out)


def test_fold_batch_norm_never_modifies_a_shared_kernel():
    g = Graph()
    x = g.add_input("x", (1, 3, 3, 2))
    conv, bn = bn_after_conv(g, x, "c")
    twin = g.add_node("conv", [x, conv.inputs[1]], name="twin")
    g.outputs = [bn.output, twin.output]
    kernel = conv.inputs[1].data.copy()
    out = apply(g, fold_batch_norm)
    assert ops(out) == ["conv", "conv"]
    np.testing.assert_array_equal(out.nodes[1].inputs[1].data, kernel)
    assert out.nodes[0].inputs[1] is not out.nodes[1].inputs[1]
    assert_same(g, out)


# ---- fold_pad ------------------------------------------------------------------------------------
@pytest.mark.parametrize("pad, conv", [
    (layers.ZeroPadding2D(1), layers.Conv2D(3, 3)),
    (layers.ZeroPadding2D(((1, 0), (0, 2))), layers.Conv2D(3, 3, strides=2, padding="same")),
    (layers.ZeroPadding2D(2), layers.DepthwiseConv2D(3, dilation_rate=2)),
])
def test_fold_pad(pad, conv):
    g = traced(pad, conv, shape=(7, 6, 2))
    out = apply(g, fold_pad)
    assert ops(out) == [ops(g)[1]]
    assert isinstance(out.nodes[0].attrs["padding"], tuple)
    assert_same(g, out)


def test_fold_pad_does_not_fire():
    g = Graph()
    x = g.add_input("x", (1, 4, 4, 2))
    k = const(g, "k", (3, 3, 2, 2))
    spatial = ((0, 0), (1, 1), (1, 1), (0, 0))
    nonzero = g.add_node("pad", [x], {"pads": spatial, "value": 1.0})
    channel = g.add_node("pad", [x], {"pads": ((0, 0), (1, 1), (1, 1), (0, 1))})
    shared = g.add_node("pad", [x], {"pads": spatial})
    pooled = g.add_node("pad", [x], {"pads": spatial})
    outs = [g.add_node("conv", [nonzero.output, k]), g.add_node("conv", [channel.output, const(g, "k3", (3, 3, 3, 2))]),
            g.add_node("conv", [shared.output, k]), g.add_node("relu", [shared.output]),
            g.add_node("max_pool", [pooled.output], {"pool_size": 2})]
    g.outputs = [n.output for n in outs]
    out = apply(g, fold_pad)
    assert ops(out).count("pad") == 4
    assert_same(g, out)


# ---- fuse_bias -----------------------------------------------------------------------------------
@pytest.mark.parametrize("op, kernel, bias_shape, swap", [
    ("conv", (3, 3, 2, 4), (4,), False),
    ("conv", (3, 3, 2, 4), (1, 1, 1, 4), True),
    ("depthwise_conv", (3, 3, 2, 2), (), False),
    ("dense", (2, 4), (1, 4), False),
])
def test_fuse_bias(op, kernel, bias_shape, swap):
    g = Graph()
    x = g.add_input("x", (1, 5, 5, 2) if op != "dense" else (1, 2))
    node = g.add_node(op, [x, const(g, "k", kernel)])
    c = const(g, "c", bias_shape, 1)
    add = g.add_node("add", [c, node.output] if swap else [node.output, c], name="biased")
    g.outputs = [add.output]
    out = apply(g, fuse_bias)
    assert ops(out) == [op] and out.nodes[0].inputs[2].type.shape == (node.output.type.shape[-1],)
    assert out.outputs[0].name == "biased"
    assert_same(g, out)


def test_fuse_bias_adds_to_an_existing_bias():
    g = traced(layers.Dense(3), shape=(2,))
    add = g.add_node("add", [g.outputs[0], const(g, "c", (3,))])
    g.outputs = [add.output]
    out = apply(g, fuse_bias)
    assert ops(out) == ["dense"]
    assert_same(g, out)


def test_fuse_bias_does_not_fire():
    g = Graph()
    x = g.add_input("x", (1, 4, 4, 2))
    k = const(g, "k", (1, 1, 2, 2))
    spatial = g.add_node("add", [g.add_node("conv", [x, k]).output, const(g, "hw", (4, 4, 2))])
    tensor = g.add_node("add", [g.add_node("conv", [x, k]).output, x])
    used = g.add_node("conv", [x, k])
    twice = g.add_node("add", [used.output, const(g, "c", (2,))])
    g.outputs = [spatial.output, tensor.output, twice.output, used.output]
    out = apply(g, fuse_bias)
    assert ops(out).count("add") == 3
    assert_same(g, out)


# ---- fuse_activation -----------------------------------------------------------------------------
def test_fuse_activation_into_conv_dense_and_add():
    inp = keras.Input((6, 6, 2))
    a = layers.Conv2D(2, 3, padding="same", activation="relu")(inp)
    b = layers.ReLU(max_value=6.0)(layers.Add()([a, inp]))
    c = layers.Activation("hard_swish")(layers.DepthwiseConv2D(3)(b))
    d = layers.Dense(3, activation="sigmoid")(layers.Flatten()(c))
    model = randomized(keras.Model(inp, d))
    g = from_keras_model(model)
    out = apply(g, fuse_activation)
    assert ops(out) == ["conv", "add", "depthwise_conv", "reshape", "dense"]
    epilogues = [n.epilogue for n in out.nodes]
    assert epilogues[0] == [("relu", {"negative_slope": 0.0, "max_value": None, "threshold": 0.0})]
    assert epilogues[1][0][0] == "relu" and epilogues[1][0][1]["max_value"] == 6.0
    assert epilogues[2] == [("hard_swish", {})] and epilogues[4] == [("sigmoid", {})]
    removed = {n.output.name for n in g.nodes if n.op in ("relu", "hard_swish", "sigmoid")}
    assert removed <= {n.output.name for n in out.nodes}  # fused nodes carry the activations' names
    assert_same(g, out)


def test_fuse_activation_chains_unary_ops():
    g = traced(layers.Dense(3), layers.Activation("tanh"), layers.Activation("elu"), shape=(2,))
    out = apply(g, fuse_activation)
    assert ops(out) == ["dense"] and [op for op, _ in out.nodes[0].epilogue] == ["tanh", "elu"]
    assert_same(g, out)


def test_fuse_activation_does_not_fire():
    g = Graph()
    x = g.add_input("x", (1, 4, 4, 2))
    k = const(g, "k", (1, 1, 2, 2))
    soft = g.add_node("softmax", [g.add_node("conv", [x, k]).output])
    shared = g.add_node("conv", [x, k])
    twice = [g.add_node("relu", [shared.output]), g.add_node("sigmoid", [shared.output])]
    exposed = g.add_node("conv", [x, k])
    late = g.add_node("relu", [exposed.output])
    pooled = g.add_node("relu", [g.add_node("max_pool", [x], {"pool_size": 2}).output])
    g.outputs = [soft.output, exposed.output, late.output, pooled.output] + [n.output for n in twice]
    out = apply(g, fuse_activation)
    assert ops(out) == ops(g) and not any(n.epilogue for n in out.nodes)


# ---- dead_code -----------------------------------------------------------------------------------
def test_dead_code_removes_unread_chains_only():
    g = Graph()
    x = g.add_input("x", (1, 3))
    live = g.add_node("relu", [x])
    dead = g.add_node("sigmoid", [g.add_node("tanh", [x]).output])
    g.outputs = [live.output]
    assert dead in g.nodes
    out = apply(g, dead_code)
    assert ops(out) == ["relu"]
    assert_same(g, out)


# ---- pipeline ------------------------------------------------------------------------------------
def test_phases_and_check_phase():
    assert PHASES == ("import", "optimize", "quantize", "lower", "emit")
    assert check_phase("lower") == "lower"
    with pytest.raises(ValueError, match="Unknown phase 'fold'; valid phases: import, optimize, quantize, lower, emit"):
        check_phase("fold")
    with pytest.raises(ValueError, match="valid phases"):
        run_graph_phases(Graph(), stop_after="nope")


def test_run_graph_phases_copies_stops_and_reports_each_phase():
    g = traced(layers.Conv2D(2, 3), layers.BatchNormalization(), layers.ReLU(), layers.Dropout(0.1), shape=(5, 5, 1))
    text = str(g)
    seen = []
    first = run_graph_phases(g, stop_after="import", on_phase=lambda name, graph: seen.append((name, str(graph))))
    assert seen == [("import", text)] and str(first) == text and first is not g
    seen.clear()
    out = run_graph_phases(g, stop_after="emit", on_phase=lambda name, graph: seen.append(name))
    assert seen == ["import", "optimize"] and str(g) == text
    assert ops(out) == ["conv"] and out.nodes[0].epilogue[0][0] == "relu"
    assert_same(g, out)


def test_broken_pass_is_named(monkeypatch):
    def breaks(graph):
        graph.nodes.reverse()
        return graph

    monkeypatch.setitem(GRAPH_PHASES, "optimize", [breaks])
    g = traced(layers.Dense(2), layers.ReLU(), shape=(3,))
    with pytest.raises(IRError, match="after pass breaks \\(optimize phase\\): node"):
        run_graph_phases(g)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    depthwise=st.booleans(), kernel=st.integers(1, 3), strides=st.integers(1, 2),
    padding=st.sampled_from(["valid", "same"]), use_bias=st.booleans(), zero_pad=st.integers(0, 1),
    act=st.sampled_from(["relu", "relu6", "leaky", "swish", "tanh"]), seed=st.integers(0, 2**16),
)
def test_random_conv_bn_relu_chains_keep_numerics(depthwise, kernel, strides, padding, use_bias, zero_pad, act, seed):
    window = dict(strides=strides, padding=padding, use_bias=use_bias)
    if depthwise:
        conv = layers.DepthwiseConv2D(kernel, depth_multiplier=2, **window)
    else:
        conv = layers.Conv2D(3, kernel, **window)
    activation = {"relu": layers.ReLU(), "relu6": layers.ReLU(6.0), "leaky": layers.LeakyReLU(0.2),
                  "swish": layers.Activation("swish"), "tanh": layers.Activation("tanh")}[act]
    stack = ([layers.ZeroPadding2D(zero_pad)] if zero_pad else []) + [conv, layers.BatchNormalization(), activation]
    g = traced(*stack, shape=(6, 5, 2), seed=seed)
    out = run_graph_phases(g)
    assert len(out.nodes) == 1 and out.nodes[0].epilogue
    assert_same(g, out, seed=seed)
