"""Per-layer quantization report: each int8 tensor dequantized and held against the float model's
value of the same name on the same inputs, worst first, so the layer that loses accuracy is obvious.
Both sides come from the NumPy references (the int8 side is the integer reference the compiled
artifact is bit-exact with)."""

import numpy as np

from edgekeras.harness.metrics import compare
from edgekeras.ir import interpreter
from edgekeras.quantize import arith
from edgekeras.quantize.convert import float_name


def snr_db(reference, actual):
    """Signal-to-quantization-noise ratio in dB (inf when exact; the report turns that into None, JSON
    having no infinity)."""
    ref, act = np.asarray(reference, np.float64), np.asarray(actual, np.float64)
    noise = np.sum((act - ref) ** 2)
    if noise == 0:
        return float("inf")
    signal = np.sum(ref * ref)
    return float(10 * np.log10(signal / noise)) if signal > 0 else float("-inf")


def layer_errors(float_graph, int8_graph, inputs):
    """Rows {layer, tensor, op, scale, zero_point, rmse, cosine, snr_db}, lowest SNR first (exact last)."""
    float_values = interpreter.run(float_graph, inputs, keep_all=True)
    int8_values = interpreter.run(int8_graph, _feeds(int8_graph, inputs), keep_all=True)
    rows = []
    for node in int8_graph.nodes:
        value = node.output
        name = float_name(value.name)
        if value.type.quant is None or name not in float_values:
            continue
        scale, zero_point = value.type.quant.scale[0], value.type.quant.zero_point[0]
        real = arith.dequantize_int8(int8_values[value.name], scale, zero_point)
        reference = float_values[name]
        metrics = compare(reference, real)
        rows.append({"layer": node.layer or name, "tensor": name, "op": node.op, "scale": scale,
                     "zero_point": zero_point, "rmse": metrics["rmse"], "cosine": metrics["cosine"],
                     "snr_db": snr_db(reference, real)})
    rows.sort(key=lambda r: r["snr_db"])
    for row in rows:
        row["snr_db"] = None if np.isinf(row["snr_db"]) and row["snr_db"] > 0 else row["snr_db"]
    return rows


def _feeds(int8_graph, inputs):
    """Float inputs, quantized first when the int8 graph takes int8 inputs."""
    feeds = []
    for value, x in zip(int8_graph.inputs, inputs):
        if value.type.dtype == "int8":
            x = arith.quantize_float(x, value.type.quant.scale[0], value.type.quant.zero_point[0])
        feeds.append(x)
    return feeds


def format_rows(rows, limit=None):
    """The report as an aligned text table."""
    lines = [f"{'layer':<28} {'op':<16} {'scale':>10} {'zp':>5} {'rmse':>10} {'cosine':>8} {'snr_db':>7}"]
    for r in rows[:limit]:
        lines.append(f"{r['layer'][:28]:<28} {r['op']:<16} {r['scale']:>10.4g} {r['zero_point']:>5} "
                     f"{r['rmse']:>10.4g} {r['cosine']:>8.5f} {'exact' if r['snr_db'] is None else format(r['snr_db'], '.1f'):>7}")
    return "\n".join(lines)
