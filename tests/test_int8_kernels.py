"""The int8 arithmetic and kernels: the NumPy integer reference follows TFLite's formulas, the Relax
lowering uses an equivalent shift form, and every int8 op compiled for x86-64, AArch64 and ARMv7
(the ARM ones under QEMU) gives exactly the reference's integers."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgekeras.codegen.artifact import write_artifact
from int8_graph_parts import int8_weights
from int8_graph_parts import mac_params as shared_mac_params
from edgekeras.codegen.build import build_model
from edgekeras.ir import interpreter
from edgekeras.ir.graph import Graph
from edgekeras.quantize import arith
from edgekeras.runtime import load
from edgekeras.targets import ToolMissingError, get_target

INT32 = st.integers(-(2**31), 2**31 - 1)


@settings(max_examples=300, deadline=None)
@given(INT32, st.integers(1 << 30, (1 << 31) - 1))
def test_doubling_high_mul_equals_the_shift_form_the_kernels_use(a, b):
    """TFLite's nudge + truncating division == (a*b + 2^30) >> 31 (what the Relax lowering emits)."""
    assert int(arith.saturating_rounding_doubling_high_mul(a, b)) == (a * b + (1 << 30)) >> 31


@settings(max_examples=300, deadline=None)
@given(st.integers(-(2**31), 2**31 - 1), st.integers(0, 31))
def test_rounding_divide_by_pot_rounds_half_away_from_zero(x, exponent):
    exact = x / 2**exponent
    expected = int(np.sign(exact) * np.floor(abs(exact) + 0.5))
    assert int(arith.rounding_divide_by_pot(x, exponent)) == expected


@settings(max_examples=200, deadline=None)
@given(st.floats(1e-6, 60.0))
def test_quantize_multiplier_represents_the_real_multiplier(real):
    multiplier, shift = arith.quantize_multiplier(real)
    assert (1 << 30) <= multiplier < (1 << 31)
    assert abs(multiplier * 2.0 ** (shift - 31) - real) <= real * 2.0**-30


def test_requantization_is_within_one_step_of_exact_rounding():
    rng = np.random.default_rng(0)
    acc = rng.integers(-(2**20), 2**20, 10_000)
    real = 0.0007312
    multiplier, shift = arith.quantize_multiplier(real)
    got = arith.multiply_by_quantized_multiplier(acc, multiplier, shift)
    assert np.abs(got - acc * real).max() <= 1.0


def test_activation_params_hold_zero_exactly():
    for lo, hi in [(-1.0, 3.0), (0.0, 6.0), (0.5, 2.0), (-4.0, -1.0)]:
        scale, zero_point = arith.activation_params(lo, hi)
        assert arith.QMIN <= zero_point <= arith.QMAX
        assert arith.dequantize_int8(arith.quantize_float(0.0, scale, zero_point), scale, zero_point) == 0.0


def test_weights_are_symmetric_per_channel():
    w = np.array([[0.5, -2.0], [-0.25, 1.0]], np.float32)
    scales = arith.weight_scales(w, axis=-1)
    np.testing.assert_allclose(scales, [0.5 / 127, 2.0 / 127], rtol=1e-6)
    q = arith.quantize_weights(w, scales, axis=-1)
    assert q[0, 0] == 127 and q[0, 1] == -127 and q.dtype == np.int8


def test_softmax_table_output_sums_to_about_one():
    x = np.array([[10, -20, 5, 127, -128]], np.int8)
    q = arith.softmax_from_table(x, arith.softmax_table(0.05))
    probs = arith.dequantize_int8(q, arith.SOFTMAX_SCALE, arith.SOFTMAX_ZERO_POINT)
    e = np.exp(0.05 * (x.astype(np.float64) - x.max()))
    reference = e / e.sum()
    assert abs(probs.sum() - 1.0) < 0.02 and np.abs(probs - reference).max() <= 1 / 256


# ---- every int8 op, compiled ----------------------------------------------------------------------
RNG = np.random.default_rng(0)


