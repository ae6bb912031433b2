"""What `verify` needs for int8 artifacts: the integer reference rebuilt from the manifest (same float
graph, same ranges, hence the same int8 graph the artifact was compiled from) and the edge
conversions for artifacts compiled with `--io int8`."""

import numpy as np

from edgekeras.quantize import arith


def is_int8(manifest):
    return "quantize" in manifest


def float_graph(model_path):
    """The optimized float graph the compiler quantized."""
    from edgekeras.frontend import import_model
    from edgekeras.passes.pipeline import run_graph_phases

    return run_graph_phases(import_model(model_path))


def integer_reference(model_path, manifest):
    """(float graph, int8 graph) for the int8 artifact described by `manifest`."""
    from edgekeras.quantize.phase import rebuild

    graph = float_graph(model_path)
    return graph, rebuild(graph, manifest["quantize"])


def run_integer_reference(int8_graph, edge_inputs):
    """The integer reference's outputs, given inputs exactly as the artifact takes them."""
    from edgekeras.ir.interpreter import run

    values = run(int8_graph, list(edge_inputs))
    return [values[v.name] for v in int8_graph.outputs]


def to_edge(arrays, specs):
    """Float data as the artifact's inputs take it: quantized for int8 inputs, unchanged otherwise."""
    return [arith.quantize_float(a, s["scale"], s["zero_point"]) if s["dtype"] == "int8" else a
            for a, s in zip(arrays, specs)]


def from_edge(arrays, specs):
    """Artifact outputs as real numbers: dequantized for int8 outputs."""
    return [arith.dequantize_int8(a, s["scale"], s["zero_point"]) if s["dtype"] == "int8" else np.asarray(a)
            for a, s in zip(arrays, specs)]
