"""The Cortex-M proof: the digits CNN, DS-CNN, MobileNetV1-0.25, ResNet-8 and the Dense autoencoder,
quantized to int8 and compiled as firmware bundles (built with -Wall -Wextra -Werror) for
cortex-m4, cortex-m7 and cortex-m55, run under qemu-system-arm on each core's machine and give
outputs identical to the NumPy integer reference, with kernels as C and (M4) as LLVM Thumb objects;
the digits CNN also on cortex-m0plus/m3/m33; float bundles for cortex-m4/m7 match the float model."""

import shutil

import numpy as np
import pytest

import edgekeras as keras
from edgekeras import runtime
from edgekeras.compiler import compile_model
from edgekeras.ir import interpreter
from zoo_cases import MODELS, calibration, held_out, zoo

SAMPLES = 8  # per emulated run: bit-exactness needs no more
INT8_CASES = ([(name, core, "c") for name in MODELS for core in ("cortex-m4", "cortex-m7", "cortex-m55")]
              + [(name, "cortex-m4", "obj") for name in MODELS]
              + [("digits_cnn", core, emit) for core in ("cortex-m0plus", "cortex-m3", "cortex-m33") for emit in ("c", "obj")])
FLOAT_CASES = [(name, core) for name in MODELS for core in ("cortex-m4", "cortex-m7")]

pytestmark = pytest.mark.skipif(
    shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
    reason="needs arm-none-eabi-gcc (apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi) and "
           "qemu-system-arm (apt-get install qemu-system-arm)")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("cortex_m_proof")


@pytest.mark.parametrize("name, core, emit", INT8_CASES)
def test_int8_bundle_is_bit_exact_on_the_emulated_core(name, core, emit, folder):
    result = compile_model(zoo.build(name, keras), core, folder / f"{name}-{core}-{emit}", calib=calibration(name),
                           emit=emit)
    assert result.manifest["memory"]["flash_bytes"] <= result.manifest["memory"]["flash_budget"]
    x = held_out(name)[0][:SAMPLES]
    got = runtime.load(result.path).predict(x)
    want = interpreter.run(result.graph, [x])[result.graph.outputs[0].name]
    assert np.array_equal(got, want), f"{int(np.sum(got != want))} of {got.size} outputs differ"


@pytest.mark.parametrize("name, core", FLOAT_CASES)
def test_float_bundle_matches_the_float_model(name, core, folder):
    result = compile_model(zoo.build(name, keras), core, folder / f"{name}-{core}-float", quantize="float")
    x, _, expected = held_out(name)
    got = runtime.load(result.path).predict(x[:SAMPLES])
    np.testing.assert_allclose(got, expected[:SAMPLES], rtol=1e-4, atol=1e-4)
