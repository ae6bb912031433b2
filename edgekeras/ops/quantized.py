"""int8 ops other than the MAC kernels, as the TFLite int8 specification defines them (arithmetic in
`edgekeras.quantize.arith`):

- quantize / dequantize: float32 <-> int8 at the model edges (attrs scale, zero_point).
- requantize: int8 -> int8 at another scale (what concatenate inputs with other scales go through).
- qadd: both inputs rescaled to twice the larger scale with 20 bits of headroom, summed, requantized.
- qavg_pool: window sum / number of real cells, rounded half away from zero; scale kept.
- qmean: sum over axes, requantized with input_scale / (output_scale * count).
- qsoftmax: exp from a 256-entry fixed-point table (input constant), output scale 1/256, zero point -128.
- qlut: any unary activation as a 256-entry int8 table (input constant) computed at compile time.
max_pool, reshape, identity, pad (with value = zero point) and concatenate (equal scales) run on int8
through their float definitions.
"""

import numpy as np

from edgekeras.ops.elementwise import _broadcast
from edgekeras.ops.pool import _geometry as pool_geometry
from edgekeras.ops.pool import avg_pool
from edgekeras.ops.quantized_linear import compiler_only
from edgekeras.ops.reduce import canonical_axes
from edgekeras.ops.registry import TensorSpec, define, lowering
from edgekeras.ops.windows import RELAX_LAYOUTS, begin_end_padding, np_windows
from edgekeras.quantize import arith


def _expect(op, spec, dtype):
    if spec.dtype != dtype:
        raise ValueError(f"{op}: expects {dtype} input, got {spec.dtype}.")


def _retyped(op, in_dtype, out_dtype):
    def infer(specs, **_):
        _expect(op, specs[0], in_dtype)
        return TensorSpec(specs[0].shape, out_dtype)

    return infer


quantize = define("quantize", _retyped("quantize", "float32", "int8"),
                  lambda x, scale, zero_point: arith.quantize_float(x, scale, zero_point), compiler_only("quantize"))
dequantize = define("dequantize", _retyped("dequantize", "int8", "float32"),
                    lambda x, scale, zero_point: arith.dequantize_int8(x, scale, zero_point),
                    compiler_only("dequantize"))
requantize = define(
    "requantize", _retyped("requantize", "int8", "int8"),
    lambda x, multiplier, shift, input_zero_point, output_zero_point: arith.requantize_accumulator(
        x.astype(np.int64) - input_zero_point, multiplier, shift, output_zero_point),
    compiler_only("requantize"))


def _qadd_infer(specs, **_):
    for s in specs:
        _expect("qadd", s, "int8")
    return _broadcast(specs)


def _qadd_numpy(a, b, a_zero_point, b_zero_point, a_multiplier, a_shift, b_multiplier, b_shift, output_zero_point,
                output_multiplier, output_shift, act_min=arith.QMIN, act_max=arith.QMAX):
    left = 1 << arith.ADD_LEFT_SHIFT
    sa = arith.multiply_by_quantized_multiplier((a.astype(np.int64) - a_zero_point) * left, a_multiplier, a_shift)
    sb = arith.multiply_by_quantized_multiplier((b.astype(np.int64) - b_zero_point) * left, b_multiplier, b_shift)
    return arith.requantize_accumulator(sa + sb, output_multiplier, output_shift, output_zero_point, act_min, act_max)


qadd = define("qadd", _qadd_infer, _qadd_numpy, compiler_only("qadd"))


def _np_window_sums(x, pool_size, strides, padding):
    """Window sums and real-cell counts, exact in float64, as int64."""
    window, (s, d, pairs, _) = pool_geometry("avg_pool", x.shape, pool_size, strides, padding)
    win = np_windows(x.astype(np.float64), window, s, d, pairs, np.nan)
    return np.nansum(win, -1).astype(np.int64), (~np.isnan(win)).sum(-1)


def _qavg_numpy(x, pool_size, strides=None, padding="valid"):
    total, count = _np_window_sums(x, pool_size, strides, padding)
    return np.clip(arith.divide_round_half_away(total, count), arith.QMIN, arith.QMAX).astype(np.int8)


def _qavg_infer(specs, **attrs):
    _expect("qavg_pool", specs[0], "int8")
    return avg_pool.infer(specs, **attrs)


qavg_pool = define("qavg_pool", _qavg_infer, _qavg_numpy, compiler_only("qavg_pool"))


def _qmean_infer(specs, axes, keepdims=False, **_):
    from edgekeras.ops.reduce import reduce_mean

    _expect("qmean", specs[0], "int8")
    return reduce_mean.infer(specs, axes=axes, keepdims=keepdims)


def _qmean_numpy(x, axes, input_zero_point, output_zero_point, multiplier, shift, keepdims=False):
    axes = canonical_axes("qmean", x.ndim, axes)
    total = (x.astype(np.int64) - input_zero_point).sum(axis=axes, keepdims=keepdims)
    return arith.requantize_accumulator(total, multiplier, shift, output_zero_point)


qmean = define("qmean", _qmean_infer, _qmean_numpy, compiler_only("qmean"))


def _table_infer(op, length, dtype):
    def infer(specs, **_):
        _expect(op, specs[0], "int8")
        if tuple(specs[1].shape) != (length,) or specs[1].dtype != dtype:
            raise ValueError(f"{op}: the table must be {dtype}[{length}], got {specs[1].dtype}{list(specs[1].shape)}.")
        return TensorSpec(specs[0].shape, "int8")

    return infer


