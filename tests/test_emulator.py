"""The emulator runner: a shared library built from the runtime's test descriptor (runtime_c/tests/
model_ok.c: y0 = 2 (x + w) + 1, y1 = relu(z)) with each target's compiler, run through the C driver
natively and under qemu-user, and its failures reported as one-line errors."""

import dataclasses
import os
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

from edgekeras.harness.emulator import EmulatorError, build_driver, cache_dir, run_shared_library
from edgekeras.targets import ToolMissingError, get_target

RUNTIME = Path(__file__).resolve().parents[1] / "runtime_c"
RUNTIME_SOURCES = ["src/ek_runtime.c", "src/ek_model_api.c", "port/ek_port_default.c"]
MODELS = {
    "ok": ["tests/model_ok.c", "tests/kernels.c", "tests/kernels_llvm.c"],
    "fail": ["tests/model_fail.c", "tests/kernels.c"],
}
WEIGHTS = np.array([0.5, -1.0, 2.0, 0.0, 3.25, -4.5, 1.0, 10.0], np.float32)
OK_SPECS = [((1, 8), "float32"), ((1, 3), "float32")]


@pytest.fixture(autouse=True)
def private_cache(monkeypatch, tmp_path_factory):
    """Drivers go to this worker's temp folder, never to the user's cache."""
    monkeypatch.setenv("EDGEKERAS_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """library(target_name, model) -> path of that model's .so for the target (built once)."""
    built = {}

    def build(target_name, model="ok"):
        if (target_name, model) not in built:
            target = get_target(target_name)
            try:
                target.require_tools()
            except ToolMissingError as err:
                pytest.skip(str(err))
            out = tmp_path_factory.mktemp(f"{target_name}-{model}") / f"model_{model}.so"
            sources = [str(RUNTIME / s) for s in RUNTIME_SOURCES + MODELS[model]]
            command = [target.cc, *target.cflags, "-I", str(RUNTIME / "include"), *sources, *target.ldflags,
                       "-o", str(out)]
            subprocess.run(command, check=True, capture_output=True)
            built[target_name, model] = out
        return built[target_name, model]

    return build


def ok_inputs(n, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(n, 1, 8)).astype(np.float32), rng.normal(size=(n, 1, 3)).astype(np.float32)]


@pytest.mark.parametrize("target_name", ["x86_64", "aarch64", "armv7"])
def test_outputs_match_numpy_on_every_target(library, target_name):
    x, z = ok_inputs(5)
    y0, y1 = run_shared_library(get_target(target_name), library(target_name), [x, z], OK_SPECS)
    assert y0.shape == (5, 1, 8) and y0.dtype == np.float32
    assert y1.shape == (5, 1, 3) and y1.dtype == np.float32
    np.testing.assert_array_equal(y0, 2 * (x + WEIGHTS) + 1)
    np.testing.assert_array_equal(y1, np.maximum(z, 0))


def test_empty_batch(library):
    outputs = run_shared_library(get_target("host"), library("x86_64"), ok_inputs(0), OK_SPECS)
    assert [o.shape for o in outputs] == [(0, 1, 8), (0, 1, 3)]


def test_missing_tool_names_the_package(library, monkeypatch, tmp_path):
    lib = library("x86_64")  # any file will do: the tools are checked first
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolMissingError, match="apt-get install gcc-aarch64-linux-gnu"):
        run_shared_library(get_target("aarch64"), lib, ok_inputs(1), OK_SPECS)


@pytest.mark.parametrize("x_shape, z_shape, message", [
    ((2, 1, 7), (2, 1, 3), r"ek_driver: input: input file ended in sample 1, input 1: got 4 of 12 bytes"),
    ((1, 1, 9), (1, 1, 3), r"ek_driver: input: input file holds more than 1 samples"),
])
def test_wrong_input_size_is_a_driver_error(library, x_shape, z_shape, message):
    inputs = [np.zeros(x_shape, np.float32), np.zeros(z_shape, np.float32)]
    with pytest.raises(EmulatorError, match=message) as err:
        run_shared_library(get_target("host"), library("x86_64"), inputs, OK_SPECS)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("target_name", ["x86_64", "aarch64"])
def test_failing_kernel_is_an_emulator_error(library, target_name):
    lib = library(target_name, "fail")
    with pytest.raises(EmulatorError, match=r"ek_driver: run: sample 0 failed \(code 2\): kernel raiser raised "
                                            r"ValueError: deliberate failure$"):
        run_shared_library(get_target(target_name), lib, [np.ones((3, 1, 4), np.float32)], [((1, 4), "float32")])


def test_output_specs_must_match_what_the_driver_wrote(library):
    with pytest.raises(EmulatorError, match="driver wrote 88 bytes"):
        run_shared_library(get_target("host"), library("x86_64"), ok_inputs(2), [((1, 8), "float32")])


def test_bad_arguments_are_value_errors(library, tmp_path):
    host, lib = get_target("host"), library("x86_64")
    with pytest.raises(ValueError, match="different batch sizes"):
        run_shared_library(host, lib, [np.zeros((2, 1, 8), np.float32), np.zeros((3, 1, 3), np.float32)], OK_SPECS)
    with pytest.raises(ValueError, match="at least one input"):
        run_shared_library(host, lib, [], OK_SPECS)
    with pytest.raises(ValueError, match="does not exist"):
        run_shared_library(host, tmp_path / "missing.so", ok_inputs(1), OK_SPECS)


def test_unloadable_library_is_an_emulator_error(tmp_path):
    fake = tmp_path / "fake.so"
    fake.write_bytes(b"not an ELF file")
    with pytest.raises(EmulatorError, match="ek_driver: load: .*fake.so"):
        run_shared_library(get_target("host"), fake, ok_inputs(1), OK_SPECS)


def test_timeout_is_an_emulator_error(library):
    with pytest.raises(EmulatorError, match="took longer than 0.001 s"):
        run_shared_library(get_target("aarch64"), library("aarch64"), ok_inputs(1), OK_SPECS, timeout_s=0.001)


def test_driver_is_built_once_even_by_concurrent_callers(monkeypatch, tmp_path):
    monkeypatch.setenv("EDGEKERAS_CACHE", str(tmp_path))
    host = get_target("host")
    paths, errors = [], []

    def build():
        try:
            paths.append(build_driver(host))
        except Exception as err:  # reported below, so a failing thread fails the test
            errors.append(err)

    threads = [threading.Thread(target=build) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(set(paths)) == 1
    assert os.listdir(cache_dir()) == [paths[0].name]  # no partial files left behind
    mtime = paths[0].stat().st_mtime_ns
    assert build_driver(host) == paths[0] and paths[0].stat().st_mtime_ns == mtime


def test_driver_build_failure_is_an_emulator_error(monkeypatch, tmp_path):
    monkeypatch.setenv("EDGEKERAS_CACHE", str(tmp_path))
    broken = dataclasses.replace(get_target("host"), cflags=("-fno-such-flag",))
    with pytest.raises(EmulatorError, match="Building the driver for target 'x86_64' failed: .*no-such-flag"):
        build_driver(broken)
    assert os.listdir(cache_dir()) == []  # the partial file is removed
