"""compile / fit / evaluate / predict as Keras users call them: arguments, data kinds, output, errors,
determinism, and one run held against real Keras 3 weight for weight."""

import os
import re

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import edgekeras as ek  # noqa: E402


def blobs(n=96, seed=0):
    """Three well-separated classes in 4 dimensions."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centers = np.array([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]], "float32")
    return (centers[y] + 0.5 * rng.standard_normal((n, 4))).astype("float32"), y


X, Y = blobs()


def mlp(optimizer=None, loss="sparse_categorical_crossentropy", metrics=("accuracy",), dropout=0.0, seed=0):
    ek.utils.set_random_seed(seed)
    layers = [ek.Input((4,)), ek.layers.Dense(8, activation="relu")]
    layers += [ek.layers.Dropout(dropout)] if dropout else []
    model = ek.Sequential(layers + [ek.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=optimizer or ek.optimizers.SGD(0.1), loss=loss, metrics=list(metrics))
    return model


def refit(model, start, x=X, y=Y, **kwargs):
    """Train `model` again from the weights `start` (plain SGD keeps no state between fits)."""
    model.set_weights(start)
    return model.fit(x, y, **{"batch_size": 16, "shuffle": False, "verbose": 0, **kwargs})



# ---- compile ------------------------------------------------------------------------------------
@pytest.mark.parametrize("optimizer, loss, metrics, labels, metric_name", [
    ("adam", "sparse_categorical_crossentropy", ["accuracy"], "sparse", "accuracy"),
    (lambda: ek.optimizers.Adam(0.01), lambda: ek.losses.SparseCategoricalCrossentropy(),
     lambda: [ek.metrics.SparseCategoricalAccuracy()], "sparse", "sparse_categorical_accuracy"),
    ("rmsprop", "categorical_crossentropy", ["categorical_accuracy"], "one_hot", "categorical_accuracy"),
    (lambda: ek.optimizers.SGD(0.1, momentum=0.9), lambda: ek.losses.CategoricalCrossentropy(), ["accuracy"],
     "one_hot", "accuracy"),
])
def test_compile_takes_names_and_objects_and_trains(optimizer, loss, metrics, labels, metric_name):
    model = mlp(*[v() if callable(v) else v for v in (optimizer, loss, metrics)])
    y = Y if labels == "sparse" else ek.utils.to_categorical(Y, 3)
    history = model.fit(X, y, batch_size=16, epochs=3, verbose=0)
    assert list(history.history) == sorted(["loss", metric_name])
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_a_classifier_really_learns():
    model = mlp(ek.optimizers.Adam(0.02))
    x_test, y_test = blobs(60, seed=1)
    before = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
    history = model.fit(X, Y, batch_size=16, epochs=15, verbose=0)
    after = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert after["accuracy"] > 0.9 > 1 / 3 and after["loss"] < before["loss"]
    assert (model.predict(x_test, verbose=0).argmax(-1) == y_test).mean() == pytest.approx(after["accuracy"])


# ---- fit arguments ------------------------------------------------------------------------------
def test_fit_returns_a_keras_history():
    model = mlp()
    history = model.fit(X, Y, batch_size=32, epochs=3, validation_split=0.25, verbose=0)
    assert list(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert history.epoch == [0, 1, 2] and all(len(v) == 3 for v in history.history.values())
    assert history.params == {"verbose": 0, "epochs": 3, "steps": 3}  # 72 training samples in batches of 32
    assert model.history is history
    assert all(isinstance(v, float) for v in history.history["val_loss"])


def test_validation_split_takes_the_last_samples_like_validation_data():
    model = mlp()
    start = model.get_weights()
    split = refit(model, start, epochs=2, validation_split=0.25)
    after_split = model.get_weights()
    given = refit(model, start, X[:72], Y[:72], epochs=2, validation_data=(X[72:], Y[72:]))
    assert split.history == given.history
    for a, b in zip(after_split, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_validation_data_with_sample_weights_weights_the_validation_loss():
    model = mlp()
    weights = np.where(Y[72:] == 0, 1.0, 0.0).astype("float32")
    history = model.fit(X[:72], Y[:72], epochs=1, verbose=0, validation_data=(X[72:], Y[72:], weights))
    # Keras: the weighted loss is sum(w * loss) / number of samples.
    per_sample = -np.log(model.predict(X[72:], verbose=0)[np.arange(24), Y[72:]])
    assert history.history["val_loss"][0] == pytest.approx((weights * per_sample).mean(), rel=1e-4)


def test_initial_epoch_continues_the_epoch_count():
    model = mlp()
    history = model.fit(X, Y, epochs=5, initial_epoch=3, verbose=0)
    assert history.epoch == [3, 4]


def test_shuffle_false_is_independent_of_the_seed_and_shuffle_true_is_not():
    model = mlp()
    start = model.get_weights()

    def trained(shuffle, seed):
        ek.utils.set_random_seed(seed)
        refit(model, start, batch_size=8, epochs=2, shuffle=shuffle)
        return np.concatenate([w.ravel() for w in model.get_weights()])

    np.testing.assert_array_equal(trained(False, 0), trained(False, 1))
    assert not np.allclose(trained(True, 0), trained(True, 1))


def test_class_weight_is_a_per_class_sample_weight():
    model = mlp()
    start = model.get_weights()
    class_weight = {0: 0.5, 1: 2.0, 2: 1.0}
    refit(model, start, epochs=2, class_weight=class_weight)
    by_class = model.get_weights()
    refit(model, start, epochs=2, sample_weight=np.array([class_weight[c] for c in Y], "float32"))
    for a, b in zip(by_class, model.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)
    with pytest.raises(ValueError, match="class"):
        model.fit(X, Y, class_weight={0: 1.0, 1: 1.0}, verbose=0)


def test_sample_weight_scales_the_loss():
    # With plain SGD, weighting every sample by 2 is the same as doubling the learning rate.
    model = mlp(ek.optimizers.SGD(0.1))
    start = model.get_weights()
    refit(model, start, epochs=2)
    unweighted = model.get_weights()
    model.optimizer.learning_rate = 0.05
    refit(model, start, epochs=2, sample_weight=np.full(len(X), 2.0, "float32"))
    for a, b in zip(unweighted, model.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_callbacks_see_fit_progress_and_can_stop_it():
    seen = []

    class StopAfterTwoBatches(ek.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append((batch, sorted(logs)))
            self.model.stop_training = batch == 1

    history = mlp().fit(X, Y, batch_size=16, epochs=3, verbose=0, callbacks=[StopAfterTwoBatches()])
    assert seen == [(0, ["accuracy", "loss"]), (1, ["accuracy", "loss"])] and history.epoch == [0]


# ---- evaluate / predict / *_on_batch -----------------------------------------------------------
def test_evaluate_predict_and_the_batch_methods_agree():
    model = mlp()
    model.fit(X, Y, epochs=1, verbose=0)
    loss, acc = model.evaluate(X, Y, batch_size=96, verbose=0)
    assert model.evaluate(X, Y, batch_size=96, verbose=0, return_dict=True) == {"accuracy": acc, "loss": loss}
    assert model.test_on_batch(X, Y) == pytest.approx([loss, acc])
    assert model.test_on_batch(X, Y, return_dict=True) == pytest.approx({"accuracy": acc, "loss": loss})
    probs = model.predict(X, batch_size=10, verbose=0)
    assert probs.shape == (96, 3) and isinstance(probs, np.ndarray)
    np.testing.assert_allclose(model.predict_on_batch(X), probs, atol=1e-6)
    assert loss == pytest.approx(-np.log(probs[np.arange(96), Y]).mean(), rel=1e-5)
    assert acc == pytest.approx((probs.argmax(-1) == Y).mean())
    before = model.get_weights()[0].copy()
    out = model.train_on_batch(X[:16], Y[:16])
    assert len(out) == 2 and not np.allclose(model.get_weights()[0], before)
    loss_only = mlp(metrics=())
    assert isinstance(loss_only.evaluate(X, Y, batch_size=96, verbose=0), float)
    assert loss_only.evaluate(X, Y, batch_size=96, verbose=0) == pytest.approx(loss_only.test_on_batch(X, Y))


# ---- data kinds -------------------------------------------------------------------------------------
class Batches:
    """An iterable of (x, y) batches that can be iterated again every epoch."""

    def __iter__(self):
        return ((X[i:i + 16], Y[i:i + 16]) for i in range(0, len(X), 16))


def endless_batches():
    while True:
        yield from Batches()


def tf_dataset():
    tf = pytest.importorskip("tensorflow")
    return tf.data.Dataset.from_tensor_slices((X, Y)).batch(16)


@pytest.fixture(scope="module")
def array_trained():
    """Start weights, weights after 2 epochs of in-order batches of 16, and the model's evaluation."""
    model = mlp()
    start = model.get_weights()
    refit(model, start, epochs=2)
    return start, model.get_weights(), model.evaluate(X, Y, batch_size=16, verbose=0)


