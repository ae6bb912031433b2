"""The parity harness's pure logic: metrics on hand-computed arrays, data-file validation, references."""

import math

import numpy as np
import pytest

from edgekeras.harness.metrics import accuracy, compare
from edgekeras.harness.references import ReferenceUnavailable, predictor
from edgekeras.harness.verify import DataError, load_data, random_inputs

SPECS = [{"name": "image", "shape": [1, 4, 3], "dtype": "float32"}]


def test_compare_hand_computed():
    report = compare(np.array([3.0, 4.0]), np.array([3.0, 5.0]))
    assert report["max_abs_error"] == 1.0
    assert report["rmse"] == pytest.approx(math.sqrt(0.5))
    assert report["rel_l2"] == pytest.approx(1 / 5)
    assert report["cosine"] == pytest.approx(29 / (5 * math.sqrt(34)))
    assert "top1_agreement" not in report  # a vector of one sample is not classifier-shaped


def test_compare_identical_and_zero_outputs():
    same = compare(np.ones((2, 3)), np.ones((2, 3)))
    assert same == {"max_abs_error": 0.0, "rmse": 0.0, "rel_l2": 0.0, "cosine": 1.0, "top1_agreement": 1.0}
    zeros = compare(np.zeros((2, 1)), np.zeros((2, 1)))
    assert zeros["rel_l2"] == 0.0 and zeros["cosine"] == 1.0
    off = compare(np.zeros((2, 1)), np.ones((2, 1)))
    assert off["rel_l2"] == math.inf and off["cosine"] == 0.0


def test_top1_agreement_and_shape_mismatch():
    ref = np.array([[1.0, 2.0], [3.0, 1.0]])
    assert compare(ref, np.array([[1.0, 2.0], [1.0, 3.0]]))["top1_agreement"] == 0.5
    with pytest.raises(ValueError, match="shapes"):
        compare(ref, ref[:1])


def test_accuracy_from_class_ids_and_one_hot():
    preds = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert accuracy(preds, np.array([1, 0, 0])) == pytest.approx(2 / 3)
    assert accuracy(preds, np.eye(2)[[1, 0, 0]]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="Labels of shape"):
        accuracy(preds, np.array([1, 0]))
    with pytest.raises(ValueError, match="classifier"):
        accuracy(np.ones((3, 1)), np.array([0, 0, 0]))


def test_random_inputs_are_seeded_and_shaped():
    specs = SPECS + [{"name": "ids", "shape": [1, 5], "dtype": "int32"}]
    a, b = random_inputs(specs), random_inputs(specs)
    assert [x.shape for x in a] == [(8, 4, 3), (8, 5)]
    assert a[0].dtype == np.float32 and a[1].dtype == np.int32 and set(np.unique(a[1])) <= {0, 1}
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def _npz(tmp_path, **arrays):
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)
    return path


def test_load_data_by_input_name_or_single_x(tmp_path):
    x = np.arange(24, dtype=np.float64).reshape(2, 4, 3)
    inputs, labels = load_data(_npz(tmp_path, image=x, y=np.array([0, 1])), SPECS)
    assert inputs[0].dtype == np.float32 and np.array_equal(inputs[0], x) and list(labels) == [0, 1]
    inputs, labels = load_data(_npz(tmp_path, x=x), SPECS)
    assert inputs[0].shape == (2, 4, 3) and labels is None


@pytest.mark.parametrize("arrays, message", [
    ({"other": np.zeros((2, 4, 3))}, "needs arrays named after the model inputs"),
    ({"x": np.zeros((2, 3, 4))}, r"needs \(samples, 4, 3\)"),
    ({"x": np.zeros((4, 3))}, "has shape"),
    ({"x": np.full((2, 4, 3), np.nan)}, "NaN"),
    ({"x": np.zeros((2, 4, 3)), "y": np.zeros(3)}, "labels 'y'"),
    ({"x": np.array([["a"] * 3] * 4)[None]}, "numbers are needed"),
])
def test_load_data_rejects_bad_files(tmp_path, arrays, message):
    with pytest.raises(DataError, match=message):
        load_data(_npz(tmp_path, **arrays), SPECS)


def test_load_data_unreadable_and_mismatched_sample_counts(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="Cannot read data file"):
        load_data(bad, SPECS)
    specs = SPECS + [{"name": "extra", "shape": [1, 2], "dtype": "float32"}]
    with pytest.raises(DataError, match="different numbers of samples"):
        load_data(_npz(tmp_path, image=np.zeros((2, 4, 3)), extra=np.zeros((3, 2))), specs)


def test_reference_errors_name_the_fix(tmp_path):
    with pytest.raises(ValueError, match="Valid references: edgekeras, keras, onnxruntime"):
        predictor(tmp_path / "m.keras", "tflite")
    with pytest.raises(ReferenceUnavailable, match="needs an .onnx model"):
        predictor(tmp_path / "m.keras", "onnxruntime")
    with pytest.raises(ReferenceUnavailable, match="needs a .keras or .h5 model"):
        predictor(tmp_path / "m.onnx", "keras")
