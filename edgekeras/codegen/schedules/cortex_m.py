"""Default schedules for Cortex-M targets: int8 conv, depthwise conv and dense kernels, and the
zero-point padding in front of them, become one call of a C micro-kernel
(`runtime_c/include/ek_mcu_kernels.h`): SMLAD dual MACs on cores with the DSP extension, Helium
vector dot products on the M55, portable C on M0+/M3. TVM's generic C for these kernels stores the
int32 accumulator on every MAC and runs the requantization as separate int64 passes (9-19
instructions per MAC on a Cortex-M4); the micro-kernels requantize in the same pass.

A target opts in with `int8_kernels` in its target file ("dsp", "mve" or "c": the instruction set the
micro-kernels compile to there). A kernel the micro-kernels do not cover (grouped conv, 1-D/3-D
windows, a kernel without its node description) keeps the generic schedule.
"""

import hashlib
import json
import math

from edgekeras.codegen.relax_kernels import NODE_ATTR
from edgekeras.codegen.schedules import generic
from edgekeras.ops.windows import window_geometry

INT8_KERNELS = ("dsp", "mve", "c")
MICRO_KERNEL_ATTR = "ek.micro_kernel"
MAX_TAPS = 64  # EK_MCU_MAX_TAPS in ek_mcu_kernels.h
REQUANT_TERMS = 6  # node inputs 2..7: bias, multiplier, left shift, right shift, nudge for >= 0, nudge for < 0


def int8_kernels(target):
    """The target's micro-kernel instruction set, or None when it keeps TVM's kernels."""
    kind = target.extra.get("int8_kernels")
    if kind is not None and kind not in INT8_KERNELS:
        raise ValueError(f"Target '{target.name}': int8_kernels = {kind!r}; choose one of {', '.join(INT8_KERNELS)}.")
    return kind


def schedule(func, target, options):
    if int8_kernels(target) is not None:
        call = micro_kernel_call(func)
        if call is not None:
            return call
    return generic.schedule(func)


def _shape(buf):
    return tuple(int(d) for d in buf.shape)


def micro_kernel_call(func):
    """`func` as one call of the micro-kernel computing it, or None when none does."""
    text = func.attrs.get(NODE_ATTR) if func.attrs is not None else None
    if text is None:
        return None
    node = json.loads(str(text))
    if [str(p.dtype) for p in func.params] == ["int8", "int8"]:
        return _pad(func, list(func.params), node)
    buffers = _mac_operands(func)
    if buffers is None:
        return None
    return _dense(func, buffers, node) if node["op"] == "qdense" else _conv(func, buffers, node)


def _mac_operands(func):
    """The buffers of a MAC kernel in the micro-kernels' order: x, kernel, the node's constant inputs
    2..7 (bias, multiplier, shift terms), y. Fusion orders a kernel's parameters by first use, so the
    constants are found by their Relax names (`in<node input index>`)."""
    *inputs, y = func.params
    named = {str(p.name): p for p in inputs}
    constants = [named.get(f"in{i}") for i in range(1, 2 + REQUANT_TERMS)]
    rest = [p for p in inputs if not any(p.same_as(c) for c in constants if c is not None)]
    if None in constants or len(rest) != 1 or str(y.dtype) != "int8" or str(rest[0].dtype) != "int8":
        return None
    if str(constants[0].dtype) != "int8" or any(str(c.dtype) != "int32" for c in constants[1:]):
        return None
    return [rest[0], *constants, y]


def _call(func, name, buffers, scalars):
    """A kernel calling `name` specialised to `scalars`: the call goes to a wrapper that passes the
    scalars as constants (`kernels_c.micro_kernel_wrappers` writes it), so GCC compiles the
    micro-kernel for this layer's shapes whether TVM emits C or a Thumb object."""
    from tvm import tirx

    scalars = [int(v) for v in scalars]
    symbol = f"{name}_{hashlib.sha1(repr(scalars).encode()).hexdigest()[:10]}"
    spec = {"micro_kernel": name, "symbol": symbol, "scalars": scalars,
            "buffers": [str(b.dtype) for b in buffers]}
    body = tirx.Evaluate(tirx.call_extern("int32", symbol, *[b.data for b in buffers]))
    return tirx.PrimFunc(func.params, body, func.ret_type, func.attrs).with_attr(MICRO_KERNEL_ATTR, json.dumps(spec))


def micro_kernel_spec(func):
    """The micro-kernel call a scheduled kernel makes ({micro_kernel, symbol, scalars, buffers}), or None."""
    text = func.attrs.get(MICRO_KERNEL_ATTR) if func.attrs is not None else None
    return None if text is None else json.loads(str(text))


def _window(node, x_shape, padding):
    attrs = node["attrs"]
    return window_geometry("conv", x_shape, node["window"], attrs.get("strides", 1), padding, attrs.get("dilation", 1))


def _requant(node):
    attrs = node["attrs"]
    return attrs["output_zero_point"], attrs["act_min"], attrs["act_max"]


def _pad(func, buffers, node):
    """The zero-point padding a conv node puts in front of its kernel."""
    x, y = (_shape(b) for b in buffers)
    if len(x) != 4 or len(y) != 4 or len(node["window"]) != 2:
        return None
    _, _, pairs, _ = _window(node, x, node["attrs"].get("padding", "valid"))
    if tuple(y) != (x[0], x[1] + sum(pairs[0]), x[2] + sum(pairs[1]), x[3]):
        return None
    return _call(func, "ek_mcu_pad_s8", buffers,
                 [*x, y[1], y[2], pairs[0][0], pairs[1][0], node["attrs"]["input_zero_point"]])


def _conv(func, buffers, node):
    x, w, y = _shape(buffers[0]), _shape(buffers[1]), _shape(buffers[-1])
    if len(x) != 4 or len(w) != 4 or len(y) != 4:
        return None
    strides, dilation, _, out = _window(node, x, "valid")  # the kernel reads the padded input
    if tuple(out) != y[1:3]:
        return None
    geometry = [strides[0], strides[1], dilation[0], dilation[1], *_requant(node)]
    if node["op"] == "qdepthwise_conv" and w[2] == 1 and w[3] % x[3] == 0 and w[0] * w[1] <= MAX_TAPS:
        return _call(func, "ek_mcu_depthwise_s8", buffers, [*x, *y[1:3], w[3] // x[3], w[0], w[1], *geometry])
    if node["op"] == "qconv" and w[2] == x[3]:
        return _call(func, "ek_mcu_conv_s8", buffers, [*x, *y[1:], w[0], w[1], *geometry])
    return None


def _dense(func, buffers, node):
    """Dense as a 1x1 conv over the rows of x (all leading axes)."""
    x, w = _shape(buffers[0]), _shape(buffers[1])
    if len(w) != 2 or x[-1] != w[0]:
        return None
    rows = math.prod(x[:-1])
    return _call(func, "ek_mcu_conv_s8", buffers, [1, 1, rows, w[0], 1, rows, w[1], 1, 1, 1, 1, 1, 1, *_requant(node)])
