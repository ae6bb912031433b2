"""`verify`: run a compiled artifact and a reference on the same inputs and report parity per output.

With `per_layer`, the model is compiled once more with every intermediate IR value as an extra
output and each is held against the NumPy interpreter on the imported IR, in execution order, so a
failure names the first layer that goes wrong (TFLM's layer-by-layer debugger, in one call).
"""

import tempfile

import numpy as np

from edgekeras.harness.data_files import match_inputs, read_arrays
from edgekeras.harness.int8 import from_edge, integer_reference, is_int8, run_integer_reference, to_edge
from edgekeras.harness.metrics import accuracy, compare, is_classifier, is_probability_rows
from edgekeras.quantize.report import layer_errors
from edgekeras.harness.references import as_list, predictor

RANDOM_BATCH = 8
RANDOM_SEED = 0
# An int8 model differs from its float model by design: it passes when it is bit-exact with the
# integer reference and agrees with the float model's top-1 on at least this fraction of samples.
INT8_MIN_AGREEMENT = 0.99
FLOAT_ATOL = 1e-4
# fp16 artifacts (CUDA: float16 weights and multiplies, float32 accumulation) differ from the float
# model by rounding. Measured on the zoo's class scores (the fp16 module run on the CPU, 64 held-out
# samples): 5.6e-4 DS-CNN, 1.1e-3 ResNet-8, 2.2e-3 digits CNN, 6.6e-3 MobileNet-v1 0.25, top-1 always
# the same. GPUs round half arithmetic a little differently (FMA), hence three times the worst.
FP16_ATOL = 2e-2


class DataError(ValueError):
    """A data file that cannot feed the model (unreadable, arrays missing, wrong shapes, NaN)."""


def verify(model_path, artifact_path, data=None, reference="edgekeras", per_layer=False, atol=None,
           min_agreement=None):
    """The parity report (a JSON-ready dict) of the artifact at `artifact_path` against `model_path`.
    Float artifacts must match within `atol` (default 1e-4, fp16 artifacts 2e-2); int8 artifacts must be
    bit-exact with the integer reference. Class-score outputs (softmax rows, or any classifier-shaped
    output when the data has labels) must agree on top-1 for `min_agreement` of the samples (default 1.0
    for float, 0.99 for int8); other outputs report top-1 agreement without being judged on it."""
    from edgekeras.runtime import load

    artifact = load(artifact_path)
    int8 = is_int8(artifact.manifest)
    min_agreement = (INT8_MIN_AGREEMENT if int8 else 1.0) if min_agreement is None else min_agreement
    atol = default_atol(artifact.manifest) if atol is None else atol
    if not atol >= 0:
        raise ValueError(f"atol must be >= 0, got {atol}.")
    if not 0 <= min_agreement <= 1:
        raise ValueError(f"min_agreement must lie in [0, 1], got {min_agreement}.")
    specs = artifact.manifest["inputs"]
    float_specs = [dict(spec, dtype="float32") if spec["dtype"] == "int8" else spec for spec in specs]
    inputs, labels = load_data(data, float_specs) if data is not None else (random_inputs(float_specs), None)
    expected = predictor(model_path, reference)(inputs)
    edge_inputs = to_edge(inputs, specs)
    raw = as_list(artifact.predict(edge_inputs))
    actual = from_edge(raw, artifact.manifest["outputs"])
    names = [spec["name"] for spec in artifact.manifest["outputs"]]
    if not len(expected) == len(actual) == len(names):
        raise ValueError(f"The model has {len(expected)} outputs but the artifact {len(actual)}: "
                         f"{artifact_path} was not compiled from {model_path}.")
    for name, ref, act in zip(names, expected, actual):
        if ref.shape != act.shape:
            raise ValueError(f"Output '{name}' of {artifact_path} has shape {act.shape} but the model's has "
                             f"{ref.shape}: the artifact was not compiled from {model_path}.")
    outputs = [_output_report(name, ref, act, labels, atol, min_agreement)
               for name, ref, act in zip(names, expected, actual)]
    report = {
        "model": str(model_path), "artifact": str(artifact_path), "target": artifact.manifest["target"],
        "reference": reference, "samples": int(len(inputs[0])), "outputs": outputs,
    }
    if getattr(artifact, "last_run", None) is not None:  # firmware on an emulated core
        report["stack_bytes_measured"] = artifact.last_run.stack_bytes
    if int8:
        graph, int8_graph = integer_reference(model_path, artifact.manifest)
        for row, got, want in zip(outputs, raw, run_integer_reference(int8_graph, edge_inputs)):
            mismatches = int(np.sum(np.asarray(got).reshape(want.shape) != want))
            row.update(integer_reference_mismatches=mismatches, bit_exact=mismatches == 0)
            row["passed"] = bool(row["bit_exact"] and _agrees(row, min_agreement))
        if per_layer:
            report["quantization"] = layer_errors(graph, int8_graph, inputs)
    elif per_layer:
        report["per_layer"] = layer_report(model_path, artifact.manifest["target"], inputs, atol)
    report["passed"] = all(o["passed"] for o in outputs)
    return report


