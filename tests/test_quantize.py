"""The quantize phase through the compiler, the Python API and the CLI: int8 graphs, --io int8,
--keep-float, the per-layer report, and the errors for inputs that cannot be quantized."""

import json
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))

import edgekeras as keras  # noqa: E402
import model_zoo as zoo  # noqa: E402
from edgekeras.cli import main  # noqa: E402
from edgekeras.compiler import compile_model  # noqa: E402
from edgekeras.harness.verify import verify  # noqa: E402
from edgekeras.ir import interpreter  # noqa: E402
from edgekeras.ir.graph import Graph  # noqa: E402
from edgekeras.quantize.check import check_integer_only  # noqa: E402
from edgekeras.quantize.convert import QuantizeError  # noqa: E402
from edgekeras.runtime import ArtifactError, load  # noqa: E402

LAYERS = {}  # Keras class name -> names of the digits CNN's layers of that class


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """(model file, calibration file, test data file) for the trained digits CNN. Layer names depend on
    what the process built before (Keras numbers them), so tests look them up with `layer_name`."""
    folder = tmp_path_factory.mktemp("digits")
    model = zoo.build("digits_cnn", keras)
    model.save(folder / "digits.keras")
    LAYERS.update({cls: [layer.name for layer in model.layers if type(layer).__name__ == cls]
                   for cls in ("Conv2D", "Dense")})
    x, y = zoo.data("digits_cnn", 120, seed=3)
    np.savez(folder / "calib.npz", x=x[:60])
    np.savez(folder / "test.npz", x=x[60:], y=y[60:])
    return folder / "digits.keras", folder / "calib.npz", folder / "test.npz"


def test_int8_io_exposes_int8_tensors_with_their_parameters(digits, tmp_path):
    model, calib, test = digits
    result = compile_model(model, "host", tmp_path, quantize="int8", calib=calib, io="int8")
    spec_in, spec_out = result.manifest["inputs"][0], result.manifest["outputs"][0]
    assert spec_in["dtype"] == spec_out["dtype"] == "int8"
    assert spec_out["scale"] == 1 / 256 and spec_out["zero_point"] == -128  # TFLite's softmax output
    header = (tmp_path / "model.h").read_text()
    assert "EK_INPUT_0_SCALE" in header and f"EK_INPUT_0_ZERO_POINT ({spec_in['zero_point']})" in header
    artifact = load(tmp_path)
    x = np.load(test)["x"]
    with pytest.raises(ArtifactError, match="int8"):
        artifact.predict(x)
    q = np.clip(np.round(x / spec_in["scale"]) + spec_in["zero_point"], -128, 127).astype(np.int8)
    got = artifact.predict(q)
    assert got.dtype == np.int8
    np.testing.assert_array_equal(got, interpreter.run(result.graph, [q])[result.graph.outputs[0].name])
    assert verify(model, tmp_path, data=test)["passed"]


def test_every_op_between_the_edges_is_integer(digits):
    model, calib, _ = digits
    graph = compile_model(model, "host", quantize="int8", calib=calib, stop_after="quantize").graph
    assert graph.nodes[0].op == "quantize" and graph.nodes[-1].op == "dequantize"
    assert all(v.type.dtype == "int8" for n in graph.nodes[:-1] for v in n.outputs)
    assert {n.op for n in graph.nodes} >= {"qconv", "qdepthwise_conv", "qmean", "qdense", "qsoftmax", "max_pool"}


def test_the_integer_check_names_a_float_op():
    g = Graph("mixed")
    x = g.add_input("x", (1, 4))
    q = g.add_node("quantize", [x], {"scale": 0.1, "zero_point": 0}).output
    d = g.add_node("dequantize", [q], {"scale": 0.1, "zero_point": 0}).output
    g.outputs = [g.add_node("tanh", [d], layer="mystery").output]
    with pytest.raises(QuantizeError, match="Op 'tanh' \\(layer 'mystery'\\) computes in float32"):
        check_integer_only(g)


def test_keep_float_leaves_a_layer_in_float_and_stays_bit_exact(digits, tmp_path):
    model, calib, test = digits
    conv = LAYERS["Conv2D"][1]
    result = compile_model(model, "host", tmp_path, quantize="int8", calib=calib, keep_float=[conv])
    kept = [n for n in result.graph.nodes if n.layer == conv]
    assert kept and all(n.op == "conv" and n.output.type.dtype == "float32" for n in kept)
    assert result.manifest["quantize"]["keep_float"] == [conv]
    report = verify(model, tmp_path, data=test)
    assert report["passed"] and report["outputs"][0]["bit_exact"]


