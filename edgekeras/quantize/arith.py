"""The int8 arithmetic of edgekeras, in one place. It follows the TFLite int8 specification so
results can be held against LiteRT:

- real = scale * (q - zero_point). Activations: int8 per tensor, asymmetric, with 0.0 exactly
  representable. Weights: int8 per output channel, symmetric (zero point 0, range [-127, 127]).
- Bias: int32 with scale = input_scale * weight_scale[c] and zero point 0.
- A real multiplier M (e.g. input_scale * weight_scale / output_scale) is applied to an int32
  accumulator as a fixed-point int32 `multiplier` in [2^30, 2^31) and a power-of-two `shift`,
  M ~= multiplier * 2^(shift - 31), with TFLite's double rounding (gemmlowp's saturating rounding
  doubling high multiply, then a rounding divide by a power of two, half away from zero). LiteRT's
  built-in optimized kernels round this way; LiteRT 2.3's reference kernels round once instead and
  differ by one step on ~0.2 % of values (tests/test_litert_compare.py measures both).
- Float -> int8 at the model edges: q = clamp(round_half_away(x / scale) + zero_point), computed in
  float32; int8 -> float: (q - zero_point) * scale in float32.

The NumPy functions here are the integer reference (`edgekeras.ops.quantized` calls them); the
`relax_*` functions build the same arithmetic as TVM Relax integer ops for the kernels. The two are
written independently (NumPy follows TFLite's formulas literally, Relax uses an equivalent
shift form) and tests hold them to bit-exact agreement.
"""

import math

import numpy as np

QMIN, QMAX = -128, 127
WEIGHT_QMAX = 127
# TFLite's int8 add rescales both inputs to a common scale with 20 bits of headroom.
ADD_LEFT_SHIFT = 20
# int8 softmax output, as TFLite fixes it: scale 1/256, zero point -128.
SOFTMAX_SCALE, SOFTMAX_ZERO_POINT = 1.0 / 256.0, -128
# exp() lookup values for softmax are fixed-point with this many fraction bits.
SOFTMAX_TABLE_BITS = 20


# ---- choosing parameters (compile time, float) ---------------------------------------------------
def f32(x):
    """Scales are stored as float32, as in a .tflite file."""
    return float(np.float32(x))


