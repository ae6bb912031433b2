"""The peer int8 path: a Keras model quantized to a full-integer .tflite by TensorFlow's own
converter and run with LiteRT, so edgekeras's int8 results can be held against it.

The converter gets the same calibration samples edgekeras uses (one sample per representative
dataset step, batch 1) and must emit only int8 builtin kernels. With `io="float"` the .tflite keeps
float inputs/outputs (QUANTIZE/DEQUANTIZE at the edges, as edgekeras's `--io float`); with
`io="int8"` they are int8 and `run_litert` quantizes/dequantizes at the edges itself with each
tensor's scale and zero point. `tensor_quant_params` lists the scales the converter chose, to
explain differences from edgekeras's own.
"""

import contextlib
import io as _io
import os
import warnings
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

IO_KINDS = ("float", "int8")


def _as_inputs(x):
    """A model's inputs as a list of float32 arrays with a leading batch axis."""
    arrays = list(x) if isinstance(x, (list, tuple)) else [x]
    arrays = [np.asarray(a, np.float32) for a in arrays]
    if not arrays or len({len(a) for a in arrays}) != 1 or len(arrays[0]) == 0:
        raise ValueError("Calibration/input data must be one non-empty array per model input, "
                         "all with the same number of samples.")
    return arrays


def _load_keras(model):
    if isinstance(model, (str, Path)):
        import keras

        return keras.saving.load_model(str(model))
    return model


def convert_int8(model, calib_x, io="float", output=None):
    """Full-integer .tflite of a real Keras model (or a .keras/.h5 path) calibrated on `calib_x`.
    Returns the flatbuffer bytes, or the written path when `output` is given."""
    import tensorflow as tf

    if io not in IO_KINDS:
        raise ValueError(f"io must be one of {IO_KINDS}, got {io!r}.")
    samples = _as_inputs(calib_x)
    if not all(np.isfinite(a).all() for a in samples):
        raise ValueError("Calibration data contains NaN or Inf.")

    def representative_dataset():
        for n in range(len(samples[0])):
            yield [a[n:n + 1] for a in samples]

    converter = tf.lite.TFLiteConverter.from_keras_model(_load_keras(model))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative_dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if io == "int8":
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    with contextlib.redirect_stdout(_io.StringIO()), warnings.catch_warnings():
        # TensorFlow prints the whole saved signature, and warns that int8 io has no input statistics.
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
        flat = converter.convert()
    if output is None:
        return flat
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_bytes(flat)
    return Path(output)


# Kernel sets LiteRT can run a model with: its default (XNNPACK delegate where it applies), its
# built-in optimized kernels, or its reference kernels (the int8 specification written plainly).
KERNELS = ("default", "builtin", "reference")


def interpreter(tflite, num_threads=1, kernels="default", preserve_all_tensors=False):
    """An allocated LiteRT interpreter for a .tflite path or its bytes, on the kernel set `kernels`
    (`preserve_all_tensors` keeps intermediate tensors readable after invoke)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolvers = {"default": OpResolverType.AUTO, "builtin": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
                 "reference": OpResolverType.BUILTIN_REF}
    if kernels not in resolvers:
        raise ValueError(f"kernels must be one of {KERNELS}, got {kernels!r}.")
    source = {"model_content": bytes(tflite)} if isinstance(tflite, (bytes, bytearray)) else {"model_path": str(tflite)}
    interp = Interpreter(**source, num_threads=num_threads, experimental_op_resolver_type=resolvers[kernels],
                         experimental_preserve_all_tensors=preserve_all_tensors)
    interp.allocate_tensors()
    return interp


def _quant(detail):
    """(scale, zero_point) of a per-tensor quantized tensor detail; (0.0, 0) if not quantized."""
    scale, zero_point = detail["quantization"]
    return float(scale), int(zero_point)


def _to_tensor(x, detail):
    """A float sample as the tensor's dtype: quantized with its scale/zero point when int8."""
    from edgekeras.quantize.arith import quantize_float

    if detail["dtype"] == np.int8:
        return quantize_float(x, *_quant(detail))
    return np.asarray(x, detail["dtype"])


def _from_tensor(q, detail):
    from edgekeras.quantize.arith import dequantize_int8

    if detail["dtype"] == np.int8:
        return dequantize_int8(q, *_quant(detail))
    return np.asarray(q, np.float32)


def run_litert(tflite, x, kernels="default"):
    """Float outputs of the .tflite (path or bytes) on the batch `x`, one sample per invoke, on the
    kernel set `kernels`. Returns one array, or a list for several outputs."""
    interp = interpreter(tflite, kernels=kernels)
    inputs, outputs = interp.get_input_details(), interp.get_output_details()
    arrays = _as_inputs(x)
    if len(arrays) != len(inputs):
        raise ValueError(f"The .tflite takes {len(inputs)} input(s), got {len(arrays)}.")
    results = [[] for _ in outputs]
    for n in range(len(arrays[0])):
        for array, detail in zip(arrays, inputs):
            interp.set_tensor(detail["index"], _to_tensor(array[n:n + 1], detail))
        interp.invoke()
        for result, detail in zip(results, outputs):
            result.append(_from_tensor(interp.get_tensor(detail["index"]), detail))
    merged = [np.concatenate(r) for r in results]
    return merged[0] if len(merged) == 1 else merged