def test_observer_choices_are_recorded(digits, tmp_path):
    model, calib, _ = digits
    dense = LAYERS["Dense"][0]
    result = compile_model(model, "host", tmp_path, quantize="int8", calib=calib, observer="percentile:99.9",
                           observers={dense: "mse"})
    section = result.manifest["quantize"]
    assert section["observer"] == "percentile:99.9" and section["observers"] == {dense: "mse"}
    rows = section["layers"]
    assert rows and all(a["snr_db"] is None or b["snr_db"] is None or a["snr_db"] <= b["snr_db"]
                        for a, b in zip(rows, rows[1:]))


@pytest.mark.parametrize("kwargs, message", [
    ({}, "needs calibration data"),
    ({"calib": np.zeros((0, 8, 8, 1), np.float32)}, "0 samples|empty"),
    ({"calib": np.full((4, 8, 8, 1), np.nan, np.float32)}, "NaN"),
    ({"calib": np.zeros((4, 7, 7, 1), np.float32)}, "shape"),
    ({"calib": np.zeros((4, 8, 8, 1), np.float32), "keep_float": ["nope"]}, "no such layer"),
    ({"calib": np.zeros((4, 8, 8, 1), np.float32), "io": "uint8"}, "io must be"),
])
def test_bad_quantization_input_is_a_clear_error(digits, kwargs, message):
    with pytest.raises(ValueError, match=message):
        compile_model(digits[0], "host", stop_after="quantize", quantize="int8", **kwargs)


def test_a_layer_without_an_int8_kernel_is_named(tmp_path):
    model = keras.Sequential([keras.Input(shape=(6,)), keras.layers.Dense(4),
                              keras.layers.LayerNormalization(name="norm"), keras.layers.Dense(2)])
    calib = np.random.default_rng(0).standard_normal((8, 6)).astype(np.float32)
    with pytest.raises(QuantizeError, match="Op 'layer_norm' \\(layer 'norm'\\) has no int8 kernel.*--keep-float norm"):
        compile_model(model, "host", quantize="int8", calib=calib, stop_after="quantize")
    result = compile_model(model, "host", tmp_path, quantize="int8", calib=calib, keep_float=["norm"])
    x = calib[:3]
    np.testing.assert_allclose(load(tmp_path).predict(x), model.predict(x, verbose=0), atol=0.1)
    assert result.manifest["quantize"]["keep_float"] == ["norm"]


def test_cli_compiles_inspects_and_verifies_int8(digits, tmp_path, capsys):
    model, calib, test = digits
    out = tmp_path / "art"
    assert main(["compile", str(model), "--target", "host", "--quantize", "int8", "--calib", str(calib),
                 "--calib-samples", "40", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "int8 (tflite-int8, io float): 40 calibration samples" in text and "worst layer" in text
    assert main(["inspect", str(out)]) == 0
    assert "Quantization: tflite-int8" in capsys.readouterr().out
    assert main(["verify", str(model), str(out), "--data", str(test), "--per-layer"]) == 0
    text = capsys.readouterr().out
    assert "bit-exact" in text and "per-layer quantization error" in text and "PASSED" in text
    assert main(["verify", str(model), str(out), "--data", str(test), "--per-layer", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["outputs"][0]["bit_exact"] and report["quantization"][0]["snr_db"] > 20


@pytest.mark.parametrize("extra, message", [
    (["--calib", "missing.npz"], "calib|missing.npz"),
    ([], "needs calibration data"),
    (["--calib", "CALIB", "--observe", "dense"], "NAME=OBSERVER|TENSOR_OR_LAYER=OBSERVER"),
    (["--calib", "CALIB", "--observer", "median"], "median"),
])
def test_cli_quantization_errors_are_one_line(digits, tmp_path, capsys, extra, message):
    model, calib, _ = digits
    extra = [str(calib) if e == "CALIB" else e for e in extra]
    code = main(["compile", str(model), "--target", "host", "--quantize", "int8", "-o", str(tmp_path / "a"), *extra])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert __import__("re").search(message, err), err