def _int8_zoo():
    """One float input quantized once, feeding every int8 op (per-channel and per-tensor cases,
    padding, clamps, rescaling), each a graph output."""
    g = Graph("int8_ops")
    x = g.add_input("x", (1, 6, 6, 4))
    xq = g.add_node("quantize", [x], {"scale": 0.02, "zero_point": -5}).output
    outs = []

    def op(name, inputs, **attrs):
        outs.append(g.add_node(name, inputs, attrs).output)

    def i8(name, shape):
        return int8_weights(g, RNG, name, shape)

    def mac_params(name, channels):
        return shared_mac_params(g, RNG, name, channels)

    q = dict(input_zero_point=-5, output_zero_point=3, act_min=-128, act_max=127)
    op("qconv", [xq, i8("k", (3, 3, 4, 5)), *mac_params("c", 5)], strides=2, padding="same", **q)
    op("qconv", [xq, i8("k2", (2, 2, 4, 6)), *mac_params("c2", 6)], padding="valid", **dict(q, act_min=3, act_max=90))
    op("qconv", [xq, i8("k3", (1, 1, 2, 4)), *mac_params("c3", 4)], groups=2, **q)
    op("qdepthwise_conv", [xq, i8("dk", (3, 3, 4, 2)), *mac_params("d", 8)], padding="same", **q)
    flat = g.add_node("reshape", [xq], {"shape": (1, 144)}).output
    op("qdense", [flat, i8("fk", (144, 7)), *mac_params("f", 7)], **q)
    for multiplier, shift in [(1518500250, 1), (1518500250, -3)]:
        op("requantize", [xq], multiplier=multiplier, shift=shift, input_zero_point=-5, output_zero_point=7)
    (ma, ea), (mb, eb) = arith.quantize_multiplier(0.4), arith.quantize_multiplier(0.5)
    mo, eo = arith.quantize_multiplier(2 * 0.5 / (2**20 * 0.7))
    op("qadd", [xq, xq], a_zero_point=-5, b_zero_point=-5, a_multiplier=ma, a_shift=ea, b_multiplier=mb, b_shift=eb,
       output_zero_point=-2, output_multiplier=mo, output_shift=eo, act_min=-2)
    op("qavg_pool", [xq], pool_size=(2, 3), strides=1, padding="same")
    op("qavg_pool", [xq], pool_size=2, padding="valid")
    mm, em = arith.quantize_multiplier(0.02 / (0.01 * 36))
    op("qmean", [xq], axes=(1, 2), input_zero_point=-5, output_zero_point=1, multiplier=mm, shift=em)
    op("qsoftmax", [xq, g.constant("exp", arith.softmax_table(0.02))], axis=-1)
    op("qlut", [xq, g.constant("lut", arith.lookup_table(np.tanh, 0.02, -5, 1 / 128, 0))])
    op("max_pool", [xq], pool_size=2)
    op("pad", [xq], pads=((0, 0), (1, 1), (0, 1), (0, 0)), value=-5.0)
    op("concatenate", [xq, xq], axis=-1)
    op("dequantize", [xq], scale=0.02, zero_point=-5)
    g.outputs = outs
    return g


@pytest.fixture(scope="module")
def int8_zoo():
    return _int8_zoo()


def test_the_kernel_check_covers_every_int8_op(int8_zoo):
    from edgekeras.ops.registry import all_ops

    compiler_only = {name for name, op in all_ops().items() if getattr(op.jax, "compiler_only", False)}
    assert compiler_only and compiler_only <= {n.op for n in int8_zoo.nodes}


@pytest.mark.parametrize("target", ["x86_64", "aarch64", "armv7"])
def test_every_int8_op_is_bit_exact_with_the_integer_reference(int8_zoo, target, tmp_path):
    try:
        get_target(target).require_tools()
    except ToolMissingError as err:
        pytest.skip(str(err))
    write_artifact(build_model(int8_zoo, get_target(target), "test"), tmp_path, "0" * 64)
    x = (RNG.standard_normal((4, 1, 6, 6, 4)) * 1.5).astype(np.float32).reshape(4, 6, 6, 4)
    x[0, 0, 0] = [100.0, -100.0, 0.0, 2.54]  # saturates the input quantization both ways
    got = load(tmp_path).predict(x)
    want = interpreter.run(int8_zoo, [x])
    for value, actual in zip(int8_zoo.outputs, got):
        expected = want[value.name]
        assert actual.dtype == expected.dtype, value.producer.op
        assert np.array_equal(actual.reshape(expected.shape), expected), f"{value.producer.op} ({value.name})"