def tensor_quant_params(tflite):
    """Every quantized tensor of the .tflite as {name, dtype, shape, scales, zero_points}
    (per-channel tensors carry one scale per channel, activations one)."""
    interp = interpreter(tflite, kernels="builtin")
    rows = []
    for detail in interp.get_tensor_details():
        params = detail["quantization_parameters"]
        if len(params["scales"]) == 0:
            continue
        rows.append({"name": detail["name"], "dtype": np.dtype(detail["dtype"]).name,
                     "shape": tuple(int(d) for d in detail["shape"]),
                     "scales": np.asarray(params["scales"], np.float32),
                     "zero_points": np.asarray(params["zero_points"], np.int64)})
    return rows


def _ops(interp):
    """The interpreter's op list (LiteRT exposes it only through this private method)."""
    return interp._get_ops_details()  # noqa: SLF001


def float_ops(tflite):
    """Names of the ops that touch a float tensor, other than the QUANTIZE/DEQUANTIZE at the edges:
    empty for a full-integer model."""
    found = []
    for op in _ops(interpreter(tflite, kernels="builtin")):
        if op["op_name"] in ("QUANTIZE", "DEQUANTIZE"):
            continue
        if any(np.dtype(t).kind == "f" for t in (*op["operand_types"], *op["result_types"])):
            found.append(op["op_name"])
    return found


def io_quant_params(tflite):
    """{"inputs": [(scale, zero_point)], "outputs": [...]} of the int8 tensors at the model's edges:
    the quantized side of the edge QUANTIZE/DEQUANTIZE for float io, the io tensors for int8 io."""
    interp = interpreter(tflite, kernels="builtin")  # the delegate would hide the edge ops
    details = {d["index"]: d for d in interp.get_tensor_details()}
    ops = _ops(interp)
    result = {}
    for side, edge, key, op_name in (("inputs", interp.get_input_details(), "inputs", "QUANTIZE"),
                                     ("outputs", interp.get_output_details(), "outputs", "DEQUANTIZE")):
        params = []
        for detail in edge:
            if detail["dtype"] == np.int8:
                params.append(_quant(detail))
                continue
            # Float edge: the int8 tensor on the other side of the QUANTIZE / DEQUANTIZE op.
            other = "outputs" if key == "inputs" else "inputs"
            op = next(o for o in ops if o["op_name"] == op_name and detail["index"] in o[key])
            params.append(_quant(details[int(op[other][0])]))
        result[side] = params
    return result


# ---- same scales, layer by layer -------------------------------------------------------------------
# edgekeras op -> the TFLite builtin it becomes, for graphs the converter maps one op to one op.
TFLITE_OPS = {"dense": "FULLY_CONNECTED", "conv": "CONV_2D", "depthwise_conv": "DEPTHWISE_CONV_2D",
              "softmax": "SOFTMAX", "max_pool": "MAX_POOL_2D", "avg_pool": "AVERAGE_POOL_2D",
              "reduce_mean": "MEAN", "add": "ADD", "reshape": "RESHAPE"}


def matched_ops(graph, tflite):
    """[(edgekeras node, TFLite op)] pairing the float graph's nodes with the int8 .tflite's ops in
    order; ValueError when the two graphs are not one op to one op (e.g. an unfolded BatchNorm)."""
    ops = [o for o in _ops(interpreter(tflite, kernels="builtin")) if o["op_name"] not in ("QUANTIZE", "DEQUANTIZE")]
    ours = [TFLITE_OPS.get(n.op, n.op) for n in graph.nodes]
    theirs = [o["op_name"] for o in ops]
    if ours != theirs:
        raise ValueError(f"Graphs differ op by op: edgekeras {ours}, TFLite {theirs}.")
    return list(zip(graph.nodes, ops))


def ranges_from_tflite(graph, tflite):
    """{value name: (lo, hi)} that make edgekeras choose the .tflite's own activation scales and zero
    points (the int8 range [-128, 127] mapped back to reals), for `quantize_graph`."""
    interp = interpreter(tflite, kernels="builtin")
    details = {d["index"]: d for d in interp.get_tensor_details()}

    def span(index):
        scale, zero_point = _quant(details[int(index)])
        return scale * (-128 - zero_point), scale * (127 - zero_point)

    first = next(o for o in _ops(interp) if o["op_name"] != "QUANTIZE")
    ranges = {graph.inputs[0].name: span(first["inputs"][0])}
    for node, op in matched_ops(graph, tflite):
        ranges[node.output.name] = span(op["outputs"][0])
    return ranges


def layerwise_differences(int8_graph, float_graph, tflite, xq, kernels="builtin"):
    """{node name: (max |difference| in int8 steps, number of differing outputs)} between each
    edgekeras int8 node and the LiteRT op it matches, every node fed LiteRT's own int8 inputs (so
    differences do not accumulate). `xq`: int8 model inputs, batch first."""
    from edgekeras.ir.interpreter import run_node

    by_name = {node.name: node for node in int8_graph.nodes}  # the int8 graph keeps the float names
    pairs = [(by_name[node.name], op) for node, op in matched_ops(float_graph, tflite)]
    interp = interpreter(tflite, kernels=kernels, preserve_all_tensors=True)
    index = interp.get_input_details()[0]["index"]
    worst = {node.name: (0, 0) for node, _ in pairs}
    for n in range(len(xq)):
        interp.set_tensor(index, xq[n:n + 1])
        interp.invoke()
        for node, op in pairs:
            live = iter(op["inputs"])
            args = [v.data if v.is_constant else interp.get_tensor(int(next(live))) for v in node.inputs]
            diff = np.abs(run_node(node, args)[0].astype(np.int32) - interp.get_tensor(int(op["outputs"][0])))
            peak, count = worst[node.name]
            worst[node.name] = (max(peak, int(diff.max())), count + int((diff > 0).sum()))
    return worst
