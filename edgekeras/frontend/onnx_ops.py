"""Converters from ONNX ops to edgekeras ops, one function per ONNX op (or family).

A converter reads its inputs through the importer (`get`, `const`, `tensor`), emits IR nodes with
`emit` and binds the node's outputs with `set_output`. Nodes whose inputs are all constants are
evaluated here with NumPy instead (`_FOLD`), which removes the shape arithmetic exporters leave.
"""

import numpy as np

from edgekeras.frontend.errors import ModelImportError
from edgekeras.ops.windows import pad_pairs

CONVERTERS = {}
_FOLD = {}


def converter(*op_types, fold=None):
    def register(fn):
        for op_type in op_types:
            CONVERTERS[op_type] = fn
            if fold is not None:
                _FOLD[op_type] = fold
        return fn

    return register


def convert_node(imp, node):
    if node.domain not in ("", "ai.onnx") or node.op_type not in CONVERTERS:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            return imp.set_output(_constant_value(imp, node))
        kind = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
        raise ModelImportError(f"unsupported ONNX op {kind} (node '{imp.current}'); supported ONNX ops: "
                               f"{', '.join(sorted(CONVERTERS) + ['Constant'])}.")
    inputs = [imp.get(i) for i in range(len(node.input))]
    fold = _FOLD.get(node.op_type)
    if fold is not None and all(x is None or isinstance(x, np.ndarray) for x in inputs) and any(
            x is not None for x in inputs):
        return imp.set_output(np.asarray(fold(imp, *inputs, **imp.attrs(node))))
    CONVERTERS[node.op_type](imp, **imp.attrs(node))


def fail(imp, why):
    raise ModelImportError(f"{imp.node.op_type} node '{imp.current}': {why}")


def _constant_value(imp, node):
    import onnx.numpy_helper

    attrs = imp.attrs(node)
    if "value" in attrs:
        return onnx.numpy_helper.to_array(attrs["value"])
    for key, dtype in (("value_float", np.float32), ("value_floats", np.float32), ("value_int", np.int64),
                       ("value_ints", np.int64)):
        if key in attrs:
            return np.asarray(attrs[key], dtype)
    return fail(imp, f"only dense constants are supported, got attributes {sorted(attrs)}")


# ---- layout helpers -------------------------------------------------------------------------------
def channels_last(rank):
    """The perm taking (N, C, *spatial) to (N, *spatial, C), and its inverse."""
    to_last = (0,) + tuple(range(2, rank)) + (1,)
    return to_last, tuple(int(i) for i in np.argsort(to_last))


def as_channels_last(imp, x, op, inputs, **attrs):
    """transpose(NC...→N...C) → op → transpose back: edgekeras's spatial ops are channels-last."""
    to_last, to_first = channels_last(len(x.type.shape))
    y = imp.emit(op, [imp.emit("transpose", [x], perm=to_last)] + inputs, **attrs)
    return imp.emit("transpose", [y], perm=to_first)


def window_padding(imp, x_shape, kernel, strides, dilations, auto_pad="NOTSET", pads=None):
    """ONNX auto_pad / pads as (lo, hi) pairs per spatial axis."""
    rank = len(kernel)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        pairs = pad_pairs(x_shape[2:], kernel, strides, dilations, "same")
        return tuple((hi, lo) for lo, hi in pairs) if auto_pad == "SAME_LOWER" else pairs
    if auto_pad == "VALID":
        return ((0, 0),) * rank
    if auto_pad != "NOTSET":
        fail(imp, f"unknown auto_pad {auto_pad!r}")
    pads = list(pads or [0] * (2 * rank))
    return tuple((int(pads[i]), int(pads[i + rank])) for i in range(rank))


def _window_attrs(imp, x, kernel, strides=None, dilations=None, auto_pad="NOTSET", pads=None):
    rank = len(kernel)
    strides = tuple(strides or (1,) * rank)
    dilations = tuple(dilations or (1,) * rank)
    return strides, dilations, window_padding(imp, x.type.shape, kernel, strides, dilations, auto_pad, pads)


