"""fake_quant: float -> int8 -> float on the grid that int8 compilation will use, for quantization-aware
training (QAT).

attrs `lo`, `hi`: the tensor's range; the grid is `arith.activation_params(lo, hi)` and the rounding is
`arith.quantize_float` / `arith.dequantize_int8`, so training sees exactly the values the int8 model
will hold. The compiler reads `lo`/`hi` as the fixed range of the tensor and drops the node.

The JAX version is differentiable with the clipped straight-through estimator: the gradient is 1
where the value lies inside the int8 grid and 0 where it was clipped. The grid (two scalars) is
computed by the NumPy `activation_params` itself through a host callback: its float64 arithmetic
has no cheap bit-exact float32 equivalent, and any 1-ulp difference in the scale would move every
dequantized value.

`fake_quant_weights` is the weight side (not an op: traces keep float weights, which the compiler
quantizes itself): per-channel symmetric int8 along the last axis, exactly `arith.weight_scales` +
`arith.quantize_weights`, with an identity gradient.
"""

import numpy as np

from edgekeras.ops.registry import define, lowering
from edgekeras.quantize import arith


def _same(specs, **_):
    if specs[0].dtype != "float32":
        raise ValueError(f"fake_quant: expects a float32 input, got {specs[0].dtype}.")
    return specs[0]


def _numpy(x, lo, hi):
    scale, zero_point = arith.activation_params(lo, hi)
    return arith.dequantize_int8(arith.quantize_float(x, scale, zero_point), scale, zero_point)


def _grid(lo, hi):
    """(scale, zero_point) as float32 scalars, from the NumPy definition (also inside jit)."""
    import jax
    import jax.numpy as jnp

    def host(lo, hi):
        scale, zero_point = arith.activation_params(float(lo), float(hi))
        return np.float32(scale), np.float32(zero_point)

    out = (jax.ShapeDtypeStruct((), jnp.float32), jax.ShapeDtypeStruct((), jnp.float32))
    lo, hi = (jax.lax.stop_gradient(jnp.asarray(v, jnp.float32)) for v in (lo, hi))
    return jax.pure_callback(host, out, lo, hi, vmap_method="sequential")


def _round_half_away(v):
    import jax.numpy as jnp

    return jnp.sign(v) * jnp.floor(jnp.abs(v) + 0.5)


def _jax_forward(x, scale, zero_point):
    """(fake-quantized x, mask of values inside the grid), in quantize_float's float32 steps."""
    import jax.numpy as jnp

    q = _round_half_away(x / scale) + zero_point
    inside = (q >= arith.QMIN) & (q <= arith.QMAX)
    return (jnp.clip(q, arith.QMIN, arith.QMAX) - zero_point) * scale, inside


def _make_ste():
    import jax
    import jax.numpy as jnp

    @jax.custom_vjp
    def ste(x, scale, zero_point):
        return _jax_forward(x, scale, zero_point)[0]

    def forward(x, scale, zero_point):
        y, inside = _jax_forward(x, scale, zero_point)
        return y, (inside, scale, zero_point)

    def backward(saved, g):
        inside, scale, zero_point = saved
        return jnp.where(inside, g, jnp.zeros_like(g)), jnp.zeros_like(scale), jnp.zeros_like(zero_point)

    ste.defvjp(forward, backward)
    return ste


def _make_weight_ste():
    import jax

    @jax.custom_vjp
    def ste(w):
        return _jax_weights(w)

    ste.defvjp(lambda w: (_jax_weights(w), None), lambda _, g: (g,))
    return ste


_STE = {}


def _cached(name, make):
    if name not in _STE:
        _STE[name] = make()
    return _STE[name]


def _jax(x, lo, hi):
    scale, zero_point = _grid(lo, hi)
    return _cached("activation", _make_ste)(x, scale, zero_point)


def _rounded_ratio(a, s):
    """round_half_away(a / s) for a >= 0, s > 0 (float32), with the half-way decision made exactly as
    in float64: s splits into a 12-bit high part and the rest, so (2m+1) * s is two exact products."""
    import jax
    import jax.numpy as jnp

    m = jnp.floor(a / s)
    s_hi = jax.lax.bitcast_convert_type(jax.lax.bitcast_convert_type(s, jnp.uint32) & jnp.uint32(0xFFFFF000),
                                        jnp.float32)
    k = 2.0 * m + 1.0
    return m + (((2.0 * a - k * s_hi) - k * (s - s_hi)) >= 0).astype(a.dtype)


def _jax_weights(w):
    import jax.numpy as jnp

    peak = jnp.max(jnp.abs(w), axis=tuple(range(w.ndim - 1)))
    scale = jnp.where(peak > 0, peak / arith.WEIGHT_QMAX, 1.0).astype(jnp.float32)
    q = jnp.minimum(_rounded_ratio(jnp.abs(w), scale), arith.WEIGHT_QMAX)
    return jnp.sign(w) * q * scale


def fake_quant_weights(w):
    """Weights as the int8 model will hold them (per channel along the last axis), identity gradient."""
    return _cached("weights", _make_weight_ste)(w)


def numpy_fake_quant_weights(w):
    """The NumPy reference of fake_quant_weights: arith's per-channel int8 weights, dequantized."""
    scales = arith.weight_scales(w, axis=-1)
    return arith.quantize_weights(w, scales, axis=-1).astype(np.float32) * scales


fake_quant = define("fake_quant", _same, _numpy, _jax)


@lowering("fake_quant")
def _lower(ctx, x, lo, hi):
    """A float artifact of a QAT model computes what the QAT model computes (int8 compiles drop the node)."""
    from edgekeras.ops.quantized import _lower_dequantize, _lower_quantize

    scale, zero_point = arith.activation_params(lo, hi)
    return _lower_dequantize(ctx, _lower_quantize(ctx, x, scale, zero_point), scale, zero_point)