@pytest.mark.parametrize("make, steps", [(Batches, None), (endless_batches, 6), (tf_dataset, None)],
                         ids=["iterable", "generator", "tf.data"])
def test_iterables_generators_and_datasets_train_like_arrays(array_trained, make, steps):
    start, expected, evaluation = array_trained
    model = mlp()
    model.set_weights(start)
    history = model.fit(make(), epochs=2, steps_per_epoch=steps, verbose=0)
    assert len(history.history["loss"]) == 2
    for a, b in zip(model.get_weights(), expected):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert model.evaluate(make(), steps=steps, verbose=0) == pytest.approx(evaluation)
    assert model.predict(make(), steps=steps, verbose=0).shape == (96, 3)


def test_named_inputs_take_dicts():
    ek.utils.set_random_seed(0)
    a, b = ek.Input((2,), name="left"), ek.Input((2,), name="right")
    hidden = ek.layers.Concatenate()([ek.layers.Dense(4, activation="relu")(a), b])
    model = ek.Model([a, b], ek.layers.Dense(3, activation="softmax")(hidden))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    inputs = {"right": X[:, 2:], "left": X[:, :2]}
    history = model.fit(inputs, Y, batch_size=16, epochs=2, validation_split=0.25, verbose=0)
    assert list(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    np.testing.assert_allclose(model.predict(inputs, verbose=0), model.predict([X[:, :2], X[:, 2:]], verbose=0))
    with pytest.raises(ValueError, match="left"):
        model.predict({"right": X[:, 2:], "wrong": X[:, :2]}, verbose=0)


# ---- progress output --------------------------------------------------------------------------------
NUM = r"\d+\.\d{4}"
LOGS = rf" - accuracy: {NUM} - loss: {NUM}"
VAL_LOGS = LOGS + rf" - val_accuracy: {NUM} - val_loss: {NUM}"
STEP_TIME = r"\d+(s|ms|us)/step"


def test_verbose_1_prints_a_keras_progress_bar_per_epoch(capsys):
    mlp().fit(X, Y, batch_size=32, epochs=2, validation_split=0.25, verbose=1)
    lines = capsys.readouterr().out.split("\n")
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and lines[4] == ""
    for line in (lines[1], lines[3]):
        assert re.fullmatch(rf"3/3 ━{{20}} \d+s {STEP_TIME}{VAL_LOGS}", line), line


def test_verbose_2_prints_one_line_per_epoch(capsys):
    mlp().fit(X, Y, batch_size=8, epochs=2, verbose=2)
    lines = capsys.readouterr().out.split("\n")
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 5
    assert re.fullmatch(rf"12/12 - \d+s - {STEP_TIME}{LOGS}", lines[3]), lines[3]


def test_evaluate_and_predict_progress_and_silence(capsys):
    model = mlp()
    model.fit(X, Y, epochs=1, verbose=1)  # one epoch: no "Epoch 1/1" line, as in Keras
    model.evaluate(X, Y, batch_size=32, verbose=1)
    model.evaluate(X, Y, batch_size=32, verbose=2)
    model.predict(X, batch_size=10, verbose=1)
    model.fit(X, Y, epochs=2, verbose=0)
    model.predict(X, verbose=0)
    lines = capsys.readouterr().out.split("\n")
    assert len(lines) == 5, lines
    assert re.fullmatch(rf"3/3 ━{{20}} \d+s {STEP_TIME}{LOGS}", lines[0]), lines[0]
    assert re.fullmatch(rf"3/3 ━{{20}} \d+s {STEP_TIME}{LOGS}", lines[1]), lines[1]
    assert re.fullmatch(rf"3/3 - \d+s - {STEP_TIME}{LOGS}", lines[2]), lines[2]
    assert re.fullmatch(rf"10/10 ━{{20}} \d+s {STEP_TIME}", lines[3]), lines[3]


# ---- errors -----------------------------------------------------------------------------------------
def test_clear_errors_for_common_mistakes():
    model = mlp()
    with pytest.raises(ValueError, match=r"4.*5|5.*4"):
        model.fit(np.zeros((8, 5), "float32"), np.zeros(8), verbose=0)
    with pytest.raises(ValueError, match="no_such_layer"):
        model.get_layer("no_such_layer")
    with pytest.raises(ValueError, match="not_a_loss"):
        model.compile("sgd", loss="not_a_loss")
    with pytest.raises(ValueError, match="not_an_optimizer"):
        model.compile("not_an_optimizer", loss="mse")
    with pytest.raises(ValueError, match=r"96.*95|95.*96"):
        model.fit(X, Y[:-1], verbose=0)
    fresh = ek.Sequential([ek.Input((4,)), ek.layers.Dense(3)])
    with pytest.raises(ValueError, match="compile"):
        fresh.fit(X, Y, verbose=0)


# ---- determinism ------------------------------------------------------------------------------------
def test_set_random_seed_makes_fit_with_shuffle_and_dropout_repeat():
    def run(seed):
        model = mlp(dropout=0.5, seed=seed)
        model.fit(X, Y, batch_size=16, epochs=2, shuffle=True, verbose=0)
        return model.get_weights()

    first, second, other = run(0), run(0), run(1)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


# ---- against real Keras -------------------------------------------------------------------------
def test_training_matches_keras_weight_for_weight():
    keras = pytest.importorskip("keras")
    ref = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                            keras.layers.Dense(3, activation="softmax")])
    ref.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model = mlp()
    ref.set_weights(model.get_weights())
    expected = ref.fit(X, Y, batch_size=16, epochs=3, shuffle=False, verbose=0).history
    got = model.fit(X, Y, batch_size=16, epochs=3, shuffle=False, verbose=0).history
    for a, b in zip(model.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=0)
    assert got.keys() == expected.keys()
    for key in got:
        assert got[key] == pytest.approx(expected[key], abs=1e-4)