# ---- convolution and linear -----------------------------------------------------------------------
@converter("Conv")
def _conv(imp, group=1, kernel_shape=None, strides=None, dilations=None, auto_pad="NOTSET", pads=None):
    x, w, bias = imp.tensor(0), imp.const(1, "the weight"), imp.get(2)
    kernel = tuple(w.shape[2:])
    if kernel_shape is not None and tuple(kernel_shape) != kernel:
        fail(imp, f"kernel_shape {tuple(kernel_shape)} does not match the weight's shape {w.shape}")
    strides, dilations, pairs = _window_attrs(imp, x, kernel, strides, dilations, auto_pad, pads)
    spatial = tuple(range(2, w.ndim))
    channels = x.type.shape[1]
    if group == channels and group > 1 and w.shape[1] == 1:
        # (C * m, 1, *k) → (*k, C, m): output channel c * m + k reads input channel c, as Keras.
        w = w.reshape((channels, w.shape[0] // channels) + kernel).transpose(tuple(range(2, w.ndim)) + (0, 1))
        op, extra = "depthwise_conv", {}
    else:
        w = w.transpose(spatial + (1, 0))  # (O, I/g, *k) → (*k, I/g, O)
        op, extra = "conv", ({"groups": int(group)} if group != 1 else {})
    inputs = [imp.materialize(f"{imp.node.input[1]}/kernel", np.ascontiguousarray(w, x.type.dtype))]
    if bias is not None:
        inputs.append(imp.tensor(2, like=x))
    imp.set_output(as_channels_last(imp, x, op, inputs, strides=strides, padding=pairs, dilation=dilations,
                                    **extra))


@converter("Gemm")
def _gemm(imp, alpha=1.0, beta=1.0, transA=0, transB=0):
    x, w, c = imp.tensor(0), imp.const(1, "B (the weight)"), imp.get(2)
    if transA:
        fail(imp, "transA=1 is not supported (the activation must be the row operand)")
    w = (w.T if transB else w) * np.float32(alpha)
    inputs = [x, imp.materialize(f"{imp.node.input[1]}/kernel", w.astype(x.type.dtype))]
    if c is not None:
        units = w.shape[1]
        if isinstance(c, np.ndarray) and c.size in (1, units):
            inputs.append(imp.materialize(f"{imp.node.input[2]}/bias",
                                          np.broadcast_to(c.reshape(-1) * beta, (units,)).astype(x.type.dtype)))
        else:
            fail(imp, f"C must be a constant bias of {units} values, got {_describe(c)}")
    imp.set_output(imp.emit("dense", inputs))


@converter("MatMul")
def _matmul(imp):
    x, w = imp.tensor(0), imp.const(1, "the second operand (the weight)")
    if w.ndim != 2:
        fail(imp, f"the weight must be 2-D, got shape {w.shape}")
    imp.set_output(imp.emit("dense", [x, imp.materialize(imp.node.input[1], w.astype(x.type.dtype))]))


def _describe(value):
    return f"a tensor of shape {value.shape}" if isinstance(value, np.ndarray) else f"a computed tensor {value}"


# ---- elementwise ----------------------------------------------------------------------------------
_BINARY = {"Add": ("add", np.add), "Sub": ("subtract", np.subtract), "Mul": ("multiply", np.multiply),
           "Max": ("maximum", np.maximum), "Min": ("minimum", np.minimum), "Div": ("multiply", np.divide)}


def _fold_binary(op_type):
    def fold(imp, *xs):
        out = xs[0]
        for x in xs[1:]:
            out = _BINARY[op_type][1](out, x)
        return out.astype(xs[0].dtype)

    return fold


def _binary(imp):
    op_type = imp.node.op_type
    if op_type == "Add" and _fuse_bias(imp):
        return
    n = len(imp.node.input)
    if op_type in ("Max", "Min") and n == 1:
        return imp.set_output(imp.tensor(0))
    if n != 2 and op_type not in ("Max", "Min"):
        fail(imp, f"expected 2 inputs, got {n}")
    like = next((imp.get(i) for i in range(n) if not isinstance(imp.get(i), np.ndarray)), None)
    if op_type == "Div":
        divisor = imp.const(1, "the divisor")
        operands = [like, imp.materialize(imp.node.input[1] + "/reciprocal", (1.0 / divisor).astype(like.type.dtype))]
    else:
        operands = [imp.tensor(i, like=like) for i in range(n)]
    out = operands[0]
    for operand in operands[1:]:
        out = imp.emit(_BINARY[op_type][0], [out, operand])
    imp.set_output(out)


for _op_type in _BINARY:
    converter(_op_type, fold=_fold_binary(_op_type))(_binary)


def _fuse_bias(imp):
    """MatMul + Add(constant of `units` values) → one dense node with a bias."""
    a, b = imp.get(0), imp.get(1)
    if isinstance(a, np.ndarray):
        a, b = b, a
    producer = getattr(a, "producer", None)
    if (producer is None or producer.op != "dense" or len(producer.inputs) != 2 or not isinstance(b, np.ndarray)
            or a is not producer.output or sum(imp.uses(n) for n, v in imp.values.items() if v is a) != 1):
        return False
    units = a.type.shape[-1]
    if b.size != units or b.ndim > 1 and b.shape[-1] != units:
        return False
    producer.inputs.append(imp.materialize(imp.node.input[1 if a is imp.get(0) else 0],
                                           b.reshape(units).astype(a.type.dtype)))
    imp.set_output(a)
    return True


# ---- activations ----------------------------------------------------------------------------------
def _unary(op, **fixed):
    def convert(imp, **attrs):
        imp.set_output(imp.emit(op, [imp.tensor(0)], **{k: fn(attrs) for k, fn in fixed.items()}))

    return convert


converter("Relu")(_unary("relu"))
converter("Sigmoid")(_unary("sigmoid"))
converter("Tanh")(_unary("tanh"))
converter("HardSwish")(_unary("hard_swish"))
converter("LeakyRelu")(_unary("relu", negative_slope=lambda a: float(a.get("alpha", 0.01))))
converter("Elu")(_unary("elu", alpha=lambda a: float(a.get("alpha", 1.0))))


@converter("HardSigmoid")
def _hard_sigmoid(imp, alpha=0.2, beta=0.5):
    x = imp.tensor(0)
    if np.isclose(alpha, 1 / 6) and np.isclose(beta, 0.5):
        return imp.set_output(imp.emit("hard_sigmoid", [x]))
    dtype = x.type.dtype
    y = imp.emit("multiply", [x, imp.materialize(f"{imp.current}/alpha", np.asarray(alpha, dtype))])
    y = imp.emit("add", [y, imp.materialize(f"{imp.current}/beta", np.asarray(beta, dtype))])
    imp.set_output(imp.emit("relu", [y], max_value=1.0))


@converter("Clip")
def _clip(imp, min=None, max=None):  # noqa: A002 - ONNX's attribute names (opset < 11)
    x = imp.tensor(0)
    lo = imp.const(1, "min") if len(imp.node.input) > 1 else min
    hi = imp.const(2, "max") if len(imp.node.input) > 2 else max
    lo, hi = (None if v is None else float(np.asarray(v).reshape(())) for v in (lo, hi))
    if lo == 0.0:  # the ReLU / ReLU6 pattern: one fusable op
        return imp.set_output(imp.emit("relu", [x], max_value=hi))
    dtype = x.type.dtype
    if lo is not None:
        x = imp.emit("maximum", [x, imp.materialize(f"{imp.current}/min", np.asarray(lo, dtype))])
    if hi is not None:
        x = imp.emit("minimum", [x, imp.materialize(f"{imp.current}/max", np.asarray(hi, dtype))])
    imp.set_output(x)


@converter("Softmax")
def _softmax(imp, axis=None):
    x = imp.tensor(0)
    rank = len(x.type.shape)
    axis = (-1 if imp.opset >= 13 else 1) if axis is None else axis
    if imp.opset < 13 and axis % rank != rank - 1:
        fail(imp, f"softmax over the flattened axes {axis}.. (opset {imp.opset}) is supported on the last axis only")
    imp.set_output(imp.emit("softmax", [x], axis=int(axis)))


# ---- normalization, pooling, reductions -----------------------------------------------------------
@converter("BatchNormalization")
def _batch_norm(imp, epsilon=1e-5, momentum=None, training_mode=0):
    if training_mode or any(name for name in imp.node.output[1:]):
        fail(imp, "training-mode batch normalization (running statistics outputs) is not supported")
    x = imp.tensor(0)
    gamma, beta, mean, var = (imp.tensor(i, like=x) for i in range(1, 5))
    imp.set_output(imp.emit("batch_norm", [x, mean, var, gamma, beta], axis=1, epsilon=float(epsilon)))


def _pool(op):
    def convert(imp, kernel_shape, strides=None, pads=None, auto_pad="NOTSET", ceil_mode=0, dilations=None,
                count_include_pad=0, storage_order=0):
        if any(name for name in imp.node.output[1:]):
            fail(imp, "the Indices output is not supported")
        if any(d != 1 for d in dilations or ()):
            fail(imp, f"dilations {tuple(dilations)} are not supported")
        x = imp.tensor(0)
        kernel = tuple(kernel_shape)
        strides, _, pairs = _window_attrs(imp, x, kernel, strides, None, auto_pad, pads)
        if ceil_mode and _ceil_changes_size(x.type.shape[2:], kernel, strides, pairs):
            fail(imp, "ceil_mode=1 with a partial last window is not supported")
        to_last, to_first = channels_last(len(x.type.shape))
        y = imp.emit("transpose", [x], perm=to_last)
        if op == "avg_pool" and count_include_pad and any(lo or hi for lo, hi in pairs):
            y = imp.emit("pad", [y], pads=((0, 0),) + pairs + ((0, 0),))
            pairs = ((0, 0),) * len(kernel)
        y = imp.emit(op, [y], pool_size=kernel, strides=strides, padding=pairs)
        imp.set_output(imp.emit("transpose", [y], perm=to_first))

    return convert


def _ceil_changes_size(sizes, kernel, strides, pairs):
    return any((n + lo + hi - k) % s for n, k, s, (lo, hi) in zip(sizes, kernel, strides, pairs))


converter("MaxPool")(_pool("max_pool"))
converter("AveragePool")(_pool("avg_pool"))


def _global(op):
    def convert(imp):
        x = imp.tensor(0)
        imp.set_output(imp.emit(op, [x], axes=tuple(range(2, len(x.type.shape))), keepdims=True))

    return convert


converter("GlobalAveragePool")(_global("reduce_mean"))
converter("GlobalMaxPool")(_global("reduce_max"))


def _reduce(op):
    def convert(imp, axes=None, keepdims=1, noop_with_empty_axes=0):
        x = imp.tensor(0)
        if len(imp.node.input) > 1 and imp.node.input[1]:
            axes = imp.const(1, "axes")
        axes = [] if axes is None else [int(a) for a in np.asarray(axes).reshape(-1)]
        if not axes:
            if noop_with_empty_axes:
                return imp.set_output(x)
            axes = list(range(len(x.type.shape)))
        imp.set_output(imp.emit(op, [x], axes=tuple(axes), keepdims=bool(keepdims)))

    return convert


converter("ReduceMean")(_reduce("reduce_mean"))
converter("ReduceMax")(_reduce("reduce_max"))


# ---- data movement --------------------------------------------------------------------------------
def reshape_to(imp, x, shape):
    """A reshape to a full ONNX shape, whose batch axis must stay 1 (edgekeras's reshape keeps it)."""
    shape = tuple(int(d) for d in shape)
    if shape == tuple(x.type.shape):
        return x
    if not shape or shape[0] != 1:
        fail(imp, f"reshaping {x.type.shape} to {shape} moves the batch axis; edgekeras keeps batch 1 first")
    return imp.emit("reshape", [x], shape=shape[1:])


def _reshape_target(in_shape, target, allowzero=0):
    target = [int(d) for d in np.asarray(target).reshape(-1)]
    if not allowzero:
        target = [in_shape[i] if d == 0 else d for i, d in enumerate(target)]
    if -1 in target:
        known = int(np.prod([d for d in target if d != -1]))
        target[target.index(-1)] = int(np.prod(in_shape)) // max(known, 1)
    return tuple(target)


def _squeezed(shape, axes):
    axes = range(len(shape)) if axes is None else [int(a) % len(shape) for a in np.asarray(axes).reshape(-1)]
    drop = {a for a in axes if shape[a] == 1}
    return tuple(d for i, d in enumerate(shape) if i not in drop)


def _unsqueezed(shape, axes):
    rank = len(shape) + len(np.asarray(axes).reshape(-1))
    axes = sorted(int(a) % rank for a in np.asarray(axes).reshape(-1))
    out = list(shape)
    for a in axes:
        out.insert(a, 1)
    return tuple(out)


def _axes(imp, attrs_axes):
    return imp.const(1, "axes") if len(imp.node.input) > 1 and imp.node.input[1] else attrs_axes


@converter("Reshape", fold=lambda imp, x, shape, allowzero=0: x.reshape(_reshape_target(x.shape, shape, allowzero)))
def _reshape(imp, allowzero=0):
    x = imp.tensor(0)
    imp.set_output(reshape_to(imp, x, _reshape_target(x.type.shape, imp.const(1, "the shape"), allowzero)))


@converter("Flatten", fold=lambda imp, x, axis=1: x.reshape(int(np.prod(x.shape[:axis])), -1))
def _flatten(imp, axis=1):
    x = imp.tensor(0)
    shape = x.type.shape
    axis %= max(len(shape), 1)
    imp.set_output(reshape_to(imp, x, (int(np.prod(shape[:axis])), int(np.prod(shape[axis:])))))


@converter("Squeeze", fold=lambda imp, x, axes=None: x.reshape(_squeezed(x.shape, axes)))
def _squeeze(imp, axes=None):
    x = imp.tensor(0)
    imp.set_output(reshape_to(imp, x, _squeezed(x.type.shape, _axes(imp, axes))))


@converter("Unsqueeze", fold=lambda imp, x, axes: x.reshape(_unsqueezed(x.shape, axes)))
def _unsqueeze(imp, axes=None):
    x = imp.tensor(0)
    imp.set_output(reshape_to(imp, x, _unsqueezed(x.type.shape, _axes(imp, axes))))


@converter("Transpose", fold=lambda imp, x, perm=None: np.transpose(x, perm))
def _transpose(imp, perm=None):
    x = imp.tensor(0)
    perm = tuple(int(p) for p in perm) if perm is not None else tuple(reversed(range(len(x.type.shape))))
    imp.set_output(x if perm == tuple(range(len(perm))) else imp.emit("transpose", [x], perm=perm))


@converter("Concat", fold=lambda imp, *xs, axis: np.concatenate(xs, axis=axis))
def _concat(imp, axis):
    like = next((v for v in (imp.get(i) for i in range(len(imp.node.input))) if not isinstance(v, np.ndarray)))
    inputs = [imp.tensor(i, like=like) for i in range(len(imp.node.input))]
    imp.set_output(imp.emit("concatenate", inputs, axis=int(axis)))


@converter("Pad")
def _pad(imp, mode="constant", pads=None, value=0.0):
    if mode != "constant":
        fail(imp, f"mode {mode!r} is not supported (constant padding only)")
    x = imp.tensor(0)
    rank = len(x.type.shape)
    pads = imp.const(1, "pads") if len(imp.node.input) > 1 else pads
    value = imp.const(2, "constant_value") if len(imp.node.input) > 2 and imp.node.input[2] else value
    axes = imp.const(3, "axes") if len(imp.node.input) > 3 and imp.node.input[3] else range(rank)
    axes = [int(a) % rank for a in np.asarray(axes).reshape(-1)]
    pads = [int(p) for p in np.asarray(pads).reshape(-1)]
    pairs = [(0, 0)] * rank
    for i, axis in enumerate(axes):
        pairs[axis] = (pads[i], pads[i + len(axes)])
    if min(min(p) for p in pairs) < 0:
        fail(imp, f"negative pads {pads} (cropping) are not supported")
    imp.set_output(imp.emit("pad", [x], pads=tuple(pairs), value=float(np.asarray(value).reshape(()))))


@converter("Identity", "Dropout", fold=lambda imp, x, *rest, **attrs: x)
def _identity(imp, **attrs):
    if imp.node.op_type == "Dropout" and any(name for name in imp.node.output[1:]):
        fail(imp, "the mask output is not supported")
    imp.set_output(imp.get(0))


@converter("Cast", fold=lambda imp, x, to, **attrs: x.astype(_onnx_dtype(to)))
def _cast(imp, to, saturate=1, round_mode=None):
    x = imp.tensor(0)
    dtype = _onnx_dtype(to)
    if dtype.kind != "f":
        fail(imp, f"casts to {dtype.name} are not supported (only casts to float)")
    imp.set_output(x if x.type.dtype == dtype.name else imp.emit("cast", [x], dtype=dtype.name))


def _onnx_dtype(to):
    import onnx.helper

    return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(to))


# ---- shape arithmetic on constants (folded only) --------------------------------------------------
@converter("Shape")
def _shape(imp, start=0, end=None):
    value = imp.get(0)
    shape = value.shape if isinstance(value, np.ndarray) else value.type.shape
    imp.set_output(np.asarray(shape[start:end], np.int64))


@converter("Gather", fold=lambda imp, x, indices, axis=0: np.take(x, indices, axis=axis))
def _gather(imp, axis=0):
    fail(imp, "gathering from a computed tensor is not supported (only constant folding of shapes)")


def _fold_slice(imp, x, starts=None, ends=None, axes=None, steps=None):
    axes = range(len(starts)) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    index = [slice(None)] * x.ndim
    for axis, start, end, step in zip(axes, starts, ends, steps):
        index[int(axis)] = slice(int(start), int(end), int(step))
    return x[tuple(index)]


@converter("Slice", fold=_fold_slice)
def _slice(imp, **attrs):
    fail(imp, "slicing a computed tensor is not supported (only constant folding of shapes)")
