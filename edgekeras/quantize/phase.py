"""The compiler's `quantize` phase: calibration (or QAT ranges) -> int8 graph -> integer-only check,
plus the manifest section that lets `verify` rebuild the exact integer reference later."""

from dataclasses import dataclass, field
from typing import Optional

from edgekeras.quantize.check import check_integer_only
from edgekeras.quantize.convert import QuantizeError, fake_quant_ranges, layer_matches, quantize_graph

SCHEME = "tflite-int8"
REPORT_SAMPLES = 64  # calibration samples the compile-time per-layer report runs on


@dataclass
class QuantizeOptions:
    """What `--quantize int8` was given. `calib`: .npz path or arrays; `observers`: {tensor or layer
    name: observer spec} overriding `observer` per tensor."""

    calib: object = None
    calib_samples: Optional[int] = None
    io: str = "float"
    observer: str = "minmax"
    observers: dict = field(default_factory=dict)
    keep_float: tuple = ()


def quantize_phase(graph, target, options):
    """(int8 graph, manifest section) for the optimized float `graph`."""
    from edgekeras.quantize.calibrate import collect_ranges, load_calibration
    from edgekeras.quantize.report import layer_errors

    _check_keep_float(graph, target, options.keep_float)
    ranges, inputs = {}, None
    if options.calib is not None:
        inputs = load_calibration(options.calib, graph, options.calib_samples)
        ranges = collect_ranges(graph, inputs, options.observer, options.observers)
    qat = fake_quant_ranges(graph)
    if inputs is None and not qat:
        raise QuantizeError("int8 quantization needs calibration data (--calib FILE.npz, or calib= in Python) "
                            "unless the model was trained with edgekeras.quantize.quantize_model.")
    ranges.update(qat)
    int8_graph = rebuild(graph, {"ranges": ranges, "io": options.io, "keep_float": list(options.keep_float)})
    rows = layer_errors(graph, int8_graph, [a[:REPORT_SAMPLES] for a in inputs]) if inputs is not None else []
    section = {
        "scheme": SCHEME, "io": options.io, "observer": options.observer, "observers": dict(options.observers),
        "calib_samples": 0 if inputs is None else int(len(inputs[0])), "qat_ranges": len(qat),
        "keep_float": list(options.keep_float), "ranges": {k: [float(lo), float(hi)] for k, (lo, hi) in ranges.items()},
        "layers": rows,
    }
    return int8_graph, section


def rebuild(graph, section):
    """The int8 graph a manifest's quantize section describes (deterministic: no calibration rerun)."""
    ranges = {k: tuple(v) for k, v in section["ranges"].items()}
    int8_graph = quantize_graph(graph, ranges, section["io"], tuple(section["keep_float"]))
    check_integer_only(int8_graph, tuple(section["keep_float"]))
    return int8_graph


def _check_keep_float(graph, target, names):
    if not names:
        return
    if not target.extra.get("fpu", True):
        raise QuantizeError(f"--keep-float needs a float unit; target '{target.name}' has none.")
    layers = sorted({n.layer or n.name for n in graph.nodes})
    for name in names:
        if not any(layer_matches(n, [name]) for n in graph.nodes):
            raise QuantizeError(f"--keep-float {name}: no such layer. Layers: {', '.join(layers)}.")
