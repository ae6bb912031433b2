"""Parity metrics between a reference output and an artifact output (ST Edge AI `validate` style).

Everything is computed in float64 so the metric itself adds no rounding error to what it measures.
"""

import numpy as np


def compare(reference, actual):
    """{max_abs_error, rmse, rel_l2, cosine} and, for classifier-shaped outputs, top1_agreement."""
    ref, act = _pair(reference, actual)
    diff = act - ref
    report = {
        "max_abs_error": float(np.max(np.abs(diff))) if diff.size else 0.0,
        "rmse": float(np.sqrt(np.mean(diff * diff))) if diff.size else 0.0,
        "rel_l2": _ratio(np.linalg.norm(diff), np.linalg.norm(ref)),
        "cosine": _cosine(ref.ravel(), act.ravel()),
    }
    if is_classifier(ref):
        report["top1_agreement"] = float(np.mean(ref.argmax(-1) == act.argmax(-1)))
    return report


def is_classifier(array):
    """Classifier-shaped: a batch of score vectors (rank >= 2, last axis > 1)."""
    return array.ndim >= 2 and array.shape[-1] > 1


def is_probability_rows(array, tol=1e-3):
    """Rows that are a distribution over classes (a softmax output): non-negative and summing to 1.
    A reconstruction or a regression vector is classifier-shaped too, but its arg-max means nothing."""
    a = np.asarray(array, dtype=np.float64)
    return bool(is_classifier(a) and a.size and np.all(a >= 0) and np.allclose(a.sum(-1), 1.0, atol=tol))


def accuracy(predictions, labels):
    """Fraction of samples whose arg-max class equals the label (int class ids or one-hot rows)."""
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    if not is_classifier(predictions):
        raise ValueError(f"Accuracy needs classifier outputs (last axis > 1); got shape {predictions.shape}.")
    if labels.shape == predictions.shape:
        labels = labels.argmax(-1)
    elif labels.shape != predictions.shape[:-1]:
        raise ValueError(f"Labels of shape {labels.shape} fit neither class ids {predictions.shape[:-1]} "
                         f"nor one-hot rows {predictions.shape} for outputs of shape {predictions.shape}.")
    return float(np.mean(predictions.argmax(-1) == labels))


def _pair(reference, actual):
    ref = np.asarray(reference, dtype=np.float64)
    act = np.asarray(actual, dtype=np.float64)
    if ref.shape != act.shape:
        raise ValueError(f"Cannot compare outputs of shapes {act.shape} (artifact) and {ref.shape} (reference).")
    return ref, act


def _ratio(num, den):
    if den == 0:
        return 0.0 if num == 0 else float("inf")
    return float(num / den)


def _cosine(a, b):
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return 1.0 if na == nb else 0.0
    return float(np.clip(np.dot(a, b) / (na * nb), -1.0, 1.0))  # rounding can step just past 1
