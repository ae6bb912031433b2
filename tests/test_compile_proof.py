"""The compiler's proof: every zoo model, from every source (the edgekeras object, and the .keras and
legacy .h5 files real Keras wrote), compiled for x86-64 computes what real Keras computes; each model
compiled for AArch64 and ARMv7 and run under QEMU does too; Keras-exported ONNX files compile and
match ONNX Runtime. Checks: max abs error <= 1e-4 on softmax outputs (relative to the output scale
for the autoencoder's linear output) and 100 % top-1 agreement on held-out inputs."""

import functools
import os
import sys

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))

import keras  # noqa: E402

import edgekeras  # noqa: E402
import model_zoo as zoo  # noqa: E402
from edgekeras import runtime  # noqa: E402
from edgekeras.compiler import compile_model  # noqa: E402

BIG = ("mobilenet_v1_025", "resnet8")
HELD_OUT = {name: 16 if name in BIG else 32 for name in zoo.MODELS}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("proof")


@functools.lru_cache(maxsize=None)
def reference(name):
    """(held-out inputs, real Keras's predictions on them)."""
    x, _ = zoo.data(name, HELD_OUT[name], seed=1)
    return x, np.asarray(zoo.build(name, keras).predict(x, verbose=0))


_files = {}


def keras_files(name, folder):
    """{"keras": path, "h5": path}: the files real Keras wrote for `name`, saved once per module."""
    if name not in _files:
        _files[name] = dict(zip(("keras", "h5"), zoo.save_keras_variants(name, folder / "models")))
    return _files[name]


def assert_matches(got, expected, name):
    got = np.asarray(got)
    assert got.shape == expected.shape
    scale = 1.0 if name in zoo.CLASSIFIERS else max(1.0, float(np.abs(expected).max()))
    error = float(np.abs(got - expected).max())
    assert error <= 1e-4 * scale, f"{name}: max abs error {error:.3g}"
    if name in zoo.CLASSIFIERS:
        agree = (got.argmax(axis=1) == expected.argmax(axis=1)).mean()
        assert agree == 1.0, f"{name}: top-1 agreement {agree:.1%}"


def compile_and_run(source, name, target, folder, tag):
    result = compile_model(source, target=target, output_dir=folder / f"{name}-{tag}-{target}")
    x, expected = reference(name)
    assert result.manifest["arena_bytes"] >= result.manifest["arena_lower_bound_bytes"] > 0
    assert_matches(runtime.load(result.path).predict(x), expected, name)


@pytest.mark.parametrize("source", ["object", "keras", "h5"])
@pytest.mark.parametrize("name", zoo.MODELS)
def test_host(name, source, folder):
    model = zoo.build(name, edgekeras) if source == "object" else keras_files(name, folder)[source]
    compile_and_run(model, name, "x86_64", folder, source)


# The emulated runs of the big nets are the slowest cases (untuned kernels under QEMU): marked `slow`,
# never skipped.
@pytest.mark.parametrize("target", ["aarch64", "armv7"])
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in BIG else n for n in zoo.MODELS])
def test_emulated(name, target, folder):
    compile_and_run(keras_files(name, folder)["keras"], name, target, folder, "keras")


@pytest.mark.parametrize("name", ["ds_cnn", "digits_cnn"])
def test_keras_exported_onnx_matches_onnxruntime(name, folder):
    import onnxruntime

    path = zoo.export_onnx(name, folder / "models")
    x, _ = reference(name)
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    expected = session.run(None, {session.get_inputs()[0].name: x})[0]
    result = compile_model(path, target="x86_64", output_dir=folder / f"{name}-onnx-x86_64")
    assert_matches(runtime.load(result.path).predict(x), expected, name)
