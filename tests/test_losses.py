"""Losses against real Keras 3: values (weights, logits, smoothing, ignore_class, reductions) and configs."""

import os

import jax
import numpy as np
import pytest

from edgekeras import losses


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    return pytest.importorskip("keras")


RNG = np.random.default_rng(0)
SW = np.array([1.0, 0.5, 2.0, 0.0], "float32")


def _probs(shape):
    logits = RNG.normal(size=shape).astype("float32")
    return np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)


REG_TRUE, REG_PRED = RNG.normal(size=(4, 3)).astype("float32"), RNG.normal(size=(4, 3)).astype("float32")
BIN_TRUE = RNG.integers(0, 2, size=(4, 3)).astype("float32")
BIN_PRED = np.array([[0.0, 1.0, 0.3], [0.9, 0.2, 0.5], [1e-9, 0.7, 0.99], [0.4, 0.6, 0.1]], "float32")
LOGITS = RNG.normal(size=(4, 3)).astype("float32") * 3
ONE_HOT = np.eye(3, dtype="float32")[[0, 2, 1, 2]]
SPARSE = np.array([0, 2, 1, 2])

CASES = [
    ("MeanSquaredError", {}, REG_TRUE, REG_PRED),
    ("MeanSquaredError", {}, REG_TRUE[:, 0], REG_PRED[:, :1]),
    ("MeanAbsoluteError", {}, REG_TRUE, REG_PRED),
    ("Huber", {}, REG_TRUE, REG_PRED * 2),
    ("Huber", {"delta": 0.5}, REG_TRUE, REG_PRED),
    ("BinaryCrossentropy", {}, BIN_TRUE, BIN_PRED),
    ("BinaryCrossentropy", {}, BIN_TRUE[:, 0], BIN_PRED[:, :1]),
    ("BinaryCrossentropy", {"from_logits": True}, BIN_TRUE, LOGITS),
    ("BinaryCrossentropy", {"label_smoothing": 0.1}, BIN_TRUE, BIN_PRED),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.2}, BIN_TRUE, LOGITS),
    ("CategoricalCrossentropy", {}, ONE_HOT, _probs((4, 3))),
    ("CategoricalCrossentropy", {}, ONE_HOT, BIN_PRED),  # unnormalized, with exact zeros
    ("CategoricalCrossentropy", {"from_logits": True}, ONE_HOT, LOGITS),
    ("CategoricalCrossentropy", {"label_smoothing": 0.1}, ONE_HOT, _probs((4, 3))),
    ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, ONE_HOT, LOGITS),
    ("SparseCategoricalCrossentropy", {}, SPARSE, _probs((4, 3))),
    ("SparseCategoricalCrossentropy", {}, SPARSE[:, None], _probs((4, 3))),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, SPARSE, LOGITS),
    ("SparseCategoricalCrossentropy", {"from_logits": True, "ignore_class": 2}, SPARSE, LOGITS),
    ("SparseCategoricalCrossentropy", {"ignore_class": 0}, SPARSE[:, None], _probs((4, 3))),
]


