"""Every registered op: JAX implementation vs NumPy reference, and shape rule vs actual output."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgekeras import ops
from edgekeras.backend.symbolic import KerasTensor
from edgekeras.ops.registry import OpRecorder, TensorSpec, all_ops, get

RNG = np.random.default_rng(1234)


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def positive(*shape):
    return RNG.uniform(0.5, 2.0, shape).astype(np.float32)


def case(op, inputs, batched=1, **attrs):
    """`batched`: how many leading inputs carry the batch axis (made None in the shape-rule test)."""
    return pytest.param(op, inputs, batched, attrs, id=f"{op}-{len(CASES)}")


CASES = []
CASES += [case(name, [f32(2, 3, 5)]) for name in
          ("sigmoid", "tanh", "elu", "gelu", "hard_sigmoid", "swish", "hard_swish", "softmax")]
CASES += [
    case("relu", [f32(2, 3, 5)]),
    case("relu", [f32(2, 7)], negative_slope=0.1, max_value=0.8, threshold=0.2),
    case("gelu", [f32(4, 6)], approximate=True),
    case("elu", [f32(4, 6)], alpha=0.5),
    case("softmax", [f32(2, 3, 5)], axis=1),
    case("dense", [f32(2, 3, 5), f32(5, 4), f32(4)]),
    case("dense", [f32(6, 5), f32(5, 4)]),
    case("add", [f32(2, 3, 4), f32(2, 3, 4)], batched=2),
    case("subtract", [f32(2, 3, 4), f32(4)]),
    case("multiply", [f32(2, 3, 4), f32(2, 1, 4)], batched=2),
    case("maximum", [f32(2, 3, 4), f32(2, 3, 1)], batched=2),
    case("minimum", [f32(2, 3, 4), f32(3, 4)]),
    case("reshape", [f32(2, 3, 4)], shape=(4, -1)),
    case("identity", [f32(2, 3, 4)]),
    case("transpose", [f32(2, 3, 4)], perm=(0, 2, 1)),
    case("pad", [f32(2, 3, 4, 2)], pads=((0, 0), (1, 2), (0, 3), (0, 0))),
    case("concatenate", [f32(2, 3, 4), f32(2, 3, 1), f32(2, 3, 2)], batched=3, axis=-1),
    case("concatenate", [f32(2, 3, 4), f32(2, 5, 4)], batched=2, axis=1),
    case("cast", [f32(2, 6) * 4], dtype="int32"),
    case("cast", [RNG.integers(0, 255, (2, 6)).astype(np.uint8)], dtype="float32"),
    case("fake_quant", [f32(2, 3, 5)], lo=-1.0, hi=2.0),
    case("embedding", [RNG.integers(0, 10, (2, 5)).astype(np.int32), f32(10, 4)]),
    case("reduce_mean", [f32(2, 5, 6, 3)], axes=(1, 2)),
    case("reduce_mean", [f32(2, 5, 3)], axes=(1,), keepdims=True),
    case("reduce_max", [f32(2, 5, 6, 3)], axes=(1, 2), keepdims=True),
    case("reduce_max", [f32(2, 5, 3)], axes=-2),
    case("batch_norm", [f32(2, 5, 4), f32(4), positive(4), f32(4), f32(4)], epsilon=1e-3),
    case("batch_norm", [f32(2, 5, 4), f32(5), positive(5), f32(5), f32(5)], axis=1, epsilon=0.1),
    case("layer_norm", [f32(2, 5, 4), f32(4), f32(4)], axes=(-1,), epsilon=1e-3),
    case("layer_norm", [f32(2, 5, 4, 3), f32(5, 4), f32(5, 4)], axes=(1, 2), epsilon=1e-5),
    case("upsample", [f32(2, 3, 4, 2)], scale=(2, 3)),
    case("upsample", [f32(2, 3, 4, 2)], scale=(2, 3), method="bilinear"),
    case("upsample", [f32(1, 5, 1, 3)], scale=(3, 2), method="bilinear"),
    # conv: strides, same padding on odd sizes, dilation, groups, explicit (causal) pads, 1-D.
    case("conv", [f32(2, 7, 9, 4), f32(3, 3, 4, 6), f32(6)]),
    case("conv", [f32(2, 7, 9, 4), f32(3, 3, 4, 6)], strides=2, padding="same"),
    case("conv", [f32(2, 8, 9, 4), f32(3, 2, 4, 5)], strides=(2, 3), padding="same"),
    case("conv", [f32(2, 9, 9, 4), f32(3, 3, 4, 6), f32(6)], dilation=(2, 3), padding="same"),
    case("conv", [f32(2, 7, 9, 4), f32(3, 3, 2, 6)], groups=2, padding="same"),
    case("conv", [f32(2, 6, 6, 4), f32(1, 1, 4, 3)], strides=2),
    case("conv", [f32(2, 6, 5, 4), f32(3, 3, 4, 3)], padding=((1, 0), (2, 1))),
    case("conv", [f32(2, 11, 3), f32(5, 3, 4), f32(4)], dilation=2, padding=((8, 0),)),
    case("conv", [f32(2, 11, 3), f32(4, 3, 4)], strides=3, padding="same"),
    case("depthwise_conv", [f32(2, 8, 7, 3), f32(3, 3, 3, 2), f32(6)], strides=2, padding="same"),
    case("depthwise_conv", [f32(2, 9, 9, 3), f32(3, 3, 3, 1)], dilation=2),
    case("depthwise_conv", [f32(2, 10, 4), f32(5, 4, 3)], padding="same"),
    case("conv_transpose", [f32(2, 5, 6, 4), f32(3, 3, 5, 4), f32(5)], strides=2, padding="same"),
    case("conv_transpose", [f32(2, 5, 6, 4), f32(3, 3, 5, 4)], strides=2),
    case("conv_transpose", [f32(2, 5, 6, 4), f32(4, 4, 3, 4)], strides=2, padding="same"),
    case("conv_transpose", [f32(2, 5, 6, 4), f32(3, 3, 3, 4)], strides=(2, 3), padding="same", output_padding=(1, 0)),
    case("conv_transpose", [f32(2, 5, 6, 4), f32(3, 2, 3, 4)], strides=(3, 2), output_padding=(2, 1)),
    case("conv_transpose", [f32(2, 5, 6, 4), f32(3, 3, 3, 4)], dilation=2, padding="same"),
    case("conv_transpose", [f32(2, 7, 3), f32(4, 2, 3)], strides=3),
    case("max_pool", [f32(2, 7, 9, 3)], pool_size=2),
    case("max_pool", [f32(2, 7, 9, 3)], pool_size=3, strides=2, padding="same"),
    case("max_pool", [f32(2, 9, 3)], pool_size=4, strides=1, padding="same"),
    case("avg_pool", [f32(2, 7, 9, 3)], pool_size=(2, 3)),
    case("avg_pool", [f32(2, 7, 9, 3)], pool_size=3, strides=2, padding="same"),
    case("avg_pool", [f32(2, 7, 8, 3)], pool_size=(2, 3), strides=(1, 2), padding="same"),
    case("avg_pool", [f32(2, 10, 3)], pool_size=3, padding="same"),
]


@pytest.mark.parametrize("name,inputs,batched,attrs", CASES)
def test_jax_matches_numpy_reference(name, inputs, batched, attrs):
    op = get(name)
    want = op.numpy(*inputs, **attrs)
    got = np.asarray(op(*inputs, **attrs))
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name,inputs,batched,attrs", CASES)
def test_jax_gradients_match_reference_finite_differences(name, inputs, batched, attrs):
    """The trainer differentiates the JAX forms: check d<w, op(x)>/dx along a random direction."""
    op = get(name)
    floats = tuple(i for i, x in enumerate(inputs) if x.dtype == np.float32)
    if name == "cast" or not floats:
        pytest.skip("no differentiable input")
    if name == "fake_quant":
        pytest.skip("a straight-through estimator by design (tests/test_qat.py checks it)")
    rng = np.random.default_rng(7)
    w = rng.standard_normal(op.numpy(*inputs, **attrs).shape)
    grads = jax.jit(jax.grad(lambda *xs: jnp.sum(op(*xs, **attrs) * w), argnums=floats))(*inputs)
    wide = [x.astype(np.float64) if i in floats else x for i, x in enumerate(inputs)]
    for i, g in zip(floats, grads):
        v, eps = rng.standard_normal(inputs[i].shape), 1e-5
        shifted = [[x + s * eps * v if j == i else x for j, x in enumerate(wide)] for s in (1, -1)]
        plus, minus = (np.sum(op.numpy(*xs, **attrs) * w) for xs in shifted)
        np.testing.assert_allclose(np.sum(np.asarray(g) * v), (plus - minus) / (2 * eps), rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("name,inputs,batched,attrs", CASES)
def test_shape_rule_matches_output(name, inputs, batched, attrs):
    op = get(name)
    got = np.asarray(op(*inputs, **attrs))
    spec = op.infer([TensorSpec(x.shape, x.dtype.name) for x in inputs], **attrs)
    assert spec == TensorSpec(got.shape, got.dtype.name)
    symbolic = [KerasTensor((None,) + x.shape[1:], x.dtype.name) for x in inputs[:batched]]
    out = op(*symbolic, *inputs[batched:], **attrs)
    assert out.shape == (None,) + got.shape[1:] and out.dtype == got.dtype.name


def test_every_registered_op_has_a_case():
    """int8 compiler ops have no JAX form; tests/test_int8_kernels.py holds them to their kernels."""
    covered = {p.values[0] for p in CASES}
    trained = {name for name, op in all_ops().items() if not getattr(op.jax, "compiler_only", False)}
    assert trained <= covered, f"ops without a test case: {sorted(trained - covered)}"


@pytest.mark.parametrize("name,attrs", [
    ("conv", dict(strides=2, padding="same")),
    ("depthwise_conv", dict(dilation=2, padding="same")),
    ("conv_transpose", dict(strides=2, padding="same")),
    ("max_pool", dict(pool_size=2)),
    ("avg_pool", dict(pool_size=3, strides=2, padding="same")),
    ("upsample", dict(scale=2)),
])
def test_unknown_spatial_dims_stay_unknown(name, attrs):
    x = KerasTensor((None, None, None, 4))
    weights = {"conv": [f32(3, 3, 4, 6)], "depthwise_conv": [f32(3, 3, 4, 2)], "conv_transpose": [f32(3, 3, 6, 4)]}
    out = get(name)(x, *weights.get(name, []), **attrs)
    assert out.shape[:3] == (None, None, None) and out.shape[3] in (4, 6, 8)


@given(size=st.integers(1, 12), kernel=st.integers(1, 4), stride=st.integers(1, 3), dilation=st.integers(1, 3),
       padding=st.sampled_from(["valid", "same"]),
       name=st.sampled_from(["conv", "depthwise_conv", "max_pool", "avg_pool"]))
@settings(max_examples=40, deadline=None)
def test_window_geometry_property(size, kernel, stride, dilation, padding, name):
    """Random sizes/strides/dilations: reference, JAX and shape rule agree (or all reject the window)."""
    pool = name.endswith("pool")
    if pool:
        dilation = 1
    x = f32(1, size, size + 1, 2)
    weights = [] if pool else [f32(kernel, kernel, 2, 3)]
    attrs = dict(pool_size=kernel, strides=stride, padding=padding) if pool else \
        dict(strides=stride, dilation=dilation, padding=padding)
    op = get(name)
    if padding == "valid" and (kernel - 1) * dilation + 1 > size:
        with pytest.raises(ValueError, match="does not fit"):
            op(x, *weights, **attrs)
        return
    got = np.asarray(op(x, *weights, **attrs))
    np.testing.assert_allclose(got, op.numpy(x, *weights, **attrs), rtol=1e-5, atol=1e-5)
    assert op(KerasTensor(x.shape), *weights, **attrs).shape == got.shape
    if padding == "same":
        assert got.shape[1:3] == (-(-size // stride), -(-(size + 1) // stride))


@pytest.mark.parametrize("build,macs", [
    (lambda x: ops.conv(x, f32(3, 3, 3, 4), f32(4), padding="same"), 8 * 8 * 4 * 27),
    (lambda x: ops.conv(x, f32(3, 3, 1, 6), groups=3, strides=2), 3 * 3 * 6 * 9),
    (lambda x: ops.depthwise_conv(x, f32(3, 3, 3, 2), padding="same"), 8 * 8 * 6 * 9),
    (lambda x: ops.conv_transpose(x, f32(3, 3, 5, 3), strides=2, padding="same"), 8 * 8 * 9 * 5 * 3),
    (lambda x: ops.dense(x, f32(3, 7)), 8 * 8 * 7 * 3),
    (lambda x: ops.max_pool(x, pool_size=2), 0),
])
def test_recorder_counts_macs(build, macs):
    with OpRecorder() as recorder:
        build(KerasTensor((None, 8, 8, 3)))
    assert recorder.total_macs() == macs


@pytest.mark.parametrize("call,message", [
    (lambda: ops.conv(KerasTensor((None, 8)), f32(3, 3, 8, 4)), "expected a 4-D input"),
    (lambda: ops.conv(KerasTensor((None, 8, 8, 5)), f32(3, 3, 3, 4)), "has 5 channels"),
    (lambda: ops.conv(KerasTensor((None, 8, 8, 4)), f32(3, 3, 2, 3), groups=2), "not divisible by groups"),
    (lambda: ops.conv(KerasTensor((None, 2, 8, 3)), f32(3, 3, 3, 4)), "does not fit"),
    (lambda: ops.conv(KerasTensor((None, 8, 8, 3)), f32(3, 3, 3, 4), f32(3)), "bias shape"),
    (lambda: ops.depthwise_conv(KerasTensor((None, 8, 8, 4)), f32(3, 3, 3, 1)), "has 4 channels"),
    (lambda: ops.conv_transpose(KerasTensor((None, 8, 4)), f32(3, 3, 3, 4)), "expected a 4-D input"),
    (lambda: ops.conv_transpose(KerasTensor((None, 8, 8, 4)), f32(3, 3, 3, 4), padding="causal"), "padding"),
    (lambda: ops.max_pool(KerasTensor((None, 8, 3)), pool_size=2, padding="full"), "padding"),
    (lambda: ops.concatenate(KerasTensor((None, 3, 4)), KerasTensor((None, 2, 4)), axis=-1), "must match"),
    (lambda: ops.pad(KerasTensor((None, 3)), pads=((0, 0),)), "pair per axis"),
    (lambda: ops.embedding(KerasTensor((None, 3)), f32(10, 4)), "indices must be integers"),
    (lambda: ops.batch_norm(KerasTensor((None, 3)), *[f32(4)] * 4), "mean has shape"),
    (lambda: ops.layer_norm(KerasTensor((None, 3, 4)), f32(3), f32(3), axes=(-1,)), "gamma has shape"),
    (lambda: ops.reduce_mean(KerasTensor((None, 3)), axes=(2,)), "out of range"),
    (lambda: ops.upsample(KerasTensor((None, 3, 3, 1)), scale=2, method="cubic"), "method"),
])
def test_shape_rule_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_avg_pool_same_does_not_count_padding():
    x = np.ones((1, 3, 3, 1), np.float32)
    np.testing.assert_array_equal(np.asarray(ops.avg_pool(x, pool_size=2, strides=2, padding="same")), 1.0)
