"""The int8 proof: the digits CNN, DS-CNN, MobileNetV1-0.25, ResNet-8 and the Dense autoencoder,
quantized with calibration samples and compiled for x86-64 and AArch64 (under QEMU), give int8
results identical to the NumPy integer reference; the classifiers agree with the float model on
top-1 for >= 99 % of held-out inputs, and the digits CNN loses <= 1 accuracy point."""

import functools
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))

import edgekeras as keras  # noqa: E402
import model_zoo as zoo  # noqa: E402
from digits_data import load_digits_split  # noqa: E402
from edgekeras import runtime  # noqa: E402
from edgekeras.compiler import compile_model  # noqa: E402
from edgekeras.harness.metrics import compare  # noqa: E402
from edgekeras.ir import interpreter  # noqa: E402
from edgekeras.targets import ToolMissingError, get_target  # noqa: E402

MODELS = ("digits_cnn", "ds_cnn", "mobilenet_v1_025", "resnet8", "dense_autoencoder")
HELD_OUT = {"digits_cnn": 360, "ds_cnn": 200, "mobilenet_v1_025": 200, "resnet8": 200, "dense_autoencoder": 200}
EMULATED_SAMPLES = 24  # QEMU runs are slower; bit-exactness needs no more


def calibration(name):
    """Training digits for the digit models; seeded generator samples, disjoint from the test ones, otherwise."""
    if name in zoo.TRAINED:
        x = load_digits_split()[0][0][:200]
        return x.reshape((len(x),) + zoo.INPUT_SHAPES[name]).astype(np.float32)
    return zoo.data(name, 128, seed=5)[0]


@functools.lru_cache(maxsize=None)
def held_out(name):
    x, y = zoo.data(name, HELD_OUT[name], seed=1)
    return x, y, np.asarray(zoo.build(name, keras).predict(x, verbose=0))


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
