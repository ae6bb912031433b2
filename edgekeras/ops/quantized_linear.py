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
from edgekeras.quantize.arith import relax_requantize_accumulator, requantize_accumulator, shift_terms

QUANT_ATTRS = ("input_zero_point", "output_zero_point", "act_min", "act_max")


def compiler_only(name):
    """JAX implementation slot of the integer ops: they exist for the compiler and its reference only."""

    def fail(*_, **__):
        raise TypeError(f"{name} is an int8 compiler op; it runs in compiled artifacts and the integer reference only.")

    fail.compiler_only = True
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


# ---- lowering: the kernel takes constants prepared at compile time --------------------------------
def _prepare(channel_sums):
    """Kernel constants: the input zero point folded into the bias (the input is padded with its
    zero point, so every tap sees x - zp and sum((x - zp) * w) = sum(x * w) - zp * sum(w)), and the
    per-channel requantization shift split into the terms the kernel uses (`arith.shift_terms`)."""

    def prepare(arrays, attrs):
        _, kernel, bias, multiplier, shift = arrays
        sums = channel_sums(kernel.astype(np.int64))
        folded = (bias.astype(np.int64) - attrs["input_zero_point"] * sums).astype(np.int32)
        return [None, kernel, folded, multiplier, *shift_terms(shift)]

    return prepare


def _requantized(acc, bias, multiplier, shift_terms_, attrs):
    from tvm import relax

    acc = relax.op.add(acc, bias)
    return relax_requantize_accumulator(acc, multiplier, list(shift_terms_), attrs["output_zero_point"],
                                        attrs["act_min"], attrs["act_max"])


def _lower_conv(groups_of):
    def lower(ctx, x, kernel, bias, multiplier, *terms, **attrs):
        from tvm import relax

        q, window = _split(dict(attrs))
        shape = ctx.in_types[0].shape
        rank = len(shape) - 2
        s, d, pairs, _ = window_geometry("conv", shape, ctx.in_types[1].shape[:-2], window.get("strides", 1),
                                         window.get("padding", "valid"), window.get("dilation", 1))
        if any(lo or hi for lo, hi in pairs):
            flat = [0, 0] + [int(v) for pair in pairs for v in pair] + [0, 0]
            x = relax.op.nn.pad(x, flat, pad_value=float(q["input_zero_point"]))
        data_layout, kernel_layout = RELAX_LAYOUTS[rank]
        acc = getattr(relax.op.nn, f"conv{rank}d")(
            x, kernel, strides=s, padding=[0] * (2 * rank), dilation=d, groups=groups_of(ctx),
            data_layout=data_layout, kernel_layout=kernel_layout, out_dtype="int32")
        return _requantized(acc, bias, multiplier, terms, q)

    return lower


def _lower_dense(ctx, x, kernel, bias, multiplier, *terms, **attrs):
    from tvm import relax

    return _requantized(relax.op.matmul(x, kernel, out_dtype="int32"), bias, multiplier, terms, _split(dict(attrs))[0])


lowering("qconv", prepare=_prepare(lambda k: k.sum(axis=tuple(range(k.ndim - 1)))))(
    _lower_conv(lambda ctx: ctx.in_types[0].shape[-1] // ctx.in_types[1].shape[-2]))
lowering("qdepthwise_conv", views=_grouped_kernel_view,
         prepare=_prepare(lambda k: k.sum(axis=tuple(range(k.ndim - 2))).reshape(-1)))(
    _lower_conv(lambda ctx: ctx.in_types[0].shape[-1]))
lowering("qdense", prepare=_prepare(lambda k: k.sum(axis=0)))(_lower_dense)
