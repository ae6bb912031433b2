"""Default CPU schedules: each kind of reduction kernel (conv2d, depthwise, dense, pooling; float and
int8) gets the register-blocked, vectorized schedule with no workspace, its results stay exact on
shapes that do not fit the vector width or the pixel tile, and anything else keeps the generic
schedule."""

import re

import numpy as np
import pytest
import tvm

from edgekeras.codegen.artifact import write_artifact
from int8_graph_parts import int8_weights
from int8_graph_parts import mac_params as shared_mac_params
from edgekeras.codegen.build import build_model
from edgekeras.codegen.schedules import ScheduleOptions, cpu, cpu_vector, generic
from edgekeras.ir import interpreter
from edgekeras.ir.graph import Graph
from edgekeras.runtime import load
from edgekeras.targets import ToolMissingError, get_target

RNG = np.random.default_rng(7)
SHAPE = (1, 11, 13, 6)  # odd height and width, channels not a multiple of any vector width


def _float(g, name, shape):
    return g.constant(name, (RNG.standard_normal(shape) * 0.5).astype("float32"))


def _float_graph():
    g = Graph("cpu_float")
    x = g.add_input("x", SHAPE)
    g.outputs = [g.add_node(op, [x, *inputs], attrs).output for op, inputs, attrs in [
        ("conv", [_float(g, "k", (3, 3, 6, 12)), _float(g, "b", (12,))], {"strides": 2, "padding": "same"}),
        ("conv", [_float(g, "k1", (1, 1, 6, 24))], {"padding": "valid"}),
        ("conv", [_float(g, "k5", (5, 2, 6, 10))], {"padding": "valid"}),
        ("depthwise_conv", [_float(g, "dk", (3, 3, 6, 2)), _float(g, "db", (12,))], {"padding": "same"}),
        ("depthwise_conv", [_float(g, "dk2", (3, 3, 6, 1))], {"strides": 2, "padding": "valid"}),
        ("dense", [_float(g, "fk", (6, 37)), _float(g, "fb", (37,))], {}),
        ("max_pool", [], {"pool_size": 3, "strides": 2, "padding": "same"}),
        ("avg_pool", [], {"pool_size": 2, "padding": "valid"}),
        ("reduce_mean", [], {"axes": (1, 2)}),
    ]]
    return g


def _int8_graph():
    g = Graph("cpu_int8")
    x = g.add_input("x", SHAPE)
    xq = g.add_node("quantize", [x], {"scale": 0.02, "zero_point": -5}).output

    def i8(name, shape):  # -128 included: the int16 products of the AVX2 dot product must stay exact
        return int8_weights(g, RNG, name, shape, low=-128)

    def mac_params(name, channels):
        return shared_mac_params(g, RNG, name, channels)

    q = dict(input_zero_point=-5, output_zero_point=3, act_min=-128, act_max=127)
    flat = g.add_node("reshape", [xq], {"shape": (-1,)}).output
    g.outputs = [g.add_node(op, inputs, attrs).output for op, inputs, attrs in [
        ("qconv", [xq, i8("k", (3, 3, 6, 12)), *mac_params("c", 12)], dict(q, strides=2, padding="same")),
        ("qconv", [xq, i8("k1", (1, 1, 6, 16)), *mac_params("c1", 16)], dict(q, act_min=0)),
        ("qdepthwise_conv", [xq, i8("dk", (3, 3, 6, 2)), *mac_params("d", 12)], dict(q, padding="same")),
        ("qdense", [flat, i8("fk", (int(np.prod(SHAPE)), 24)), *mac_params("f", 24)], q),
        ("max_pool", [xq], {"pool_size": 2}),
    ]]
    return g


def _inputs(batch=2):
    x = (RNG.standard_normal((batch,) + SHAPE[1:]) * 1.5).astype(np.float32)
    x[0, 0, 0, :2] = [100.0, -100.0]  # saturates the int8 input quantization both ways
    return x


def _build(graph, target, folder, options=ScheduleOptions()):
    compiled = build_model(graph, get_target(target), "test", options)
    write_artifact(compiled, folder, "0" * 64)
    return compiled


def _reduction_kernels(compiled):
    """The scheduled kernels that reduce (a block with a reduction iterator), not the elementwise ones."""
    reduces = re.compile(r'T\.axis\.reduce|T\.axis\.remap\("[SR]*R')
    return [(symbol, func, ws) for symbol, func, ws in compiled.kernels.funcs if reduces.search(func.script())]


def test_vector_width_comes_from_the_target():
    assert cpu_vector.vector_bits(get_target("x86_64").tvm) == 256
    assert cpu_vector.vector_bits(get_target("aarch64").tvm) == 128
    assert cpu_vector.vector_bits(get_target("armv7").tvm) == 128
    assert cpu_vector.vector_bits({"kind": "llvm", "mtriple": "x86_64-linux-gnu"}) == 128
    assert cpu_vector.vector_bits({"kind": "llvm", "mcpu": "x86-64-v4"}) == 512
    assert cpu_vector.lanes(get_target("x86_64").tvm, 32) == 8


