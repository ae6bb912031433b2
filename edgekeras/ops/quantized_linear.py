"""int8 conv / depthwise conv / dense: int8 x int8 -> int32 accumulators, int32 bias, requantized to
int8 inside the kernel (arithmetic in `edgekeras.quantize.arith`).

Inputs: x int8, kernel int8 (Keras layout, symmetric per output channel), bias int32, multiplier and
shift int32 per output channel. Attrs: input_zero_point, output_zero_point, act_min / act_max (the
fused ReLU / ReLU6 as clamps), plus the float op's window attrs.
The NumPy references reuse the float ops' references on exact integer values (float64 holds every
int8 x int8 sum of these sizes exactly).
"""

import numpy as np

from edgekeras.ops.conv import (RELAX_LAYOUTS, _conv_infer, _depthwise_infer, _grouped_kernel_view, begin_end_padding,
                                conv, depthwise_conv, window_geometry)
from edgekeras.ops.linear import _infer as _dense_infer
from edgekeras.ops.linear import dense
from edgekeras.ops.registry import TensorSpec, define, lowering
from edgekeras.quantize.arith import relax_requantize_accumulator, requantize_accumulator

QUANT_ATTRS = ("input_zero_point", "output_zero_point", "act_min", "act_max")


def compiler_only(name):
    """JAX implementation slot of the integer ops: they exist for the compiler and its reference only."""

    def fail(*_, **__):
        raise TypeError(f"{name} is an int8 compiler op; it runs in compiled artifacts and the integer reference only.")

    return fail


def _int8_spec(float_infer, specs, **attrs):
    spec = float_infer(list(specs[:3]), **attrs)
    for name, s in zip(("multiplier", "shift"), specs[3:5]):
        if tuple(s.shape) != (spec.shape[-1],) or s.dtype != "int32":
            raise ValueError(f"{name} must be int32 with one entry per output channel ({spec.shape[-1]}), got "
                             f"{s.dtype}{list(s.shape)}.")
    if specs[0].dtype != "int8" or specs[1].dtype != "int8" or specs[2].dtype != "int32":
        raise ValueError(f"int8 kernels take int8 data, int8 weights and int32 bias; got "
                         f"{specs[0].dtype}, {specs[1].dtype}, {specs[2].dtype}.")
    return TensorSpec(spec.shape, "int8")


def _split(attrs):
    quant = {k: attrs.pop(k) for k in QUANT_ATTRS}
    return quant, attrs


def _numpy(float_numpy):
    def run(x, kernel, bias, multiplier, shift, **attrs):
        q, window = _split(dict(attrs))
        centered = x.astype(np.float64) - q["input_zero_point"]
        acc = float_numpy(centered, kernel.astype(np.float64), **window).astype(np.int64) + bias
        return requantize_accumulator(acc, multiplier, shift, q["output_zero_point"], q["act_min"], q["act_max"])

    return run


def _infer(float_infer):
    def infer(specs, **attrs):
        return _int8_spec(float_infer, specs, **_split(dict(attrs))[1])

    return infer


def _define(name, float_op, float_infer):
    return define(name, _infer(float_infer), _numpy(float_op.numpy), compiler_only(name),
                  lambda ins, outs, **_: float_op.macs(ins, outs))


qconv = _define("qconv", conv, _conv_infer)
qdepthwise_conv = _define("qdepthwise_conv", depthwise_conv, _depthwise_infer)
qdense = _define("qdense", dense, lambda specs: _dense_infer(specs))


def _centered(x, zero_point):
    """x - zero_point as int16: the zero-point-padded int8 input becomes zero-padded."""
    from tvm import relax

    return relax.op.subtract(relax.op.astype(x, "int16"), relax.const(int(zero_point), "int16"))


def _relax_int8(accumulate):
    def lower(ctx, x, kernel, bias, multiplier, shift, **attrs):
        from tvm import relax

        q, window = _split(dict(attrs))
        acc = accumulate(ctx, _centered(x, q["input_zero_point"]), relax.op.astype(kernel, "int16"), window)
        acc = relax.op.add(acc, bias)
        return relax_requantize_accumulator(acc, multiplier, shift, q["output_zero_point"], q["act_min"], q["act_max"])

    return lower


def _conv_acc(groups_of):
    def accumulate(ctx, x, kernel, window):
        from tvm import relax

        rank = len(ctx.in_types[0].shape) - 2
        s, d, pairs, _ = window_geometry("conv", ctx.in_types[0].shape, ctx.in_types[1].shape[:-2],
                                                    window.get("strides", 1), window.get("padding", "valid"),
                                                    window.get("dilation", 1))
        data_layout, kernel_layout = RELAX_LAYOUTS[rank]
        return getattr(relax.op.nn, f"conv{rank}d")(
            x, kernel, strides=s, padding=begin_end_padding(pairs), dilation=d, groups=groups_of(ctx, window),
            data_layout=data_layout, kernel_layout=kernel_layout, out_dtype="int32")

    return accumulate


def _dense_acc(ctx, x, kernel, window):
    from tvm import relax

    return relax.op.matmul(x, kernel, out_dtype="int32")


lowering("qconv")(_relax_int8(_conv_acc(lambda ctx, window: window.get("groups", 1))))
lowering("qdepthwise_conv", views=_grouped_kernel_view)(
    _relax_int8(_conv_acc(lambda ctx, window: ctx.in_types[0].shape[-1])))
lowering("qdense")(_relax_int8(_dense_acc))
