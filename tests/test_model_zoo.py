"""The proof model set (examples/model_zoo.py): every model builds with edgekeras and with real Keras
with the same weights and predictions, the files real Keras writes load back, and the ONNX / TFLite
exports the benchmarks run on compute the same model."""

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

# float32 rounding differences between JAX and TensorFlow grow with depth: the 27-layer MobileNet
# lands at ~1.5e-5 on its softmax outputs, every other model below 3e-6 (relative to output scale).
TOLERANCE = {"mobilenet_v1_025": 3e-5}


def close(ours, theirs, name):
    scale = max(1.0, float(np.abs(theirs).max()))  # the autoencoder's outputs are not probabilities
    return float(np.abs(np.asarray(ours) - np.asarray(theirs)).max()) <= TOLERANCE.get(name, 1e-5) * scale


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("zoo")


@pytest.mark.parametrize("name", zoo.MODELS)
def test_both_libraries_build_the_same_model(name):
    ours, theirs = zoo.build(name, edgekeras), zoo.build(name, keras)
    assert ours.count_params() == theirs.count_params()
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_array_equal(a, np.asarray(b))
    x, y = zoo.data(name, 16, seed=1)
    expected = np.asarray(theirs.predict(x, verbose=0))
    assert close(ours.predict(x, verbose=0), expected, name)
    if name in zoo.CLASSIFIERS:
        top2 = np.sort(expected, axis=1)[:, -2:]
        assert (top2[:, 1] - top2[:, 0]).min() > 1e-3, "near-ties would make top-1 agreement meaningless"
        assert len(np.unique(expected.argmax(axis=1))) > 1, "a random net that ignores its input proves nothing"
    if y is not None:  # every classifier is trained: it gets the labels right
        assert (expected.argmax(axis=1) == y).mean() >= 0.9


@pytest.mark.parametrize("name", zoo.MODELS)
def test_keras_written_files_load_back(name, folder):
    x, _ = zoo.data(name, 4, seed=2)
    expected = np.asarray(zoo.build(name, keras).predict(x, verbose=0))
    for path in zoo.save_keras_variants(name, folder):
        assert close(keras.models.load_model(path).predict(x, verbose=0), expected, name), path
        assert close(edgekeras.models.load_model(path).predict(x, verbose=0), expected, name), path


def test_training_is_deterministic_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEKERAS_CACHE", str(tmp_path))
    zoo._weights.cache_clear()
    try:
        trained = zoo.build("mlp", edgekeras).get_weights()
        (cached,) = (tmp_path / "zoo").glob("mlp-0-*.npz")
        for a, b in zip(trained, zoo._train("mlp", 0), strict=True):
            np.testing.assert_array_equal(a, b)
        zoo._weights.cache_clear()
        with np.load(cached) as saved:  # a second process reads the file instead of training
            saved_weights = [saved[k] for k in saved.files]
        for a, b in zip(zoo.build("mlp", edgekeras).get_weights(), saved_weights, strict=True):
            np.testing.assert_array_equal(a, b)
    finally:
        zoo._weights.cache_clear()


def test_data_is_deterministic_and_labelled():
    np.testing.assert_array_equal(zoo.data("resnet8", 3, seed=5)[0], zoo.data("resnet8", 3, seed=5)[0])
    for name in zoo.CLASSIFIERS:
        x, y = zoo.data(name, 64, seed=6)
        assert x.dtype == np.float32 and x.shape == (64,) + zoo.INPUT_SHAPES[name]
        assert y.shape == (64,) and len(np.unique(y)) > 1
    assert zoo.data("dense_autoencoder", 2, seed=6)[1] is None


def test_autoencoder_learned_to_reconstruct():
    x, _ = zoo.data("dense_autoencoder", 64, seed=1)
    out = zoo.build("dense_autoencoder", edgekeras).predict(x, verbose=0)
    # The frame noise cannot pass the 8-unit bottleneck: ~0.4 is what a trained net reaches; an
    # untrained one is near 1.
    assert np.linalg.norm(out - x) / np.linalg.norm(x) < 0.5


def test_other_seed_gives_other_weights():
    a, b = zoo.build("resnet8", edgekeras, seed=0), zoo.build("resnet8", edgekeras, seed=1)
    assert not np.array_equal(a.get_weights()[0], b.get_weights()[0])


def test_exports_compute_the_same_model(folder):
    import onnxruntime
    from ai_edge_litert.interpreter import Interpreter

    x, _ = zoo.data("ds_cnn", 1, seed=4)
    expected = np.asarray(zoo.build("ds_cnn", keras).predict(x, verbose=0))
    session = onnxruntime.InferenceSession(zoo.export_onnx("ds_cnn", folder), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    assert close(got, expected, "ds_cnn")
    interpreter = Interpreter(model_path=zoo.export_tflite("ds_cnn", folder), num_threads=1)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    assert close(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]), expected, "ds_cnn")


@pytest.mark.parametrize("call", [lambda: zoo.build("vgg16", edgekeras), lambda: zoo.data("nope", 1)])
def test_unknown_model_is_a_clear_error(call):
    with pytest.raises(ValueError, match="Unknown model .* the zoo has digits_cnn"):
        call()


def test_asking_for_more_digits_than_held_out_is_an_error():
    with pytest.raises(ValueError, match="held-out digits"):
        zoo.data("mlp", 10_000)
