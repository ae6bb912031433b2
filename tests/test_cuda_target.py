"""CUDA targets (cuda, cuda-sm80, cuda-sm90), float and fp16.

Everywhere: each model compiles for each target and precision into a folder whose model.so carries
nvcc's fatbin with machine code for the target's architectures (when nvcc is installed), the manifest
says what is inside, the one-module Relax graph computes the float model's outputs (run on the CPU:
within 1e-4 in float, within verify's fp16 tolerance in fp16), and bad requests are one clear error.
Where the TVM runtime sees a GPU, the artifacts also run there: parity, verify, time_runs and bench.
"""

import functools
import os
import shutil
import struct
import subprocess
import sys

import numpy as np
import pytest

import edgekeras as keras
from edgekeras import runtime
from edgekeras.cli import main
from edgekeras.codegen.cuda_device_code import NVCC_ENV, cuda_payload, find_nvcc, packed_blob
from edgekeras.codegen.cuda_graph import graph_module
from edgekeras.compiler import CompileError, compile_model
from edgekeras.harness.bench import bench
from edgekeras.harness.verify import FLOAT_ATOL, FP16_ATOL, verify
from edgekeras.ir.graph import Graph
from edgekeras.runtime import ArtifactError
from edgekeras.targets import get_target

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))

import model_zoo as zoo  # noqa: E402

CHECK_SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "cuda_check.py")

MODELS = ("digits_cnn", "ds_cnn")
TARGETS = ("cuda", "cuda-sm80", "cuda-sm90")
PRECISIONS = ("float", "fp16")
SAMPLES = 16
ATOL = {"float": FLOAT_ATOL, "fp16": FP16_ATOL}
FATBIN_MAGIC = 0xBA55ED50
PTX, ELF = 1, 2  # kinds of fatbin images
EM_AARCH64 = 183


def _has_gpu():
    import tvm

    return tvm.cuda(0).exist


def gpu(test):
    return pytest.mark.gpu(pytest.mark.skipif(not _has_gpu(), reason="needs a CUDA GPU visible to the TVM runtime "
                                                                     "(tvm.cuda(0).exist)")(test))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("cuda")


@functools.lru_cache(maxsize=None)
def model(name):
    return zoo.build(name, keras)


@functools.lru_cache(maxsize=None)
def held_out(name):
    """(inputs, the float model's outputs) on held-out samples."""
    x, _ = zoo.data(name, SAMPLES, seed=1)
    return x, np.asarray(model(name).predict(x, verbose=0))


_artifacts = {}


def artifact(folder, name, target, precision):
    """The compile result for (model, target, precision), compiled once per module."""
    key = (name, target, precision)
    if key not in _artifacts:
        _artifacts[key] = compile_model(model(name), target=target, quantize=precision,
                                        output_dir=folder / "-".join(key))
    return _artifacts[key]


def fatbin_images(fatbin):
    """{(kind, sm)} of a fatbin: a header (u32 magic, u16 version, u16 header size, u64 images size)
    then images, each with a header (u16 kind, u16 version, u32 header size, u64 payload size, ...,
    u32 sm at byte 28) and its payload."""
    magic, _, header_size, total = struct.unpack_from("<IHHQ", fatbin, 0)
    assert magic == FATBIN_MAGIC
    images, pos = set(), header_size
    while pos < header_size + total:
        kind, _, image_header, payload = struct.unpack_from("<HHIQ", fatbin, pos)
        images.add((kind, struct.unpack_from("<I", fatbin, pos + 28)[0]))
        pos += image_header + payload
    return images


# ---- compile-only: everywhere ---------------------------------------------------------------------
@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", MODELS)
def test_artifact_carries_device_code_for_the_target(folder, name, target, precision):
    result = artifact(folder, name, target, precision)
    m, spec = result.manifest, get_target(target)
    assert sorted(p.name for p in result.path.iterdir()) == ["README.md", "manifest.json", "model.so"]
    assert (m["target"], m["target_kind"], m["precision"], m["arch"]) == (target, "cuda", precision, spec.tvm["arch"])
    assert m["inputs"] == [{"name": v.name, "shape": list(v.type.shape), "dtype": "float32"}
                           for v in result.graph.inputs]
    assert [o["shape"] for o in m["outputs"]] == [[1, held_out(name)[1].shape[1]]]
    assert m["macs"] == sum(op["macs"] for op in m["ops"]) > 0 and m["kernels"] > 0
    assert 0 < m["arena_lower_bound_bytes"] <= m["arena_bytes"] and m["weight_bytes"] > 0
    fmt, code = cuda_payload(packed_blob(result.path / "model.so"))
    if find_nvcc() is None:
        assert fmt == "cuda" and m["device_code"]["format"] == "cuda-source" and "nvcc" in m["device_code"]["note"]
        return
    sass, ptx = spec.extra["device"]["sass"], spec.extra["device"]["ptx"]
    assert fmt == "fatbin" and m["device_code"] == {"format": "fatbin", "sass": sass, "ptx": ptx,
                                                      "compiler": m["device_code"]["compiler"]}
    expected = {(ELF, int(arch[3:])) for arch in sass} | {(PTX, int(ptx[len("compute_"):]))}
    assert fatbin_images(code) == expected