@pytest.mark.parametrize("graph", [_float_graph, _int8_graph])
def test_every_reduction_kernel_is_vectorized_without_workspace(graph, tmp_path):
    kernels = _reduction_kernels(_build(graph(), "x86_64", tmp_path))
    assert len(kernels) == len(graph().outputs)  # one per output op: each is a reduction
    for symbol, func, workspace in kernels:
        text = func.script()
        assert "T.vectorized(" in text, symbol
        assert "T.parallel(" not in text, symbol
        assert workspace == 0, f"{symbol} still asks for {workspace} B of workspace"


def test_float_kernels_match_the_reference(tmp_path):
    graph = _float_graph()
    _build(graph, "x86_64", tmp_path)
    x = _inputs()
    expected = interpreter.run(graph, [x])
    for value, got in zip(graph.outputs, load(tmp_path).predict(x)):
        np.testing.assert_allclose(got, expected[value.name], atol=1e-5, rtol=1e-5, err_msg=value.producer.op)


@pytest.mark.parametrize("target", ["x86_64", "aarch64", "armv7"])
def test_int8_kernels_are_bit_exact(target, tmp_path):
    try:
        get_target(target).require_tools()
    except ToolMissingError as err:
        pytest.skip(str(err))
    graph = _int8_graph()
    _build(graph, target, tmp_path)
    x = _inputs()
    expected = interpreter.run(graph, [x])
    for value, got in zip(graph.outputs, load(tmp_path).predict(x)):
        want = expected[value.name]
        assert np.array_equal(got.reshape(want.shape), want), f"{value.producer.op}: {np.sum(got != want)} differ"


@pytest.mark.parametrize("graph", [_float_graph, _int8_graph])
def test_parallel_kernels_give_the_same_results(graph, tmp_path):
    graph = graph()
    compiled = _build(graph, "x86_64", tmp_path, ScheduleOptions(threads=2))
    assert all("T.parallel(" in func.script() for _, func, _ in _reduction_kernels(compiled))
    x = _inputs()
    expected = interpreter.run(graph, [x])
    for value, got in zip(graph.outputs, load(tmp_path).predict(x)):
        want = expected[value.name]
        if want.dtype == np.int8:
            assert np.array_equal(got.reshape(want.shape), want), value.producer.op
        else:
            np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5, err_msg=value.producer.op)


def test_int8_channel_pairs_use_the_avx2_dot_product_on_x86_only(tmp_path):
    dot = "llvm.x86.avx2.pmadd.wd"
    x86_kernels = _reduction_kernels(_build(_int8_graph(), "x86_64", tmp_path))
    x86 = {symbol: dot in func.script() for symbol, func, _ in x86_kernels}
    # 8-lane output tiles with an even number of input channels: the 1x1 conv (16 outputs) and the
    # dense (24); not the 3x3 conv (12 outputs: 4-lane tiles), the depthwise conv or the pooling
    assert sum(x86.values()) == 2, x86
    arm = build_model(_int8_graph(), get_target("aarch64"), "test")
    assert not any(dot in func.script() for _, func, _ in arm.kernels.funcs)


def _lowered_kernels(graph, monkeypatch):
    """The kernels of `graph` as lowering hands them to the schedule seam."""
    from edgekeras.codegen import kernels

    seen = []
    monkeypatch.setattr(kernels, "schedule_kernel", lambda func, target, options: seen.append(func) or func)
    build_model(graph, get_target("x86_64"), "test")
    return seen


def test_threads_mark_the_outer_loop_parallel_and_only_then(monkeypatch):
    conv = next(f for f in _lowered_kernels(_float_graph(), monkeypatch) if "conv2d_nhwc" in f.script())
    target = get_target("x86_64")
    for threads, parallel in ((4, True), (1, False)):
        scheduled = cpu.schedule(conv, target, ScheduleOptions(threads=threads))
        assert ("T.parallel(" in scheduled.script()) == parallel
        with tvm.transform.PassContext(opt_level=3, config={"tirx.disable_assert": True}):
            built = tvm.tirx.build(scheduled.with_attr("global_symbol", "conv"), target=target.tvm_target())
        assert ("TVMBackendParallelLaunch" in built.inspect_source("asm")) == parallel


def test_kernels_without_one_reduction_keep_the_generic_schedule(monkeypatch):
    g = Graph("softmax")
    x = g.add_input("x", (1, 12))
    g.outputs = [g.add_node("softmax", [x], {"axis": -1}).output]
    (func,) = _lowered_kernels(g, monkeypatch)
    scheduled = cpu.schedule(func, get_target("x86_64"), ScheduleOptions())
    assert scheduled.script() == generic.schedule(func).script()
