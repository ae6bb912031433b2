"""The C runtime's own checks, run from pytest so the suite covers them: `make -C runtime_c test`
(unit tests under ASan/UBSan) and `make -C runtime_c cross` (every installed cross compiler, no
C library needed), proof that both fail when the runtime is broken, and TVM's real output (LLVM
objects for each Linux target, C source) running on the runtime with workspace from the arena."""

import shutil
import subprocess
from pathlib import Path

import pytest

from edgekeras.targets import ToolMissingError, get_target

RUNTIME = Path(__file__).resolve().parents[1] / "runtime_c"
CROSS_COMPILERS = ["aarch64-linux-gnu-gcc", "arm-linux-gnueabihf-gcc", "arm-none-eabi-gcc"]


def make(directory, goal, build):
    return subprocess.run(["make", "--no-print-directory", "-C", str(directory), goal, f"BUILD={build}"],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def runtime_copy(tmp_path):
    """A private copy of runtime_c/ to break on purpose."""
    copy = tmp_path / "runtime_c"
    shutil.copytree(RUNTIME, copy, ignore=shutil.ignore_patterns("build"))
    return copy


def test_unit_tests_pass(tmp_path):
    result = make(RUNTIME, "test", tmp_path / "build")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test_runtime: " in result.stdout and ", 0 failed" in result.stdout
    assert "driver smoke: ok" in result.stdout


def test_cross_builds_are_clean(tmp_path):
    result = make(RUNTIME, "cross", tmp_path / "build")
    assert result.returncode == 0, result.stdout + result.stderr
    for cc in CROSS_COMPILERS:
        expected = f"cross: {cc} ok" if shutil.which(cc) else f"cross: skip {cc} (not installed)"
        assert expected in result.stdout


def test_unit_tests_catch_a_wrong_result(runtime_copy):
    model = runtime_copy / "tests" / "model_ok.c"
    model.write_text(model.read_text().replace("{0.5f, -1.0f,", "{0.25f, -1.0f,"))
    result = make(runtime_copy, "test", runtime_copy / "build")
    assert result.returncode != 0
    assert "check failed: y0[i] ~ 2.0f * (x[i] + w[i]) + 1.0f" in result.stderr


def test_cross_check_catches_c_library_use(runtime_copy):
    port = runtime_copy / "port" / "ek_port_default.c"
    port.write_text("#include <stdlib.h>\n" + port.read_text() + "void *ek_port_scratch(void) { return malloc(8); }\n")
    result = subprocess.run(["sh", "tests/cross_check.sh", "build", "linux", "gcc"], cwd=runtime_copy,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "the runtime needs C library symbols: malloc" in result.stderr


def tvm_scale_kernel(codegen, target, out_dir):
    """TVM's own output for y = 2 x + 1 through a 16 KiB temporary: an LLVM object for `target`
    (an edgekeras Target) or C source."""
    tvm = pytest.importorskip("tvm")
    from tvm import te

    x = te.placeholder((4096,), "float32", name="x")
    t = te.compute((4096,), lambda i: x[i] * 2.0, name="t")
    y = te.compute((4096,), lambda i: t[i] + 1.0, name="y")
    module = tvm.IRModule({"scale": te.create_prim_func([x, y]).with_attr("global_symbol", "scale")})
    with tvm.transform.PassContext(config={"tirx.disable_assert": True}):
        built = tvm.tirx.build(module, target=dict(target.tvm) if codegen == "llvm" else {"kind": "c"})
    if codegen == "llvm":
        path = out_dir / "scale.o"
        built.write_to_file(str(path))
        return [str(path)]
    path = out_dir / "scale.c"
    path.write_text(built.inspect_source())
    headers = [Path(tvm.__file__).parent / "include", Path(tvm.__file__).parents[1] / "tvm_ffi" / "include"]
    return [f"-I{h}" for h in headers] + [str(path)]


@pytest.mark.parametrize("codegen, target_name", [("llvm", "x86_64"), ("c", "x86_64"), ("llvm", "aarch64"),
                                                  ("llvm", "armv7")])
def test_tvm_generated_kernel_gets_its_workspace_from_the_arena(codegen, target_name, tmp_path):
    target = get_target(target_name)
    try:
        target.require_tools()
    except ToolMissingError as err:
        pytest.skip(str(err))
    kernel = tvm_scale_kernel(codegen, target, tmp_path)
    sources = [str(RUNTIME / s) for s in ("tests/tvm_scale.c", "src/ek_runtime.c", "src/ek_model_api.c",
                                          "port/ek_port_default.c")]
    for slice_bytes, expected in ((16384, "ok"), (16320, "run: 3 workspace exhausted in scale: asked 16384 "
                                                          "bytes, 16320 left")):
        program = tmp_path / f"scale_{slice_bytes}"
        subprocess.run([target.cc, *target.cflags, "-Wall", "-Wextra", f"-DWORKSPACE_BYTES={slice_bytes}",
                        f"-I{RUNTIME / 'include'}", *sources, *kernel, "-o", str(program)],
                       check=True, capture_output=True, timeout=120)
        result = subprocess.run([*target.emulator, str(program)], capture_output=True, text=True, timeout=120)
        assert result.stdout.strip() == expected, result.stdout + result.stderr
        assert result.returncode == (0 if expected == "ok" else 1)
