"""Metrics against real Keras 3 (two weighted batches), under jax.jit with a ValueScope, and configs."""

import os

import jax
import numpy as np
import pytest

from edgekeras import losses, metrics
from edgekeras.backend.variables import ValueScope


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    return pytest.importorskip("keras")


N, C = 8, 5


def _batches(kind):
    """Two (y_true, y_pred, sample_weight) batches of one label kind (the same on every call)."""
    rng = np.random.default_rng(len(kind))
    out = []
    for _ in range(2):
        weights = rng.uniform(0, 2, size=N).astype("float32")
        if kind == "binary":
            y_true = rng.integers(0, 2, size=(N, 1)).astype("float32")
            y_pred = np.round(rng.uniform(size=(N, 1)), 2).astype("float32")  # hits thresholds exactly
            y_pred[:2] = [[0.0], [1.0]]
        elif kind == "multilabel":
            y_true = rng.integers(0, 2, size=(N, 3)).astype("float32")
            y_pred = rng.uniform(size=(N, 3)).astype("float32")
        elif kind == "logits":
            y_true = rng.integers(0, 2, size=(N, 1)).astype("float32")
            y_pred = rng.normal(size=(N, 1)).astype("float32") * 3
        elif kind in ("categorical", "sparse"):
            labels = rng.integers(0, C, size=N)
            y_true = np.eye(C, dtype="float32")[labels] if kind == "categorical" else labels
            y_pred = rng.dirichlet(np.ones(C), size=N).astype("float32")
        elif kind == "regression":
            y_true, y_pred = rng.normal(size=(N, 3)).astype("float32"), rng.normal(size=(N, 3)).astype("float32")
        else:  # "exact": integer predictions compared for equality
            y_true, y_pred = rng.integers(0, 3, size=(N,)), rng.integers(0, 3, size=(N,))
        out.append((y_true, y_pred, weights))
    return out


CASES = [
    ("Accuracy", {}, "exact"),
    ("BinaryAccuracy", {}, "binary"),
    ("BinaryAccuracy", {"threshold": 0.7}, "binary"),
    ("CategoricalAccuracy", {}, "categorical"),
    ("SparseCategoricalAccuracy", {}, "sparse"),
    ("TopKCategoricalAccuracy", {"k": 2}, "categorical"),
    ("Precision", {}, "binary"),
    ("Precision", {"thresholds": [0.3, 0.6]}, "binary"),
    ("Precision", {"thresholds": [0.0, 0.5, 1.0]}, "binary"),  # evenly spaced: Keras's bucketed path
    ("Precision", {"top_k": 2}, "categorical"),
    ("Precision", {"class_id": 1}, "categorical"),
    ("Precision", {"top_k": 2, "class_id": 3}, "categorical"),
    ("Recall", {}, "binary"),
    ("Recall", {"thresholds": [0.2, 0.5, 0.9]}, "binary"),
    ("Recall", {"top_k": 1}, "categorical"),
    ("Recall", {"class_id": 2}, "categorical"),
    ("AUC", {}, "binary"),
    ("AUC", {"curve": "PR"}, "binary"),
    ("AUC", {"curve": "PR", "summation_method": "majoring"}, "binary"),
    ("AUC", {"summation_method": "minoring", "num_thresholds": 50}, "binary"),
    ("AUC", {"thresholds": [0.25, 0.5, 0.75]}, "binary"),
    ("AUC", {"thresholds": [0.1, 0.35, 0.9]}, "binary"),
    ("AUC", {"from_logits": True}, "logits"),
    ("AUC", {}, "multilabel"),
    ("AUC", {"multi_label": True, "num_labels": 3}, "multilabel"),
    ("AUC", {"multi_label": True, "num_labels": 3, "label_weights": [1.0, 0.5, 2.0], "curve": "PR"}, "multilabel"),
    ("AUC", {"label_weights": [1.0, 0.5, 2.0]}, "multilabel"),
    ("MeanSquaredError", {}, "regression"),
    ("MeanAbsoluteError", {}, "regression"),
]
IDS = [f"{c}-{i}" for i, (c, _, _) in enumerate(CASES)]


def _update_twice(metric, batches, weighted):
    for y_true, y_pred, weights in batches:
        metric.update_state(y_true, y_pred, sample_weight=weights if weighted else None)
    return np.asarray(metric.result())


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("cls,kwargs,kind", CASES, ids=IDS)
def test_metrics_match_keras(keras, cls, kwargs, kind, weighted):
    batches = _batches(kind)
    ours = _update_twice(getattr(metrics, cls)(**kwargs), batches, weighted)
    theirs = _update_twice(getattr(keras.metrics, cls)(**kwargs), batches, weighted)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_mean_matches_keras(keras):
    ours, theirs = metrics.Mean(), keras.metrics.Mean()
    for values, weights in [(np.arange(6.0).reshape(3, 2), np.array([1.0, 0.0, 2.0])), (np.float32(4.0), 8)]:
        ours.update_state(values, sample_weight=weights)
        theirs.update_state(values, sample_weight=weights)
    np.testing.assert_allclose(np.asarray(ours.result()), np.asarray(theirs.result()), rtol=1e-6)
    ours.reset_state()
    assert float(ours.result()) == 0.0


