"""The `quantize` phase: an optimized float graph plus calibrated ranges becomes an int8 graph.

Every activation gets int8 parameters from its range (`arith.activation_params`); conv / depthwise /
dense get per-channel int8 weights, int32 bias and per-channel requantization multipliers; fused
ReLU / ReLU6 become output clamps and any other fused activation a 256-entry table. Ops that only
move or select values (reshape, max pooling, ...) run on int8 unchanged and keep their input's
parameters, as TFLite requires. Layers named in `keep_float` stay float between a dequantize and a
quantize. The new graph's values keep the float graph's names, so reports line up layer by layer.
"""

import numpy as np

from edgekeras.ir.graph import Graph
from edgekeras.ir.types import QuantParams
from edgekeras.ops.registry import get
from edgekeras.quantize import arith

# Ops that run unchanged on int8 and keep their input's scale and zero point.
PASSTHROUGH_OPS = ("reshape", "identity", "transpose", "max_pool", "reduce_max")
MAC_OPS = {"conv": "qconv", "depthwise_conv": "qdepthwise_conv", "dense": "qdense"}
TABLE_OPS = ("relu", "sigmoid", "tanh", "elu", "gelu", "hard_sigmoid", "swish", "hard_swish")
INT8_OPS = tuple(MAC_OPS) + PASSTHROUGH_OPS + TABLE_OPS + (
    "batch_norm", "add", "avg_pool", "reduce_mean", "softmax", "concatenate", "pad", "fake_quant")


# Names the int8 graph gives values that stand for a float value of another name.
INT8_SUFFIX, QUANTIZED_SUFFIX = ":int8", ":q"


class QuantizeError(ValueError):
    pass


def float_name(name):
    """The float-graph value an int8-graph value stands for."""
    for suffix in (INT8_SUFFIX, QUANTIZED_SUFFIX):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def fake_quant_ranges(graph):
    """Ranges fixed by quantization-aware training: a fake_quant node's range is its input's too."""
    ranges = {}
    for node in graph.nodes:
        if node.op == "fake_quant":
            span = (float(node.attrs["lo"]), float(node.attrs["hi"]))
            ranges[node.output.name] = ranges[node.inputs[0].name] = span
    return ranges


def is_clamp(epilogue):
    """True for no activation, ReLU or ReLU6-style capped ReLU: these fold into the output clamp."""
    if not epilogue:
        return True
    if len(epilogue) != 1 or epilogue[0][0] != "relu":
        return False
    attrs = epilogue[0][1]
    return not attrs.get("negative_slope") and not attrs.get("threshold")


def layer_matches(node, names):
    """A node belongs to layer `name` when its layer path is `name` or lies inside it."""
    return any(node.layer == n or node.layer.startswith(n + "/") or node.name == n for n in names)


def quantize_graph(graph, ranges, io="float", keep_float=()):
    """The int8 version of the optimized float `graph`; `ranges` maps value names (and `NAME:pre` for
    a node's output before its fused activation) to calibrated (lo, hi)."""
    if io not in ("float", "int8"):
        raise QuantizeError(f"io must be 'float' or 'int8', got {io!r}.")
    return _Converter(graph, ranges, io, tuple(keep_float)).run()