qsoftmax = define("qsoftmax", _table_infer("qsoftmax", 256, "int32"),
                  lambda x, table, axis=-1: arith.softmax_from_table(x, table, axis), compiler_only("qsoftmax"))
qlut = define("qlut", _table_infer("qlut", 256, "int8"),
              lambda x, table: np.asarray(table)[x.astype(np.int64) - arith.QMIN], compiler_only("qlut"))


# ---- lowerings ------------------------------------------------------------------------------------
def _i32(value):
    from tvm import relax

    return relax.const(int(value), "int32")


@lowering("quantize")
def _lower_quantize(ctx, x, scale, zero_point):
    from tvm import relax

    op = relax.op
    v = op.divide(x, relax.const(np.float32(scale), "float32"))
    rounded = op.multiply(op.sign(v), op.floor(op.add(op.abs(v), relax.const(0.5, "float32"))))
    q = op.clip(op.add(rounded, relax.const(float(zero_point), "float32")), arith.QMIN, arith.QMAX)
    return op.astype(q, "int8")


@lowering("dequantize")
def _lower_dequantize(ctx, x, scale, zero_point):
    from tvm import relax

    centered = relax.op.subtract(relax.op.astype(x, "int32"), _i32(zero_point))
    return relax.op.multiply(relax.op.astype(centered, "float32"), relax.const(np.float32(scale), "float32"))


@lowering("requantize")
def _lower_requantize(ctx, x, multiplier, shift, input_zero_point, output_zero_point):
    from tvm import relax

    centered = relax.op.subtract(relax.op.astype(x, "int32"), _i32(input_zero_point))
    return arith.relax_requantize_accumulator(centered, int(multiplier), int(shift), output_zero_point)


@lowering("qadd")
def _lower_qadd(ctx, a, b, a_zero_point, b_zero_point, a_multiplier, a_shift, b_multiplier, b_shift,
                output_zero_point, output_multiplier, output_shift, act_min=arith.QMIN, act_max=arith.QMAX):
    from tvm import relax

    def scaled(x, zero_point, multiplier, shift):
        centered = relax.op.subtract(relax.op.astype(x, "int32"), _i32(zero_point))
        shifted = relax.op.left_shift(centered, _i32(arith.ADD_LEFT_SHIFT))
        return arith.relax_multiply_by_quantized_multiplier(shifted, int(multiplier), int(shift))

    total = relax.op.add(scaled(a, a_zero_point, a_multiplier, a_shift), scaled(b, b_zero_point, b_multiplier, b_shift))
    return arith.relax_requantize_accumulator(total, int(output_multiplier), int(output_shift), output_zero_point,
                                              act_min, act_max)


def _relax_window_sum(x, window, strides, pairs, groups):
    """Sum over each window as a grouped int32 conv with an all-ones kernel (Relax builds the kernel,
    so it costs no weights); zero padding adds nothing to a sum."""
    from tvm import relax

    rank = len(window)
    data_layout, kernel_layout = RELAX_LAYOUTS[rank]
    ones = relax.op.ones(tuple(window) + (1, groups), "int32")
    conv = getattr(relax.op.nn, f"conv{rank}d")
    return conv(x, ones, strides=strides, padding=begin_end_padding(pairs), groups=groups, data_layout=data_layout,
                kernel_layout=kernel_layout, out_dtype="int32")


@lowering("qavg_pool")
def _lower_qavg_pool(ctx, x, pool_size, strides=None, padding="valid"):
    from tvm import relax

    shape = ctx.in_types[0].shape
    window, (s, _, pairs, _) = pool_geometry("avg_pool", shape, pool_size, strides, padding)
    total = _relax_window_sum(relax.op.astype(x, "int32"), window, s, pairs, shape[-1])
    cells = relax.op.ones((1,) + tuple(shape[1:-1]) + (1,), "int32")
    count = _relax_window_sum(cells, window, s, pairs, 1)
    rounded = arith.relax_divide_round_half_away(total, count)
    return relax.op.astype(relax.op.clip(rounded, arith.QMIN, arith.QMAX), "int8")


@lowering("qmean")
def _lower_qmean(ctx, x, axes, input_zero_point, output_zero_point, multiplier, shift, keepdims=False):
    from tvm import relax

    axes = canonical_axes("qmean", len(ctx.in_types[0].shape), axes)
    centered = relax.op.subtract(relax.op.astype(x, "int32"), _i32(input_zero_point))
    total = relax.op.sum(centered, axis=list(axes), keepdims=keepdims)
    return arith.relax_requantize_accumulator(total, int(multiplier), int(shift), output_zero_point)


@lowering("qsoftmax")
def _lower_qsoftmax(ctx, x, table, axis=-1):
    from tvm import relax

    op = relax.op
    wide = op.astype(x, "int32")
    distance = op.subtract(op.max(wide, axis=[axis], keepdims=True), wide)
    e = op.astype(op.take(table, distance, axis=0, mode="clip"), "int64")
    total = op.sum(e, axis=[axis], keepdims=True)
    q = op.add(op.floor_divide(op.add(op.multiply(e, relax.const(512, "int64")), total),
                               op.multiply(total, relax.const(2, "int64"))),
               relax.const(arith.SOFTMAX_ZERO_POINT, "int64"))
    return op.astype(op.clip(q, arith.QMIN, arith.QMAX), "int8")


@lowering("qlut")
def _lower_qlut(ctx, x, table):
    from tvm import relax

    index = relax.op.subtract(relax.op.astype(x, "int32"), _i32(arith.QMIN))
    return relax.op.take(table, index, axis=0, mode="clip")