@pytest.mark.parametrize("cls,kwargs,kind", CASES, ids=IDS)
def test_update_under_jit_matches_eager(cls, kwargs, kind):
    """The trainer's way: update_state and result inside a ValueScope under jax.jit."""
    batches = _batches(kind)
    eager = _update_twice(getattr(metrics, cls)(**kwargs), batches, weighted=True)

    metric = getattr(metrics, cls)(**kwargs)
    state = metric.variables

    @jax.jit
    def update(values, y_true, y_pred, weights):
        with ValueScope({id(v): x for v, x in zip(state, values)}) as scope:
            metric.update_state(y_true, y_pred, sample_weight=weights)
            return [scope.values[id(v)] for v in state], metric.result()

    values = [v.value for v in state]
    for y_true, y_pred, weights in batches:
        values, result = update(values, y_true, y_pred, weights)
    np.testing.assert_allclose(np.asarray(result), eager, rtol=1e-6, atol=1e-7)
    # Outside the scope the metric's own variables were left untouched.
    assert all(not np.any(v.numpy()) for v in state)


@pytest.mark.parametrize("cls,kwargs,kind", [c for c in CASES if "label_weights" not in c[1]], ids=[
    i for i, c in zip(IDS, CASES) if "label_weights" not in c[1]])
def test_config_and_variables_match_keras(keras, cls, kwargs, kind):
    ours, theirs = getattr(metrics, cls)(name="m", **kwargs), getattr(keras.metrics, cls)(name="m", **kwargs)
    assert ours.get_config() == theirs.get_config()
    assert metrics.serialize(ours) == keras.metrics.serialize(theirs)
    assert [(v.path, v.shape) for v in ours.variables] == [(v.path, tuple(v.shape)) for v in theirs.variables]
    assert metrics.get(keras.metrics.serialize(theirs)).get_config() == theirs.get_config()


def test_default_names_match_keras(keras):
    for cls in ["Mean", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy",
                "TopKCategoricalAccuracy", "MeanSquaredError", "MeanAbsoluteError"]:
        assert getattr(metrics, cls)().name == getattr(keras.metrics, cls)().name
    for cls, base in [("Precision", "precision"), ("Recall", "recall"), ("AUC", "auc")]:
        assert getattr(metrics, cls)().name.split("_")[0] == base


def test_reset_state():
    metric = metrics.AUC()
    metric.update_state([0, 1, 1], [0.2, 0.8, 0.4])
    metric.reset_state()
    assert all(not np.any(v.numpy()) for v in metric.variables)


def test_get():
    assert isinstance(metrics.get("mse"), metrics.MeanSquaredError) and metrics.get("mse").name == "mse"
    assert isinstance(metrics.get("AUC"), metrics.AUC)
    assert isinstance(metrics.get("binary_accuracy"), metrics.BinaryAccuracy)
    assert isinstance(metrics.get({"class_name": "Precision", "config": {"name": "p", "thresholds": 0.3}}),
                      metrics.Precision)
    wrapped = metrics.get(losses.huber)
    assert isinstance(wrapped, metrics.MeanMetricWrapper) and wrapped.name == "huber"
    metric = metrics.Recall()
    assert metrics.get(metric) is metric and metrics.get(None) is None
    with pytest.raises(ValueError, match="precision"):
        metrics.get("precison")


@pytest.mark.parametrize("y_true_shape,y_pred_shape,expected", [
    ((32, 1), (32, 1), metrics.BinaryAccuracy),
    ((32,), (32, 1), metrics.BinaryAccuracy),
    ((32,), (32, 10), metrics.SparseCategoricalAccuracy),
    ((32, 1), (32, 10), metrics.SparseCategoricalAccuracy),
    ((32, 10), (32, 10), metrics.CategoricalAccuracy),
])
def test_resolve_accuracy_like_keras(y_true_shape, y_pred_shape, expected):
    for name in ("accuracy", "acc"):
        metric = metrics.resolve_accuracy(name, losses.get("mse"), y_true_shape, y_pred_shape)
        assert type(metric) is expected and metric.name == name


def test_resolve_accuracy_falls_back_to_the_loss_without_shapes():
    resolve = metrics.resolve_accuracy
    assert type(resolve("acc", "binary_crossentropy", None, None)) is metrics.BinaryAccuracy
    assert type(resolve("acc", losses.SparseCategoricalCrossentropy(), None, None)) is \
        metrics.SparseCategoricalAccuracy
    assert type(resolve("acc", None, None, None)) is metrics.CategoricalAccuracy