def _close(actual, expected):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("sample_weight", [None, SW], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("cls,kwargs,y_true,y_pred", CASES)
def test_loss_objects_match_keras(keras, cls, kwargs, y_true, y_pred, sample_weight):
    ours = getattr(losses, cls)(**kwargs)(y_true, y_pred, sample_weight=sample_weight)
    theirs = getattr(keras.losses, cls)(**kwargs)(y_true, y_pred, sample_weight=sample_weight)
    _close(ours, theirs)


@pytest.mark.parametrize("reduction", ["sum", "none", None, "mean", "mean_with_sample_weight"])
@pytest.mark.parametrize("cls,kwargs,y_true,y_pred", [CASES[0], CASES[5], CASES[18]])
def test_reductions_match_keras(keras, cls, kwargs, y_true, y_pred, reduction):
    ours = getattr(losses, cls)(reduction=reduction, **kwargs)(y_true, y_pred, sample_weight=SW)
    theirs = getattr(keras.losses, cls)(reduction=reduction, **kwargs)(y_true, y_pred, sample_weight=SW)
    _close(ours, theirs)


@pytest.mark.parametrize("name,y_true,y_pred", [
    ("mean_squared_error", REG_TRUE, REG_PRED), ("mean_absolute_error", REG_TRUE, REG_PRED),
    ("huber", REG_TRUE, REG_PRED), ("binary_crossentropy", BIN_TRUE, BIN_PRED),
    ("categorical_crossentropy", ONE_HOT, _probs((4, 3))), ("sparse_categorical_crossentropy", SPARSE, _probs((4, 3))),
])
def test_functions_and_string_aliases_match_keras(keras, name, y_true, y_pred):
    per_sample = np.asarray(getattr(keras.losses, name)(y_true, y_pred))
    _close(getattr(losses, name)(y_true, y_pred), per_sample)
    # A name passed to get() is a sum_over_batch_size Loss, as Keras's compile() makes of it.
    _close(losses.get(name)(y_true, y_pred, sample_weight=SW), np.sum(per_sample * SW) / SW.size)


def test_short_aliases_and_errors():
    assert losses.get("mse").fn is losses.mean_squared_error
    assert losses.get("MAE").fn is losses.mean_absolute_error
    assert losses.get("mse").name == "mse"
    assert isinstance(losses.get("Huber"), losses.Huber)
    loss = losses.BinaryCrossentropy()
    assert losses.get(loss) is loss and losses.get(None) is None
    with pytest.raises(ValueError, match="mean_squared_error"):
        losses.get("mean_sqared_error")


def test_compile_loss_resolves_crossentropy_by_shapes():
    assert losses.compile_loss("crossentropy", (8, 1), (8, 1)).fn is losses.binary_crossentropy
    assert losses.compile_loss("ce", (8,), (8, 5)).fn is losses.sparse_categorical_crossentropy
    assert losses.compile_loss("crossentropy", (8, 5), (8, 5)).fn is losses.categorical_crossentropy
    assert losses.compile_loss("crossentropy", (8, 5), (8, 5)).name == "crossentropy"


@pytest.mark.parametrize("cls,kwargs", [(c, k) for c, k, _, _ in CASES[::2]] + [CASES[4][:2]])
def test_config_and_serialization_match_keras(keras, cls, kwargs):
    ours, theirs = getattr(losses, cls)(**kwargs), getattr(keras.losses, cls)(**kwargs)
    # Keras's config plus the arguments it forgets, which Keras reads back as well.
    forgotten = {"Huber": {"delta": kwargs.get("delta", 1.0)}, "SparseCategoricalCrossentropy": {"axis": -1}}
    expected = {**theirs.get_config(), **forgotten.get(cls, {})}
    assert ours.get_config() == expected
    assert losses.serialize(ours) == {**keras.losses.serialize(theirs), "config": expected}
    assert getattr(keras.losses, cls).from_config(ours.get_config()).get_config() == theirs.get_config()
    restored = losses.get(keras.losses.serialize(theirs)).get_config()
    assert {k: v for k, v in restored.items() if k not in forgotten.get(cls, {})} == theirs.get_config()


def test_function_serialization_matches_keras(keras):
    from keras.src.losses.losses import LossFunctionWrapper

    assert losses.serialize(losses.huber) == keras.losses.serialize(keras.losses.huber)
    wrapped = LossFunctionWrapper(keras.losses.huber, name="h", delta=2.0)
    assert losses.serialize(losses.LossFunctionWrapper(losses.huber, name="h", delta=2.0)) == \
        keras.losses.serialize(wrapped)
    restored = losses.get(keras.losses.serialize(wrapped))
    assert restored.fn is losses.huber and restored.get_config() == wrapped.get_config()
    assert losses.get(keras.losses.serialize(keras.losses.mean_squared_error)).fn is losses.mean_squared_error


def test_losses_run_under_jit():
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=2)
    eager = loss(SPARSE, LOGITS, sample_weight=SW)
    _close(jax.jit(lambda t, p, w: loss(t, p, sample_weight=w))(SPARSE, LOGITS, SW), eager)