def activation_params(lo, hi):
    """(scale, zero_point) for a per-tensor asymmetric int8 range; the range is widened to hold 0."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if hi - lo < 1e-12:
        return 1.0, 0
    scale = f32((hi - lo) / (QMAX - QMIN))
    zero_point = int(np.clip(round_half_away(QMIN - lo / scale), QMIN, QMAX))
    return scale, zero_point


def weight_scales(weights, axis=-1):
    """Per-channel symmetric scales max|w| / 127 along `axis`; an all-zero channel gets scale 1."""
    w = np.moveaxis(np.asarray(weights, np.float64), axis, -1).reshape(-1, weights.shape[axis])
    peak = np.abs(w).max(axis=0) if w.size else np.zeros(weights.shape[axis])
    return np.where(peak > 0, peak / WEIGHT_QMAX, 1.0).astype(np.float32)


def quantize_weights(weights, scales, axis=-1):
    """int8 weights, symmetric per channel along `axis`."""
    shape = [1] * weights.ndim
    shape[axis] = -1
    q = round_half_away(np.asarray(weights, np.float64) / np.reshape(scales.astype(np.float64), shape))
    return np.clip(q, -WEIGHT_QMAX, WEIGHT_QMAX).astype(np.int8)


def quantize_bias(bias, input_scale, weight_scales_):
    """int32 bias at scale input_scale * weight_scale[c]."""
    scale = np.float64(input_scale) * weight_scales_.astype(np.float64)
    q = round_half_away(np.asarray(bias, np.float64) / scale)
    return np.clip(q, -(2**31), 2**31 - 1).astype(np.int32)


def quantize_multiplier(real):
    """(multiplier, shift) with real ~= multiplier * 2^(shift - 31), multiplier in [2^30, 2^31)."""
    if real <= 0.0:
        return 0, 0
    mantissa, shift = math.frexp(real)
    multiplier = int(round_half_away(mantissa * (1 << 31)))
    if multiplier == 1 << 31:
        multiplier, shift = multiplier // 2, shift + 1
    if shift < -31:
        return 0, 0
    return multiplier, shift


def quantize_multipliers(reals):
    """Per-channel (multiplier, shift) arrays as int32."""
    pairs = [quantize_multiplier(float(r)) for r in np.ravel(reals)]
    return (np.array([m for m, _ in pairs], np.int32), np.array([s for _, s in pairs], np.int32))


# ---- the integer reference (NumPy, int64 internally) ---------------------------------------------
def round_half_away(x):
    """Round to nearest, ties away from zero (std::round, which TFLite uses), for floats."""
    x = np.asarray(x)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def saturating_rounding_doubling_high_mul(a, b):
    """High 32 bits of 2*a*b, rounded (gemmlowp / TFLite reference: nudge then truncating division)."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    overflow = (a == -(2**31)) & (b == -(2**31))
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    total = ab + nudge
    quotient = np.where(total >= 0, total // (1 << 31), -((-total) // (1 << 31)))  # truncates toward zero
    return np.where(overflow, 2**31 - 1, quotient)


def rounding_divide_by_pot(x, exponent):
    """x / 2^exponent rounded to nearest, ties away from zero (TFLite RoundingDivideByPOT)."""
    x, exponent = np.asarray(x, np.int64), np.asarray(exponent, np.int64)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def saturate_int32(x):
    return np.clip(np.asarray(x, np.int64), -(2**31), 2**31 - 1)


def multiply_by_quantized_multiplier(x, multiplier, shift):
    """TFLite MultiplyByQuantizedMultiplier on int32 values (per-channel arrays broadcast on the last axis).
    The left shift saturates to int32 where TFLite's would overflow."""
    shift = np.asarray(shift, np.int64)
    left, right = np.maximum(shift, 0), np.maximum(-shift, 0)
    shifted = saturate_int32(np.asarray(x, np.int64) << left)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, multiplier), right)


def requantize_accumulator(acc, multiplier, shift, output_zero_point, act_min=QMIN, act_max=QMAX):
    """int32 accumulator -> int8: scale, add the output zero point, clamp to the fused activation."""
    y = multiply_by_quantized_multiplier(acc, multiplier, shift) + output_zero_point
    return np.clip(y, act_min, act_max).astype(np.int8)


def quantize_float(x, scale, zero_point):
    """float -> int8 at a model input."""
    v = np.asarray(x, np.float32) / np.float32(scale)
    return np.clip(round_half_away(v) + zero_point, QMIN, QMAX).astype(np.int8)


def dequantize_int8(q, scale, zero_point):
    """int8 -> float32 at a model output."""
    return (np.asarray(q, np.int32) - zero_point).astype(np.float32) * np.float32(scale)


