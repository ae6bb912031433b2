"""Cortex-M targets: the six target files, the firmware bundle (layout, -Werror builds with its Makefile
and CMake fragment, flash/RAM/stack figures and budgets), runtime.load and verify on the emulated
core, exact instruction counts through `edgekeras bench`, and the errors for bad input."""

import json
import shutil
import subprocess

import numpy as np
import pytest

import edgekeras as keras
from edgekeras.cli import main
from edgekeras.codegen.mcu_memory import BudgetError, parse_bytes
from edgekeras.compiler import CompileError, compile_model
from edgekeras.harness.bench import bench
from edgekeras.harness.verify import verify
from edgekeras.ir import interpreter
from edgekeras.quantize.convert import QuantizeError
from edgekeras.runtime import load
from edgekeras.targets import ToolMissingError, all_targets, get_target
from zoo_cases import zoo

CORES = ("cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55")
BOARDS = {"cortex-m4": (2 * 1024 * 1024, 640 * 1024), "cortex-m7": (2 * 1024 * 1024, 1400 * 1024)}

pytestmark = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in ("arm-none-eabi-gcc", "qemu-system-arm", "make")),
    reason="needs arm-none-eabi-gcc (apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi), "
           "qemu-system-arm (apt-get install qemu-system-arm) and make")


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """(model file, calibration file, held-out data file, bundle folder for cortex-m4 int8)."""
    folder = tmp_path_factory.mktemp("cortex_m")
    zoo.build("digits_cnn", keras).save(folder / "digits.keras")
    x, y = zoo.data("digits_cnn", 80, seed=3)
    np.savez(folder / "calib.npz", x=x[:48])
    np.savez(folder / "test.npz", x=x[48:], y=y[48:])
    compile_model(folder / "digits.keras", "cortex-m4", folder / "m4", calib=folder / "calib.npz")
    return folder / "digits.keras", folder / "calib.npz", folder / "test.npz", folder / "m4"


def test_the_six_cortex_m_targets_name_board_machine_and_fpu():
    targets = {t.name: t for t in all_targets() if t.is_mcu}
    assert sorted(targets) == sorted(CORES)
    for name, target in targets.items():
        assert target.tvm["mtriple"].startswith("thumbv") and target.tvm["mcpu"] == name
        assert f"-mcpu={name}" in target.cflags and target.cc == "arm-none-eabi-gcc"
        assert target.emulator[:2] == ("qemu-system-arm", "-M") and target.board.flash_bytes > 0
        assert target.extra["fpu"] is (name not in ("cortex-m0plus", "cortex-m3"))
    for name, sizes in BOARDS.items():
        assert (targets[name].board.flash_bytes, targets[name].board.ram_bytes) == sizes
    assert get_target("m4") is not None and get_target("m0+").name == "cortex-m0plus"


def test_bundle_holds_sources_build_files_and_memory_figures(digits):
    bundle = digits[3]
    names = {p.name for p in bundle.iterdir()}
    assert {"kernels.c", "model.c", "weights.c", "model.h", "ek_model_api.h", "ek_runtime.c", "Makefile",
            "CMakeLists.txt", "README.md", "manifest.json", "board"} <= names and "kernels.o" not in names
    assert "tvm/" not in (bundle / "kernels.c").read_text()  # builds without TVM headers
    assert "const uint8_t ek_weights" in (bundle / "weights.c").read_text()
    header = (bundle / "model.h").read_text()
    assert "EK_ARENA_BYTES" in header and "EK_INPUT_0_BYTES" in header
    manifest = json.loads((bundle / "manifest.json").read_text())
    memory = manifest["memory"]
    assert memory["flash_bytes"] == sum(memory["flash"].values()) > manifest["weight_bytes"]
    assert memory["flash"]["weights"] >= manifest["weight_bytes"]
    assert memory["ram"]["arena"] == manifest["arena_bytes"] and memory["ram"]["stack"] > 0
    assert (memory["board"], memory["flash_budget"], memory["ram_budget"]) == ("NUCLEO-L4R5ZI", *BOARDS["cortex-m4"])
    assert manifest["bundle"]["emit"] == "c" and "quantize" in manifest
    readme = (bundle / "README.md").read_text()
    assert "ek_model_init(arena, sizeof arena)" in readme and "ek_model_run()" in readme
    ld = (bundle / "board" / "board.ld").read_text()
    assert f"LENGTH = {BOARDS['cortex-m4'][0]}" in ld and f"LENGTH = {BOARDS['cortex-m4'][1]}" in ld