def test_jetson_orin_library_is_aarch64_with_sm87_code(folder):
    if shutil.which(get_target("jetson-orin").cc) is None:
        pytest.skip("needs the aarch64 cross compiler (apt-get install gcc-aarch64-linux-gnu)")
    result = artifact(folder, "digits_cnn", "jetson-orin", "fp16")
    library = (result.path / "model.so").read_bytes()
    assert struct.unpack_from("<H", library, 18)[0] == EM_AARCH64
    fmt, code = cuda_payload(packed_blob(result.path / "model.so"))
    if find_nvcc() is not None:
        assert fmt == "fatbin" and fatbin_images(code) == {(ELF, 87), (PTX, 87)}


def test_fp16_halves_the_weights_and_keeps_float32_at_the_boundary(folder):
    single, half = (artifact(folder, "ds_cnn", "cuda-sm90", p).manifest for p in PRECISIONS)
    assert half["weight_bytes"] < 0.6 * single["weight_bytes"]
    assert [s["dtype"] for s in half["inputs"] + half["outputs"]] == ["float32", "float32"]


def _graph(name):
    from edgekeras.frontend import import_model
    from edgekeras.passes.pipeline import run_graph_phases

    return run_graph_phases(import_model(model(name)))


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("name", MODELS)
def test_one_module_graph_computes_the_float_model(name, precision):
    """The module the GPU runs, compiled for this CPU instead: the numbers the GPU must reproduce."""
    import tvm
    from tvm import relax

    module = graph_module(_graph(name), "cuda", precision)
    cpu = tvm.target.Target("llvm")
    vm = relax.VirtualMachine(tvm.compile(module, target=cpu, relax_pipeline=relax.get_default_pipeline(cpu)),
                              tvm.cpu())
    x, expected = held_out(name)
    got = np.concatenate([vm["main"](tvm.runtime.tensor(x[i:i + 1])).numpy() for i in range(len(x))])
    assert got.dtype == np.float32
    assert np.abs(got - expected).max() <= ATOL[precision]
    assert (got.argmax(1) == expected.argmax(1)).all()
    if precision == "fp16":
        assert "float16" in module.script()


def test_intermediate_values_can_be_outputs_too():
    """verify --per-layer compiles every value as an output: main then returns them all, in order."""
    import tvm
    from tvm import relax

    from edgekeras.ir.interpreter import run

    graph = _graph("digits_cnn")
    first = graph.nodes[0].output
    graph.outputs.append(first)
    cpu = tvm.target.Target("llvm")
    vm = relax.VirtualMachine(tvm.compile(graph_module(graph, "cuda"), target=cpu,
                                          relax_pipeline=relax.get_default_pipeline(cpu)), tvm.cpu())
    x = held_out("digits_cnn")[0][:1]
    scores, value = vm["main"](tvm.runtime.tensor(x))
    expected = run(graph, [x], keep_all=True)
    np.testing.assert_allclose(value.numpy(), expected[first.name], atol=1e-5)
    np.testing.assert_allclose(scores.numpy(), expected[graph.outputs[0].name], atol=1e-5)


