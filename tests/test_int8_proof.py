"""The int8 proof: the digits CNN, DS-CNN, MobileNetV1-0.25, ResNet-8 and the Dense autoencoder,
quantized with calibration samples and compiled for x86-64 and AArch64 (under QEMU), give int8
results identical to the NumPy integer reference; the classifiers agree with the float model on
top-1 for >= 99 % of held-out inputs, and the digits CNN loses <= 1 accuracy point."""

import numpy as np
import pytest

import edgekeras as keras
from edgekeras import runtime
from edgekeras.compiler import compile_model
from edgekeras.harness.metrics import compare
from edgekeras.ir import interpreter
from edgekeras.targets import ToolMissingError, get_target
from zoo_cases import MODELS, calibration, held_out, zoo

EMULATED_SAMPLES = 24  # QEMU runs are slower; bit-exactness needs no more


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("int8_proof")


def compiled(name, target, folder):
    try:
        get_target(target).require_tools()
    except ToolMissingError as err:
        pytest.skip(str(err))
    result = compile_model(zoo.build(name, keras), target, folder / f"{name}-{target}", quantize="int8",
                           calib=calibration(name))
    assert result.manifest["quantize"]["calib_samples"] == len(calibration(name))
    return result


def assert_bit_exact(result, x):
    got = runtime.load(result.path).predict(x)
    want = interpreter.run(result.graph, [x])[result.graph.outputs[0].name]
    assert np.array_equal(got, want), f"{int(np.sum(got != want))} outputs differ from the integer reference"
    return got


@pytest.mark.parametrize("name", MODELS)
def test_host_int8_is_bit_exact_and_close_to_float(name, folder):
    x, y, expected = held_out(name)
    got = assert_bit_exact(compiled(name, "x86_64", folder), x)
    metrics = compare(expected, got)
    if name in zoo.CLASSIFIERS:
        assert metrics["top1_agreement"] >= 0.99, metrics
    else:
        assert metrics["rel_l2"] <= 0.05, metrics
    if y is not None:
        drop = np.mean(expected.argmax(1) == y) - np.mean(got.argmax(1) == y)
        assert drop <= 0.01, f"accuracy drop {drop:.2%}"


@pytest.mark.parametrize("name", MODELS)
def test_aarch64_int8_is_bit_exact(name, folder):
    x = held_out(name)[0][:EMULATED_SAMPLES]
    assert_bit_exact(compiled(name, "aarch64", folder), x)