def default_atol(manifest):
    """The largest absolute error a float or fp16 artifact may show against its float model."""
    return FP16_ATOL if manifest.get("precision") == "fp16" else FLOAT_ATOL


def _output_report(name, reference, actual, labels, atol, min_agreement):
    row = {"name": name, **compare(reference, actual)}
    classifier = is_classifier(np.asarray(reference))
    row["class_scores"] = bool(classifier and (labels is not None or is_probability_rows(reference)))
    if labels is not None and classifier:
        row["accuracy_reference"] = accuracy(reference, labels)
        row["accuracy_artifact"] = accuracy(actual, labels)
    row["passed"] = bool(row["max_abs_error"] <= atol and _agrees(row, min_agreement))
    return row


def _agrees(row, min_agreement):
    return not row["class_scores"] or row["top1_agreement"] >= min_agreement


def layer_report(model_path, target, inputs, atol):
    """Every intermediate value of a debug build against the interpreter: {"layers", "first_failing_layer"}."""
    from edgekeras.compiler import compile_model
    from edgekeras.frontend import import_model
    from edgekeras.ir.interpreter import run
    from edgekeras.runtime import load

    with tempfile.TemporaryDirectory(prefix="edgekeras-verify-") as tmp:
        debug = load(compile_model(model_path, target=target, output_dir=tmp, debug_outputs=True).path)
        names = [spec["name"] for spec in debug.manifest["outputs"]]
        actual = dict(zip(names, as_list(debug.predict(inputs))))
    graph = import_model(model_path)
    expected = run(graph, list(inputs), keep_all=True)
    rows = []
    for node in graph.nodes:
        for value in node.outputs:
            if value.name in actual:
                error = compare(expected[value.name], actual[value.name])["max_abs_error"]
                rows.append({"value": value.name, "op": node.op, "layer": node.layer, "max_abs_error": error,
                             "passed": bool(error <= atol)})
    first = next((row["layer"] or row["value"] for row in rows if not row["passed"]), None)
    return {"layers": rows, "first_failing_layer": first}


def random_inputs(specs, batch=RANDOM_BATCH, seed=RANDOM_SEED):
    """Seeded inputs of the manifest's shapes: standard normal floats, 0/1 for integer inputs (safe ids)."""
    rng = np.random.default_rng(seed)
    arrays = []
    for spec in specs:
        shape, dtype = (batch, *_sample_shape(spec)), np.dtype(spec["dtype"])
        sample = rng.integers(0, 2, shape) if dtype.kind in "iu" else rng.standard_normal(shape)
        arrays.append(sample.astype(dtype))
    return arrays


def load_data(path, specs):
    """(input arrays in manifest order, labels or None) from an .npz holding arrays named after the
    inputs, or a single `x`, and optionally labels `y`."""
    arrays = read_arrays(path, DataError, "data file")
    chosen = match_inputs(f"Data file {path}", arrays, [spec["name"] for spec in specs], DataError)
    inputs = [_checked(path, key, array, spec) for (key, array), spec in zip(chosen, specs)]
    samples = {len(a) for a in inputs}
    if len(samples) != 1:
        raise DataError(f"Data file {path}: the input arrays hold different numbers of samples {sorted(samples)}.")
    labels = arrays.get("y")
    if labels is not None and (labels.ndim == 0 or len(labels) != len(inputs[0])):
        raise DataError(f"Data file {path}: labels 'y' of shape {labels.shape} do not match "
                        f"{len(inputs[0])} samples.")
    return inputs, labels


def _checked(path, key, array, spec):
    want = _sample_shape(spec)
    if array.dtype.kind not in "biuf":
        raise DataError(f"Data file {path}: array '{key}' has dtype {array.dtype}; numbers are needed.")
    if array.ndim != len(want) + 1 or tuple(array.shape[1:]) != want or len(array) == 0:
        raise DataError(f"Data file {path}: array '{key}' has shape {array.shape}; input '{spec['name']}' needs "
                        f"(samples, {', '.join(map(str, want))}).")
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        raise DataError(f"Data file {path}: array '{key}' holds NaN or infinite values.")
    return array.astype(spec["dtype"])


def _sample_shape(spec):
    """The manifest's shapes carry batch 1 in front; data carries any number of samples there."""
    return tuple(int(d) for d in spec["shape"][1:])
