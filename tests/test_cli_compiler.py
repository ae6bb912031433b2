"""`edgekeras compile | verify | inspect | targets`: reports for good input, exit 1 for a mismatching
artifact, one clear line and exit 2 for every error."""

import json

import numpy as np
import pytest

import edgekeras as keras
from edgekeras.cli import main
from edgekeras.ops.registry import get
from edgekeras.targets import all_targets

VERIFY_KEYS = {"model", "artifact", "target", "reference", "samples", "outputs", "passed"}
OUTPUT_KEYS = {"class_scores", "name", "max_abs_error", "rmse", "rel_l2", "cosine", "top1_agreement", "passed"}


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(code, out, err, *fragments):
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err, err


def _save(model, path):
    model.save(path)
    return path


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A tiny classifier, a different model with the same input shape, and the first compiled for host."""
    root = tmp_path_factory.mktemp("cli")
    keras.utils.set_random_seed(0)
    model = _save(keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu", name="hidden"),
                                    keras.layers.Dense(3, activation="softmax", name="scores")]), root / "m.keras")
    other = _save(keras.Sequential([keras.Input((6,)), keras.layers.Dense(3, name="other")]), root / "other.keras")
    assert main(["compile", str(model), "--target", "host", "-o", str(root / "m_host")]) == 0
    assert main(["compile", str(other), "--target", "host", "-o", str(root / "other_host")]) == 0
    return root


# ---- argument and input errors ------------------------------------------------------------------
def test_usage_errors_are_one_line(capsys):
    _one_line_error(*_run(capsys, "compile", "m.keras"), "--target")
    _one_line_error(*_run(capsys, "verify", "m.keras", "art", "--reference", "tflite"), "invalid choice")
    _one_line_error(*_run(capsys, "verify", "m.keras", "art", "--atol", "tight"), "invalid float value")
    _one_line_error(*_run(capsys, "frobnicate"), "invalid choice")


def test_compile_errors_are_one_line(tmp_path, capsys, work):
    _one_line_error(*_run(capsys, "compile", work / "m.keras", "--target", "z80"),
                    "Unknown target 'z80'", "x86_64 (host)", "aarch64")
    _one_line_error(*_run(capsys, "compile", work / "m.keras", "--target", "host", "--stop-after", "bake"), "bake")
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a model")
    _one_line_error(*_run(capsys, "compile", bad, "--target", "host"), str(bad))
    _one_line_error(*_run(capsys, "compile", tmp_path / "model.tflite", "--target", "host"), "unknown model format")
    board = tmp_path / "board.toml"
    board.write_text('name = "board"\nkind = "linux"\n[tvm]\nkind = "llvm"\n'
                     '[compiler]\ncc = "no-such-gcc-xyz"\npackage = "gcc-board-cross"\n')
    _one_line_error(*_run(capsys, "compile", work / "m.keras", "--target", board, "-o", tmp_path / "b"),
                    "no-such-gcc-xyz", "apt-get install gcc-board-cross")


def test_verify_errors_are_one_line(tmp_path, capsys, work):
    _one_line_error(*_run(capsys, "verify", work / "m.keras", tmp_path), "not an edgekeras artifact")
    data = tmp_path / "d.npz"
    np.savez(data, x=np.zeros((2, 5), np.float32))
    _one_line_error(*_run(capsys, "verify", work / "m.keras", work / "m_host", "--data", data),
                    "needs (samples, 6)")
    np.savez(data, x=np.full((2, 6), np.nan, np.float32))
    _one_line_error(*_run(capsys, "verify", work / "m.keras", work / "m_host", "--data", data), "NaN")
    _one_line_error(*_run(capsys, "verify", work / "m.keras", work / "m_host", "--reference", "onnxruntime"),
                    "needs an .onnx model")
    _one_line_error(*_run(capsys, "verify", work / "m.keras", work / "m_host", "--min-agreement", "2"),
                    "min_agreement")


# ---- targets ------------------------------------------------------------------------------------
def test_targets_json_lists_every_target(capsys):
    code, out, _ = _run(capsys, "targets", "--json")
    rows = {row["name"]: row for row in json.loads(out)["targets"]}
    assert code == 0 and set(rows) == {t.name for t in all_targets()}
    host = rows["x86_64"]
    assert "host" in host["aliases"] and host["emulator"] is None and host["compiler"]["command"] == "gcc"
    assert host["compiler"]["installed"] is True
    assert rows["aarch64"]["emulator"]["package"] == "qemu-user"
    code, out, _ = _run(capsys, "targets")
    assert code == 0 and all(name in out for name in rows)


# ---- compile / inspect --------------------------------------------------------------------------
def test_compile_prints_folder_and_summary(tmp_path, capsys, work):
    code, out, _ = _run(capsys, "compile", work / "m.keras", "--target", "host", "-o", tmp_path / "a")
    lines = out.splitlines()
    assert code == 0 and lines[0] == str(tmp_path / "a") and (tmp_path / "a" / "manifest.json").is_file()
    assert "arena" in out and "lower bound" in out and "weights" in out and "kernels" in out


def test_compile_dump_ir_and_stop_after(capsys, work):
    code, out, _ = _run(capsys, "compile", work / "m.keras", "--target", "host", "--stop-after", "optimize",
                        "--dump-ir")
    assert code == 0 and "IR after phase 'import'" in out and "IR after phase 'optimize'" in out
    assert "Stopped after phase 'optimize'" in out


def test_inspect_artifact_and_model(capsys, work):
    code, out, _ = _run(capsys, "inspect", work / "m_host", "--json")
    report = json.loads(out)
    assert code == 0 and report["target"] == "x86_64"
    assert report["macs"] == 6 * 8 + 8 * 3 and {op["layer"] for op in report["ops"]} >= {"hidden", "scores"}
    assert report["arena_bytes"] >= report["arena_lower_bound_bytes"] > 0 and report["weight_bytes"] > 0
    code, out, _ = _run(capsys, "inspect", work / "m_host")
    assert code == 0 and "Arena bytes" in out and "hidden" in out
    code, out, _ = _run(capsys, "inspect", work / "m.keras", "--json")
    report = json.loads(out)
    assert code == 0 and report["ir_ops"] >= 2 and [r["name"] for r in report["layers"]] == ["hidden", "scores"]


# ---- verify -------------------------------------------------------------------------------------
def test_verify_json_passes(capsys, work):
    code, out, _ = _run(capsys, "verify", work / "m.keras", work / "m_host", "--json")
    report = json.loads(out)
    assert code == 0 and report["passed"] is True
    assert set(report) == VERIFY_KEYS and report["samples"] == 8 and report["target"] == "x86_64"
    (output,) = report["outputs"]
    assert set(output) == OUTPUT_KEYS and output["max_abs_error"] <= 1e-4 and output["top1_agreement"] == 1.0


def test_verify_with_labels_reports_accuracy(tmp_path, capsys, work):
    data = tmp_path / "d.npz"
    x = np.random.default_rng(1).standard_normal((5, 6)).astype(np.float32)
    np.savez(data, x=x, y=np.array([0, 1, 2, 0, 1]))
    code, out, _ = _run(capsys, "verify", work / "m.keras", work / "m_host", "--data", data, "--json")
    (output,) = json.loads(out)["outputs"]
    assert code == 0 and output["accuracy_reference"] == output["accuracy_artifact"]
    assert json.loads(out)["samples"] == 5


def test_verify_wrong_artifact_fails_with_exit_1(capsys, work):
    code, out, _ = _run(capsys, "verify", work / "m.keras", work / "other_host", "--json")
    report = json.loads(out)
    assert code == 1 and report["passed"] is False and report["outputs"][0]["passed"] is False
    code, out, _ = _run(capsys, "verify", work / "m.keras", work / "other_host")
    assert code == 1 and out.strip().endswith("FAILED")


def test_verify_per_layer_lists_layers_in_order(capsys, work):
    code, out, _ = _run(capsys, "verify", work / "m.keras", work / "m_host", "--per-layer", "--json")
    layers = json.loads(out)["per_layer"]
    assert code == 0 and layers["first_failing_layer"] is None
    assert [row["layer"] for row in layers["layers"]][-1] == "scores"
    assert "hidden" in [row["layer"] for row in layers["layers"]]


def test_verify_per_layer_names_the_first_bad_layer(capsys, work, monkeypatch):
    """A reference that goes wrong at the relu of layer 'hidden' makes every later value differ too;
    the report must name 'hidden', the first one."""
    monkeypatch.setattr(get("relu"), "numpy", lambda x, **attrs: np.full_like(x, 7.0))
    code, out, _ = _run(capsys, "verify", work / "m.keras", work / "m_host", "--per-layer", "--json")
    layers = json.loads(out)["per_layer"]
    assert layers["first_failing_layer"] == "hidden"
    assert not any(row["passed"] for row in layers["layers"] if row["layer"] == "scores")


# ---- independent references ---------------------------------------------------------------------
def test_verify_against_real_keras(tmp_path, capsys):
    real = pytest.importorskip("keras")
    real.utils.set_random_seed(0)
    model = real.Sequential([real.Input((5,)), real.layers.Dense(4, activation="tanh"), real.layers.Dense(2)])
    path = tmp_path / "real.keras"
    model.save(path)
    assert main(["compile", str(path), "--target", "host", "-o", str(tmp_path / "art")]) == 0
    capsys.readouterr()
    code, out, _ = _run(capsys, "verify", path, tmp_path / "art", "--reference", "keras", "--json")
    report = json.loads(out)
    assert code == 0 and report["reference"] == "keras" and report["passed"] is True


def _onnx_model(path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = numpy_helper.from_array(rng.standard_normal((4, 3)).astype(np.float32), "w")
    bias = numpy_helper.from_array(rng.standard_normal(3).astype(np.float32), "b")
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w", "b"], ["h"]), helper.make_node("Relu", ["h"], ["y"])], "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])], [weights, bias])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9  # onnxruntime 1.31 refuses the IR version onnx 1.23 writes by default
    onnx.save(model, path)
    return path


def test_inspect_onnx_model_reports_ir_ops(tmp_path, capsys):
    code, out, _ = _run(capsys, "inspect", _onnx_model(tmp_path / "tiny.onnx"), "--json")
    report = json.loads(out)
    assert code == 0 and report["ir_ops"] == 2 and report["macs"] == 4 * 3 and report["weight_bytes"] == 15 * 4


def test_verify_against_onnxruntime(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    path = _onnx_model(tmp_path / "tiny.onnx")
    assert main(["compile", str(path), "--target", "host", "-o", str(tmp_path / "art")]) == 0
    capsys.readouterr()
    for reference in ("onnxruntime", "edgekeras"):
        code, out, _ = _run(capsys, "verify", path, tmp_path / "art", "--reference", reference, "--json")
        assert code == 0 and json.loads(out)["passed"] is True, out
    _one_line_error(*_run(capsys, "verify", path, tmp_path / "art", "--reference", "keras"), ".keras or .h5")