def test_cli_compiles_fp16_for_cuda(folder, capsys):
    path = folder / "digits.keras"
    model("digits_cnn").save(path)
    code = main(["compile", str(path), "--target", "h100", "--quantize", "fp16", "-o", str(folder / "cli")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "target cuda-sm90" in out and "fp16 for sm_90; device code" in out


def test_check_script_prepares_inputs_and_expected_outputs(folder):
    path = folder / "digits-check.keras"
    model("digits_cnn").save(path)
    result = artifact(folder, "digits_cnn", "cuda-sm90", "fp16")
    out = folder / "check.npz"
    subprocess.run([sys.executable, CHECK_SCRIPT, "prepare", path, result.path, out, "--samples", "4"], check=True,
                   capture_output=True)
    data = np.load(out)
    assert float(data["atol"]) == FP16_ATOL and data["input_0"].shape == (4, 8, 8, 1)
    np.testing.assert_allclose(data["expected_0"], model("digits_cnn").predict(data["input_0"], verbose=0), atol=1e-6)


def test_without_nvcc_the_library_carries_source_and_says_so(folder, monkeypatch):
    monkeypatch.setenv(NVCC_ENV, "")
    result = compile_model(model("digits_cnn"), target="cuda-sm80", output_dir=folder / "no-nvcc")
    fmt, code = cuda_payload(packed_blob(result.path / "model.so"))
    assert fmt == "cuda" and b"__global__" in code
    assert result.manifest["device_code"]["format"] == "cuda-source"
    assert "compiles when it loads" in (result.path / "README.md").read_text()


# ---- bad input: one clear error -------------------------------------------------------------------
def test_int8_on_cuda_is_refused():
    with pytest.raises(CompileError, match="int8 is not supported on CUDA targets"):
        compile_model(model("digits_cnn"), target="cuda", quantize="int8")


def test_fp16_on_a_cpu_target_is_refused():
    with pytest.raises(CompileError, match="fp16 is built for CUDA targets only"):
        compile_model(model("digits_cnn"), target="x86_64", quantize="fp16")


def test_tuning_and_threads_for_cuda_are_refused():
    with pytest.raises(CompileError, match="dlight"):
        compile_model(model("digits_cnn"), target="cuda", tune=8)
    with pytest.raises(CompileError, match="--threads applies to CPU targets"):
        compile_model(model("digits_cnn"), target="cuda", threads=4)


def test_a_bad_nvcc_path_is_named(folder, monkeypatch):
    monkeypatch.setenv(NVCC_ENV, str(folder / "no-such-nvcc"))
    with pytest.raises(CompileError, match="no-such-nvcc.*not an executable nvcc"):
        compile_model(model("digits_cnn"), target="cuda-sm80", output_dir=folder / "bad-nvcc")


def test_an_op_without_a_kernel_is_named():
    g = Graph("up")
    x = g.add_input("x", (1, 4, 4, 2))
    k = g.constant("k", np.ones((2, 2, 3, 2), "float32"))
    g.outputs = [g.add_node("conv_transpose", [x, k], {"strides": 2}, layer="conv2d_transpose").output]
    with pytest.raises(ValueError, match=r"'conv_transpose' \(layer 'conv2d_transpose'\).*target 'cuda'"):
        graph_module(g, "cuda")


def test_unknown_precision_is_named():
    with pytest.raises(ValueError, match="'bf16'.*float, fp16"):
        graph_module(_graph("digits_cnn"), "cuda", "bf16")


@pytest.mark.skipif(_has_gpu(), reason="checks the error on machines without a GPU")
def test_loading_without_a_gpu_is_a_clear_error(folder):
    with pytest.raises(ArtifactError, match="sees no CUDA GPU"):
        runtime.load(artifact(folder, "digits_cnn", "cuda-sm80", "float").path)


# ---- on a GPU -------------------------------------------------------------------------------------
@gpu
@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("name", MODELS)
def test_runs_on_the_gpu_like_the_float_model(folder, name, precision):
    loaded = runtime.load(artifact(folder, name, "cuda", precision).path)
    x, expected = held_out(name)
    got = loaded.predict(x)
    assert got.shape == expected.shape and np.abs(got - expected).max() <= ATOL[precision]
    assert (got.argmax(1) == expected.argmax(1)).all()


@gpu
def test_verify_and_bench_on_the_gpu(folder):
    path = artifact(folder, "digits_cnn", "cuda", "fp16").path
    keras_file = folder / "digits-gpu.keras"
    model("digits_cnn").save(keras_file)
    assert verify(keras_file, path)["passed"]
    times = runtime.load(path).time_runs(held_out("digits_cnn")[0], runs=5, warmup=2)
    assert len(times) == 5 and all(t > 0 for t in times)
    report = bench(path, runs=5, warmup=2)
    assert report["precision"] == "fp16" and report["latency_ms"]["p50"] > 0
    data = folder / "gpu-check.npz"
    subprocess.run([sys.executable, CHECK_SCRIPT, "prepare", keras_file, path, data, "--samples", "4"], check=True)
    checked = subprocess.run([sys.executable, CHECK_SCRIPT, "check", path, data, "--runs", "5", "--warmup", "1"],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