def test_bundle_makefile_builds_warning_free_library(digits, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(digits[3], copy)
    result = subprocess.run(["make", "-C", str(copy)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "-Wall -Wextra -Werror" in result.stdout and (copy / "build" / "libedgekeras_model.a").is_file()
    symbols = subprocess.run(["arm-none-eabi-nm", str(copy / "build" / "libedgekeras_model.a")],
                             capture_output=True, text=True).stdout
    assert " T ek_model_run" in symbols and " R ek_weights" in symbols  # weights read-only: flash


@pytest.mark.skipif(shutil.which("cmake") is None, reason="needs cmake (apt-get install cmake)")
def test_bundle_cmake_fragment_builds_the_library(digits, tmp_path):
    (tmp_path / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.16)\nset(CMAKE_SYSTEM_NAME Generic)\nset(CMAKE_C_COMPILER arm-none-eabi-gcc)\n"
        "set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)\nproject(app C)\n"
        f"add_subdirectory({digits[3]} edgekeras_model)\n")
    configure = subprocess.run(["cmake", "-S", str(tmp_path), "-B", str(tmp_path / "b")], capture_output=True,
                               text=True, timeout=300)
    assert configure.returncode == 0, configure.stderr
    build = subprocess.run(["cmake", "--build", str(tmp_path / "b")], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stdout + build.stderr
    assert (tmp_path / "b" / "edgekeras_model" / "libedgekeras_model.a").is_file()


def test_runtime_load_runs_the_firmware_and_measures_its_stack(digits):
    model, _, test, bundle = digits
    artifact = load(bundle)
    x = np.load(test)["x"][:5]
    scores = artifact.predict(x)
    assert scores.shape == (5, 10) and np.allclose(scores.sum(1), 1.0, atol=0.02)
    stack = artifact.last_run.stack_bytes
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert 0 < stack <= manifest["memory"]["ram"]["stack"]  # the measured stack stays within the bound
    report = verify(model, bundle, data=test)
    assert report["passed"] and report["outputs"][0]["bit_exact"] and report["stack_bytes_measured"] == stack


def test_bench_counts_the_same_instructions_every_time(digits, capsys):
    bundle = digits[3]
    first, again, three = bench(bundle, runs=2), bench(bundle, runs=2), bench(bundle, runs=3)
    assert first["runs"] == 2 and three["runs"] == 3
    assert first["instructions_per_inference"] == again["instructions_per_inference"] > first["macs"]
    # clamps branch on the data, so other samples cost slightly different counts
    assert three["instructions_per_inference"] == pytest.approx(first["instructions_per_inference"], rel=0.01)
    assert first["instructions_per_mac"] == first["instructions_per_inference"] / first["macs"]
    kernels = first["kernels"]
    assert sum(row["macs"] for row in kernels) == first["macs"]
    assert sum(row["instructions"] for row in kernels) < first["instructions_per_inference"]  # + the runtime
    assert "cycle" in first["note"]
    assert main(["bench", str(bundle), "--runs", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["instructions_per_inference"] == first["instructions_per_inference"]
    assert report["memory"]["ram_bytes"] > report["arena_bytes"]


def test_int8_io_bundle_exposes_scales_and_runs(digits, tmp_path):
    model, calib, test, _ = digits
    result = compile_model(model, "cortex-m7", tmp_path / "io", calib=calib, io="int8", emit="obj")
    header = (tmp_path / "io" / "model.h").read_text()
    assert "EK_INPUT_0_SCALE" in header and "EK_OUTPUT_0_ZERO_POINT" in header and (tmp_path / "io" / "kernels.o").exists()
    x = np.load(test)["x"][:3]
    spec = result.manifest["inputs"][0]
    q = np.clip(np.round(x / spec["scale"]) + spec["zero_point"], -128, 127).astype(np.int8)
    artifact = load(tmp_path / "io")
    got = artifact.predict(q)
    assert got.dtype == np.int8 and np.array_equal(got, interpreter.run(result.graph, [q])[result.graph.outputs[0].name])
    assert 0 < artifact.last_run.stack_bytes <= result.manifest["memory"]["ram"]["stack"]  # LLVM frames counted


def test_float_bundle_on_a_core_with_fpu(digits, tmp_path):
    model, _, test, _ = digits
    result = compile_model(model, "cortex-m4", tmp_path / "f", quantize="float")
    assert "quantize" not in result.manifest
    assert verify(model, tmp_path / "f", data=test)["passed"]


def test_model_too_large_for_the_board_says_by_how_much(tmp_path):
    ds_cnn = zoo.build("ds_cnn", keras)
    x = zoo.data("ds_cnn", 16)[0]
    with pytest.raises(BudgetError) as err:
        compile_model(ds_cnn, "cortex-m3", tmp_path / "big", calib=x)
    message = str(err.value)
    assert "does not fit NUCLEO-F103RB (cortex-m3)" in message and "RAM needs" in message
    needed, budget = (int(n.replace(",", "")) for n in (message.split("RAM needs ")[1].split(" B")[0],
                                                        message.split("the budget is ")[1].split(" B")[0]))
    assert budget == 20 * 1024 and f"over by {needed - budget:,} B" in message
    assert not (tmp_path / "big").exists()  # nothing written


def test_budgets_from_the_command_line(digits, tmp_path, capsys):
    model, calib, _, _ = digits
    args = ["compile", str(model), "--target", "cortex-m4", "--calib", str(calib), "-o", str(tmp_path / "b")]
    assert main(args + ["--ram-budget", "4K"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "budget is 4,096 B: over by" in err
    assert main(args + ["--flash-budget", "64K", "--ram-budget", "16K", "--emit", "obj"]) == 0
    out = capsys.readouterr().out
    assert "of 65,536 B" in out and "of 16,384 B" in out
    assert json.loads((tmp_path / "b" / "manifest.json").read_text())["memory"]["ram_budget"] == 16384
    assert parse_bytes("1.5M") == 1572864 and parse_bytes("640K") == 655360


@pytest.mark.parametrize("extra, message", [
    (["--target", "cortex-m85"], "Unknown target 'cortex-m85'. Valid targets:"),
    (["--target", "cortex-m4"], "--calib FILE.npz"),
    (["--target", "cortex-m3", "--quantize", "float"], "has no floating-point unit"),
    (["--target", "host", "--emit", "c"], "apply to microcontroller targets"),
    (["--target", "cortex-m4", "--quantize", "float", "--flash-budget", "lots"], "Cannot read the size 'lots'"),
])
def test_bad_cortex_m_requests_are_one_line_errors(digits, tmp_path, capsys, extra, message):
    assert main(["compile", str(digits[0]), "-o", str(tmp_path / "x"), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err


def test_op_without_an_integer_kernel_is_named(tmp_path):
    inputs = keras.Input((8,))
    gate = keras.layers.Dense(8, activation="sigmoid")(inputs)
    model = keras.Model(inputs, keras.layers.Multiply(name="gating")([inputs, gate]))
    with pytest.raises(QuantizeError, match="multiply.*gating"):
        compile_model(model, "cortex-m4", tmp_path / "g", calib=np.random.default_rng(0).normal(size=(16, 8)))


def test_missing_toolchains_name_their_packages(digits, tmp_path, monkeypatch):
    model, calib, _, bundle = digits
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolMissingError, match="apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi"):
        compile_model(model, "cortex-m4", tmp_path / "t", calib=calib)
    with pytest.raises(ToolMissingError, match="apt-get install"):
        load(bundle).predict(np.load(digits[2])["x"][:1])


def test_compile_error_when_default_int8_has_no_data(digits, tmp_path):
    with pytest.raises(CompileError, match="int8 by default"):
        compile_model(digits[0], "cortex-m7", tmp_path / "n")