def divide_round_half_away(total, count):
    """Integer total / count rounded half away from zero (TFLite int8 average pooling)."""
    total, count = np.asarray(total, np.int64), np.asarray(count, np.int64)
    magnitude = (np.abs(total) + count // 2) // count
    return np.where(total < 0, -magnitude, magnitude)


def softmax_table(input_scale, beta=1.0):
    """exp(-beta * input_scale * d) for d = 0..255 in fixed point, so softmax needs integers only."""
    d = np.arange(256, dtype=np.float64)
    return np.round(np.exp(-beta * float(input_scale) * d) * (1 << SOFTMAX_TABLE_BITS)).astype(np.int32)


def softmax_from_table(x, table, axis=-1):
    """int8 softmax: e = table[max - x]; q = round(256 * e / sum(e)) - 128, in int64."""
    x = np.asarray(x, np.int64)
    e = np.asarray(table, np.int64)[x.max(axis=axis, keepdims=True) - x]
    total = e.sum(axis=axis, keepdims=True)
    q = (e * 512 + total) // (2 * total) + SOFTMAX_ZERO_POINT
    return np.clip(q, QMIN, QMAX).astype(np.int8)


def lookup_table(fn, input_scale, input_zero_point, output_scale, output_zero_point):
    """int8 -> int8 table of a unary function, evaluated once in float at compile time."""
    q = np.arange(QMIN, QMAX + 1)
    real = fn(dequantize_int8(q, input_scale, input_zero_point))
    return quantize_float(real, output_scale, output_zero_point)


# ---- the same arithmetic as TVM Relax integer ops -------------------------------------------------
def shift_terms(shift):
    """The per-channel constants the kernels requantize with, derived from TFLite's `shift` once at
    compile time: (left shift, right shift, rounding nudge for x >= 0, nudge for x < 0). With them
    RoundingDivideByPOT(x, e) is (x + nudge) >> e: 2^(e-1) rounds half up, one less rounds a
    negative half away from zero."""
    shift = np.asarray(shift, np.int64)
    left, right = np.maximum(shift, 0), np.maximum(-shift, 0)
    nudge = np.where(right > 0, np.int64(1) << np.maximum(right - 1, 0), 0)
    return tuple(a.astype(np.int32) for a in (left, right, nudge, nudge - (right > 0)))


def relax_multiply_by_quantized_multiplier(x, multiplier, shift):
    """Relax version of multiply_by_quantized_multiplier on an int32 tensor `x`. Per tensor,
    `multiplier` is a Python int and `shift` one; per channel, `multiplier` is an int32 Relax tensor
    and `shift` the four int32 tensors of `shift_terms`, broadcast on the last axis. Each constant is
    read once, so TVM fuses the whole computation into the kernel that produces `x`.

    The doubling high multiply with TFLite's nudge and truncating division equals
    high = (a*b + 2^30) >> 31 (arithmetic shift), and the rounding right shift is
    (high + nudge) >> right. Two floor divisions by powers of two compose, so both are one shift:
    (a*b + 2^30 + nudge * 2^31) >> (31 + right), with the nudge picked by the sign of a*b + 2^30
    (the sign of high). Fewer 64-bit operations, which CPUs without 64-bit vector shifts emulate."""
    from tvm import relax

    op = relax.op

    def i64(value):
        return relax.const(int(value), "int64") if isinstance(value, (int, np.integer)) else op.astype(value, "int64")

    left, right, nudge_pos, nudge_neg = (int(t) for t in shift_terms(shift)) if isinstance(shift, int) else shift
    wide = op.astype(x, "int64")
    if not (isinstance(left, int) and left == 0):
        wide = op.clip(op.left_shift(wide, i64(left)), -(2**31), 2**31 - 1)
    total = op.add(op.multiply(wide, i64(multiplier)), i64(1 << 30))
    negative = op.less(total, i64(0))
    if isinstance(right, int):  # constant operands of `where` would become kernel arguments
        nudge = op.subtract(i64(nudge_pos << 31),
                            op.multiply(op.astype(negative, "int64"), i64((nudge_pos - nudge_neg) << 31)))
        shift_by = i64(31 + right)
    else:
        nudge = op.left_shift(op.where(negative, i64(nudge_neg), i64(nudge_pos)), i64(31))
        shift_by = op.add(i64(right), i64(31))
    return op.astype(op.right_shift(op.add(total, nudge), shift_by), "int32")


def relax_requantize_accumulator(acc, multiplier, shift, output_zero_point, act_min=QMIN, act_max=QMAX):
    """Clamps before adding the zero point (clip(y + zp, lo, hi) = clip(y, lo - zp, hi - zp) + zp), so a
    scaled value near the int32 limits cannot wrap around in int32 as y + zp would."""
    from tvm import relax

    zero_point = int(output_zero_point)
    y = relax.op.clip(relax_multiply_by_quantized_multiplier(acc, multiplier, shift), int(act_min) - zero_point,
                      int(act_max) - zero_point)
    return relax.op.astype(relax.op.add(y, relax.const(zero_point, "int32")), "int8")


def relax_divide_round_half_away(total, count):
    """Relax version of divide_round_half_away; `total` int32, `count` an int32 tensor or constant."""
    from tvm import relax

    op = relax.op
    half = op.floor_divide(count, relax.const(2, "int32"))
    magnitude = op.floor_divide(op.add(op.abs(total), half), count)
    return op.where(op.less(total, relax.const(0, "int32")), op.negative(magnitude), magnitude)