class _Converter:
    def __init__(self, graph, ranges, io, keep_float):
        self.src, self.ranges, self.io, self.keep_float = graph, ranges, io, keep_float
        self.out = Graph(graph.name)
        self.map = {}  # id(float value) -> value in the new graph (int8, or float in kept-float layers)

    # ---- values --------------------------------------------------------------------------------
    def params(self, key, node=None):
        if key not in self.ranges:
            where = f" (layer '{node.layer or node.name}')" if node is not None else ""
            raise QuantizeError(f"No calibration range for tensor '{key}'{where}: pass calibration data (--calib) "
                                "that reaches it, or train with edgekeras.quantize.quantize_model.")
        return arith.activation_params(*self.ranges[key])

    def typed(self, value, scale, zero_point):
        value.type = value.type.with_(quant=QuantParams((float(scale),), (int(zero_point),)))
        return value

    def int8(self, value):
        """The int8 form of a float-graph value, quantizing constants and kept-float results on demand."""
        if value.is_constant:
            data = value.data.astype(np.float32)
            scale, zp = arith.activation_params(data.min(), data.max())
            return self.typed(self.out.constant(value.name, arith.quantize_float(data, scale, zp)), scale, zp)
        new = self.map[id(value)]
        if new.type.dtype == "int8":
            return new
        scale, zp = self.params(value.name)
        node = self.out.add_node("quantize", [new], {"scale": scale, "zero_point": zp},
                                 name=f"{value.name}{QUANTIZED_SUFFIX}")
        return self.typed(node.output, scale, zp)

    def float(self, value):
        if value.is_constant:
            return value
        new = self.map[id(value)]
        if new.type.dtype != "int8":
            return new
        scale, zp = qp(new)
        return self.out.add_node("dequantize", [new], {"scale": scale, "zero_point": zp},
                                 name=f"{value.name}:dq").output

    def emit(self, node, op, inputs, attrs, scale, zp, name=None):
        new = self.out.add_node(op, inputs, attrs, name=name or node.name, layer=node.layer,
                                output_names=[name or node.output.name])
        self.typed(new.output, scale, zp)
        if name is None:
            self.map[id(node.output)] = new.output
        return new.output

    # ---- driver --------------------------------------------------------------------------------
    def run(self):
        for value in self.src.inputs:
            if self.io == "int8":
                scale, zp = self.params(value.name)
                new = self.out.add_input(value.name, value.type.shape, "int8", value.type.layout)
                self.map[id(value)] = self.typed(new, scale, zp)
            else:
                self.map[id(value)] = self.out.add_input(value.name, value.type.shape, value.type.dtype,
                                                         value.type.layout)
        for node in self.src.nodes:
            if layer_matches(node, self.keep_float):
                self.keep(node)
            elif node.op in INT8_OPS:
                getattr(self, f"convert_{_method(node.op)}")(node)
            else:
                raise QuantizeError(
                    f"Op '{node.op}' (layer '{node.layer or node.name}') has no int8 kernel. int8 ops: "
                    f"{', '.join(sorted(INT8_OPS))}. Keep it in float with --keep-float "
                    f"{node.layer or node.name} (targets with an FPU).")
        self.out.outputs = [self.int8(v) if self.io == "int8" else self.float_output(v) for v in self.src.outputs]
        return self.out

    def float_output(self, value):
        """A float graph output keeps its name; the int8 value it is dequantized from is renamed."""
        new = self.map[id(value)]
        if new.type.dtype != "int8":
            return new
        self.out.rename(new, f"{value.name}{INT8_SUFFIX}")
        scale, zp = qp(new)
        return self.out.add_node("dequantize", [new], {"scale": scale, "zero_point": zp}, name=f"{value.name}:dq",
                                 output_names=[value.name]).output

    def keep(self, node):
        new = self.out.add_node(node.op, [self.float(v) for v in node.inputs], node.attrs, name=node.name,
                                layer=node.layer, epilogue=node.epilogue, output_names=[v.name for v in node.outputs])
        for old, value in zip(node.outputs, new.outputs):
            self.map[id(old)] = value

    # ---- conversions, one per float op family ---------------------------------------------------
    def convert_mac(self, node):
        x = self.int8(node.inputs[0])
        kernel = node.inputs[1]
        if not kernel.is_constant:
            raise QuantizeError(f"Layer '{node.layer or node.name}': int8 {node.op} needs constant weights.")
        bias = node.inputs[2].data if len(node.inputs) > 2 else np.zeros(node.output.type.shape[-1], np.float32)
        w = kernel.data.astype(np.float32)
        flat = w.reshape(w.shape[:-2] + (-1,)) if node.op == "depthwise_conv" else w  # output channel last
        scales = arith.weight_scales(flat, axis=-1)
        wq = arith.quantize_weights(flat, scales, axis=-1).reshape(w.shape)
        self.mac(node, node.op, x, wq, scales, bias, dict(node.attrs))

    def mac(self, node, float_op, x, wq, w_scales, bias, attrs):
        """Emit an int8 MAC kernel for `node` with its activation as a clamp or a trailing table."""
        s_in, zp_in = qp(x)
        clamp = is_clamp(node.epilogue)
        scale, zp = self.params(node.output.name if clamp else f"{node.output.name}:pre", node)
        act_min, act_max = clamp_range(node.epilogue if clamp else (), scale, zp)
        multiplier, shift = arith.quantize_multipliers(np.float64(s_in) * w_scales.astype(np.float64) / scale)
        inputs = [x, self.out.constant(f"{node.name}:w", wq),
                  self.out.constant(f"{node.name}:b", arith.quantize_bias(bias, s_in, w_scales)),
                  self.out.constant(f"{node.name}:m", multiplier), self.out.constant(f"{node.name}:s", shift)]
        attrs.update(input_zero_point=zp_in, output_zero_point=zp, act_min=act_min, act_max=act_max)
        if clamp:
            self.emit(node, MAC_OPS[float_op], inputs, attrs, scale, zp)
        else:
            pre = self.emit(node, MAC_OPS[float_op], inputs, attrs, scale, zp, name=f"{node.output.name}:pre")
            self.table(node, pre, node.epilogue)

    def table(self, node, x, functions):
        """int8 -> int8 lookup table of the unary ops `functions` (applied in order)."""
        s_in, zp_in = qp(x)
        scale, zp = self.params(node.output.name, node)

        def fn(real):
            for op, attrs in functions:
                real = get(op).numpy(real.astype(np.float32), **attrs)
            return real

        lut = self.out.constant(f"{node.name}:lut", arith.lookup_table(fn, s_in, zp_in, scale, zp))
        return self.emit(node, "qlut", [x, lut], {}, scale, zp)

    def convert_batch_norm(self, node):
        """Inference batch norm is a per-channel affine map: an int8 1x1 depthwise conv."""
        x = node.inputs[0]
        if len(x.type.shape) != 4 or node.attrs.get("axis", -1) not in (-1, 3):
            raise QuantizeError(f"Layer '{node.layer or node.name}': int8 batch_norm needs a channels-last 4-D input.")
        mean, variance, gamma, beta = (v.data.astype(np.float64) for v in node.inputs[1:])
        a = gamma / np.sqrt(variance + node.attrs.get("epsilon", 1e-3))
        kernel = a.astype(np.float32).reshape(1, 1, -1, 1)
        scales = arith.weight_scales(kernel.reshape(1, 1, -1), axis=-1)
        wq = arith.quantize_weights(kernel.reshape(1, 1, -1), scales, axis=-1).reshape(kernel.shape)
        self.mac(node, "depthwise_conv", self.int8(x), wq, scales, (beta - mean * a).astype(np.float32),
                 {"strides": 1, "padding": "valid", "dilation": 1})

    def convert_add(self, node):
        a, b = (self.int8(v) for v in node.inputs)
        (sa, za), (sb, zb) = qp(a), qp(b)
        clamp = is_clamp(node.epilogue)
        scale, zp = self.params(node.output.name if clamp else f"{node.output.name}:pre", node)
        twice_max = 2.0 * max(sa, sb)
        (ma, ea), (mb, eb) = arith.quantize_multiplier(sa / twice_max), arith.quantize_multiplier(sb / twice_max)
        mo, eo = arith.quantize_multiplier(twice_max / ((1 << arith.ADD_LEFT_SHIFT) * scale))
        act_min, act_max = clamp_range(node.epilogue if clamp else (), scale, zp)
        attrs = dict(a_zero_point=za, b_zero_point=zb, a_multiplier=ma, a_shift=ea, b_multiplier=mb, b_shift=eb,
                     output_zero_point=zp, output_multiplier=mo, output_shift=eo, act_min=act_min, act_max=act_max)
        if clamp:
            self.emit(node, "qadd", [a, b], attrs, scale, zp)
        else:
            self.table(node, self.emit(node, "qadd", [a, b], attrs, scale, zp, name=f"{node.output.name}:pre"),
                       node.epilogue)

    def convert_passthrough(self, node):
        x = self.int8(node.inputs[0])
        self.emit(node, node.op, [x], node.attrs, *qp(x))

    def convert_avg_pool(self, node):
        x = self.int8(node.inputs[0])
        self.emit(node, "qavg_pool", [x], node.attrs, *qp(x))

    def convert_reduce_mean(self, node):
        x = self.int8(node.inputs[0])
        s_in, zp_in = qp(x)
        scale, zp = self.params(node.output.name, node)
        count = x.type.size // node.output.type.size
        multiplier, shift = arith.quantize_multiplier(s_in / (scale * count))
        attrs = dict(axes=node.attrs["axes"], keepdims=node.attrs.get("keepdims", False), input_zero_point=zp_in,
                     output_zero_point=zp, multiplier=multiplier, shift=shift)
        self.emit(node, "qmean", [x], attrs, scale, zp)

    def convert_softmax(self, node):
        x = self.int8(node.inputs[0])
        axis = node.attrs.get("axis", -1)
        if axis not in (-1, len(x.type.shape) - 1):
            raise QuantizeError(f"Layer '{node.layer or node.name}': int8 softmax works on the last axis only.")
        table = self.out.constant(f"{node.name}:exp", arith.softmax_table(qp(x)[0]))
        self.emit(node, "qsoftmax", [x, table], {"axis": -1}, arith.SOFTMAX_SCALE, arith.SOFTMAX_ZERO_POINT)

    def convert_table(self, node):
        self.table(node, self.int8(node.inputs[0]), [(node.op, node.attrs)] + list(node.epilogue))

    def convert_concatenate(self, node):
        scale, zp = self.params(node.output.name, node)
        inputs = [self.rescaled(self.int8(v), scale, zp) for v in node.inputs]
        self.emit(node, "concatenate", inputs, node.attrs, scale, zp)

    def rescaled(self, x, scale, zp):
        """x requantized to (scale, zp) unless it already has them."""
        s_in, zp_in = qp(x)
        if (s_in, zp_in) == (scale, zp):
            return x
        multiplier, shift = arith.quantize_multiplier(s_in / scale)
        node = self.out.add_node("requantize", [x], dict(multiplier=multiplier, shift=shift, input_zero_point=zp_in,
                                                        output_zero_point=zp), name=f"{x.name}:rq")
        return self.typed(node.output, scale, zp)

    def convert_pad(self, node):
        x = self.int8(node.inputs[0])
        s_in, zp_in = qp(x)
        value = float(arith.quantize_float(node.attrs.get("value", 0.0), s_in, zp_in))
        self.emit(node, "pad", [x], dict(node.attrs, value=value), s_in, zp_in)

    def convert_fake_quant(self, node):
        """A QAT range marker: its range already sits on its input, so it disappears."""
        scale, zp = self.params(node.output.name, node)
        self.map[id(node.output)] = self.rescaled(self.int8(node.inputs[0]), scale, zp)


def _method(op):
    if op in MAC_OPS:
        return "mac"
    if op in PASSTHROUGH_OPS:
        return "passthrough"
    if op in TABLE_OPS:
        return "table"
    return op


def qp(value):
    """(scale, zero_point) of a per-tensor int8 value."""
    return value.type.quant.scale[0], value.type.quant.zero_point[0]


def clamp_range(epilogue, scale, zero_point):
    """int8 output clamp of a fused ReLU / capped ReLU (TFLite's CalculateActivationRangeQuantized)."""
    lo, hi = arith.QMIN, arith.QMAX
    if epilogue:
        attrs = epilogue[0][1]
        lo = max(lo, zero_point)
        if attrs.get("max_value") is not None:
            hi = min(hi, zero_point + int(arith.round_half_away(attrs["max_value"] / scale)))
    return int(lo), int(hi)
