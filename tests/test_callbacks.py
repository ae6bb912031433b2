"""Callbacks: hook order and arguments, and each built-in callback's decisions, files and side effects.

Where real Keras 3 is installed the decisions are held against it: the same logs are fed to Keras's
callback and to ours and what they do (stop, save, change the learning rate, write) must agree.
"""

import csv
import glob
import io
import os
import re
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import edgekeras as ek  # noqa: E402
from edgekeras import callbacks  # noqa: E402

FIT_HOOKS = ["on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
             "on_train_batch_end", "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
             "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end"]


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


def data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64") + (x[:, 1] > 0.5)
    return x, y


def small_model(lr=0.1, seed=0):
    ek.utils.set_random_seed(seed)
    model = ek.Sequential([ek.Input((4,)), ek.layers.Dense(8, activation="relu"),
                           ek.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=ek.optimizers.SGD(lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


# ---- hook order -------------------------------------------------------------------------------
def recorder_class(base):
    """A Callback subclass (of Keras's or ours) that records every hook with its step and log names."""

    def hook(name):
        def method(self, *args, logs=None):
            step = args[0] if args and not isinstance(args[0], dict) else None
            logs = args[-1] if args and isinstance(args[-1], dict) else logs
            self.calls.append((name, step, tuple(sorted(logs)) if logs is not None else None))
            assert self.model is self.expected_model

        return method

    return type("Recorder", (base,), {name: hook(name) for name in FIT_HOOKS})


def run_recorded(recorder, model):
    x, y = data(10)
    vx, vy = data(6, seed=1)
    rec = recorder()
    rec.calls, rec.expected_model = [], model
    model.fit(x, y, batch_size=4, epochs=2, validation_data=(vx, vy), verbose=0, callbacks=[rec])
    params = dict(rec.params)
    model.evaluate(vx, vy, batch_size=4, verbose=0, callbacks=[rec])
    model.predict(vx, batch_size=4, verbose=0, callbacks=[rec])
    return rec.calls, params


def test_hooks_are_called_in_keras_order_with_keras_arguments(keras):
    keras.utils.set_random_seed(0)
    ref_model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    ref_model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    expected, expected_params = run_recorded(recorder_class(keras.callbacks.Callback), ref_model)

    model = ek.Sequential([ek.Input((4,)), ek.layers.Dense(3, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    calls, params = run_recorded(recorder_class(callbacks.Callback), model)
    assert params == expected_params == {"verbose": 0, "epochs": 2, "steps": 3}
    assert calls == expected
    # Spot-check the shape of what Keras does, so a failure above is readable.
    names = [c[0] for c in calls]
    assert names[:3] == ["on_train_begin", "on_epoch_begin", "on_train_batch_begin"]
    assert ("on_epoch_end", 0, ("accuracy", "loss", "val_accuracy", "val_loss")) in calls
    assert ("on_predict_batch_end", 0, ("outputs",)) in calls


def test_keras2_batch_hook_names_are_aliases_of_the_train_batch_hooks():
    seen = []

    class Legacy(callbacks.Callback):
        def on_batch_begin(self, batch, logs=None):
            seen.append(("begin", batch))

        def on_batch_end(self, batch, logs=None):
            seen.append(("end", batch, sorted(logs)))

    x, y = data(8)
    small_model().fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[Legacy()])
    assert seen == [("begin", 0), ("end", 0, ["accuracy", "loss"]), ("begin", 1), ("end", 1, ["accuracy", "loss"])]


def test_lambda_callback_sets_the_given_hooks_and_any_other_by_keyword():
    events = []
    cb = callbacks.LambdaCallback(
        on_train_begin=lambda logs: events.append("train_begin"),
        on_epoch_end=lambda epoch, logs: events.append(("epoch_end", epoch, logs["loss"] > 0)),
        on_train_batch_end=lambda batch, logs: events.append(("batch_end", batch)),
        on_train_end=lambda logs: events.append("train_end"),
        on_predict_end=lambda logs: events.append("predict_end"))
    x, y = data(8)
    model = small_model()
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[cb])
    model.predict(x, verbose=0, callbacks=[cb])
    assert events == ["train_begin", ("batch_end", 0), ("batch_end", 1), ("epoch_end", 0, True),
                      ("batch_end", 0), ("batch_end", 1), ("epoch_end", 1, True), "train_end", "predict_end"]


# ---- monitored callbacks, decision for decision against Keras ------------------------------
class FakeOptimizer:
    def __init__(self):
        self.learning_rate = 0.1


class FakeModel:
    """Just what EarlyStopping, ReduceLROnPlateau and ModelCheckpoint touch; weights are the epoch."""

    def __init__(self):
        self.stop_training = False
        self.metrics = []
        self.optimizer = FakeOptimizer()
        self.epoch = 0
        self.restored = None
        self.saved = []

    def get_weights(self):
        return [np.array(self.epoch)]

    def set_weights(self, weights):
        self.restored = int(weights[0])

    def save(self, filepath, overwrite=True):
        self.saved.append(("model", filepath))

    def save_weights(self, filepath, overwrite=True):
        self.saved.append(("weights", filepath))


def drive(callback, values, monitor="val_loss", batches=0):
    """Run `callback` through epochs whose monitored value is `values[epoch]`; return what it did."""
    model = FakeModel()
    callback.set_model(model)
    callback.on_train_begin()
    lrs = []
    for epoch, value in enumerate(values):
        model.epoch = epoch
        callback.on_epoch_begin(epoch)
        for batch in range(batches):
            callback.on_train_batch_begin(batch)
            callback.on_train_batch_end(batch, {"loss": float(batch)})
        logs = {"loss": 1.0, monitor: value}
        callback.on_epoch_end(epoch, logs)
        lrs.append(logs.get("learning_rate"))
        if model.stop_training:
            break
    callback.on_train_end({})
    return {"epochs_run": epoch + 1, "restored": model.restored, "lrs": lrs, "lr": model.optimizer.learning_rate,
            "saved": model.saved, "best": callback.best}


monitored_values = st.lists(st.sampled_from([0.1, 0.2, 0.25, 0.3, 0.5, 0.9]), min_size=1, max_size=10)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(values=monitored_values, patience=st.integers(0, 3), min_delta=st.sampled_from([0, 0.06]),
       mode=st.sampled_from(["auto", "min", "max"]), baseline=st.sampled_from([None, 0.2]),
       restore=st.booleans(), start_from_epoch=st.integers(0, 2))
def test_early_stopping_decides_as_keras(keras, values, patience, min_delta, mode, baseline, restore,
                                         start_from_epoch):
    kwargs = dict(monitor="val_loss", patience=patience, min_delta=min_delta, mode=mode, baseline=baseline,
                  restore_best_weights=restore, start_from_epoch=start_from_epoch)
    assert drive(callbacks.EarlyStopping(**kwargs), values) == drive(keras.callbacks.EarlyStopping(**kwargs), values)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(values=monitored_values, patience=st.integers(0, 3), cooldown=st.integers(0, 2),
       min_delta=st.sampled_from([1e-4, 0.06]), mode=st.sampled_from(["auto", "min", "max"]),
       min_lr=st.sampled_from([0.0, 0.005]))
def test_reduce_lr_on_plateau_decides_as_keras(keras, values, patience, cooldown, min_delta, mode, min_lr):
    kwargs = dict(factor=0.5, patience=patience, cooldown=cooldown, min_delta=min_delta, mode=mode, min_lr=min_lr)
    assert drive(callbacks.ReduceLROnPlateau(**kwargs), values) == \
        drive(keras.callbacks.ReduceLROnPlateau(**kwargs), values)


@pytest.mark.parametrize("kwargs, monitor, template, first", [
    (dict(), "val_loss", "ckpt-{epoch:02d}-{val_loss:.2f}", "ckpt-01-0.50"),
    (dict(save_best_only=True), "val_loss", "best", "best"),
    (dict(save_best_only=True, mode="max", monitor="val_acc"), "val_acc", "{val_acc:.1f}", "0.5"),
    (dict(save_best_only=True, initial_value_threshold=0.2), "val_loss", "e{epoch}", "e5"),
    (dict(save_freq=3), "val_loss", "ckpt-{epoch:02d}-{batch}", "ckpt-02-1"),  # batch logs have no val_loss
])
@pytest.mark.parametrize("weights_only", [False, True])
def test_model_checkpoint_saves_what_keras_saves(keras, tmp_path, kwargs, monitor, template, first, weights_only):
    suffix = ".weights.h5" if weights_only else ".keras"
    path = str(tmp_path / (template + suffix))
    values = [0.5, 0.3, 0.3, 0.9, 0.1, 0.25]
    mine = drive(callbacks.ModelCheckpoint(path, save_weights_only=weights_only, **kwargs), values, monitor, 2)
    ref = drive(keras.callbacks.ModelCheckpoint(path, save_weights_only=weights_only, **kwargs), values, monitor, 2)
    assert mine == ref
    assert mine["saved"][0] == ("weights" if weights_only else "model", str(tmp_path / (first + suffix)))


@pytest.mark.parametrize("kwargs, match", [
    (dict(filepath="w.h5", save_weights_only=True), r"\.weights\.h5"),
    (dict(filepath="model.ckpt"), r"\.keras"),
    (dict(filepath="m.keras", save_freq="batch"), "save_freq"),
])
def test_model_checkpoint_rejects_what_keras_rejects(kwargs, match):
    with pytest.raises(ValueError, match=match):
        callbacks.ModelCheckpoint(**kwargs)


def test_model_checkpoint_reports_unknown_placeholders():
    cb = callbacks.ModelCheckpoint("m-{val_acc:.2f}.keras")
    with pytest.raises(KeyError, match="Failed to format this callback filepath"):
        drive(cb, [0.5])


def test_monitor_direction_comes_from_the_metric_name_and_mode():
    model = small_model()
    for monitor, mode, op in [("val_accuracy", "auto", np.greater), ("loss", "auto", np.less),
                              ("val_loss", "max", np.greater), ("val_mean_absolute_error", "auto", np.less)]:
        cb = callbacks.EarlyStopping(monitor=monitor, mode=mode)
        cb.set_model(model)
        cb._set_monitor_op()
        assert cb.monitor_op is op, monitor
    cb = callbacks.EarlyStopping(monitor="val_something")
    cb.set_model(model)
    with pytest.raises(ValueError, match="mode='max'"):
        cb._set_monitor_op()
    with pytest.warns(UserWarning, match="unknown"):
        assert callbacks.EarlyStopping(mode="bigger").mode == "auto"


# ---- monitored callbacks inside fit -----------------------------------------------------------
def test_early_stopping_stops_fit_and_restores_the_best_weights():
    x, y = data()
    model = small_model()
    snapshots = {}
    keep = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.setdefault(
        epoch, [np.array(w, copy=True) for w in model.get_weights()]))
    # val_loss never improves by 10, so the first epoch stays the best and training stops after patience.
    stop = callbacks.EarlyStopping(monitor="val_loss", min_delta=10, patience=2, restore_best_weights=True)
    history = model.fit(x, y, epochs=20, batch_size=16, validation_split=0.25, verbose=0, callbacks=[keep, stop])
    assert history.epoch == [0, 1, 2] and stop.stopped_epoch == 2 and stop.best_epoch == 0
    for restored, best in zip(model.get_weights(), snapshots[0]):
        np.testing.assert_array_equal(restored, best)
    assert not np.allclose(snapshots[2][0], snapshots[0][0])


def test_early_stopping_verbose_messages(capsys):
    x, y = data(16)
    stop = callbacks.EarlyStopping(monitor="loss", min_delta=10, patience=1, verbose=1, restore_best_weights=True)
    small_model().fit(x, y, epochs=5, verbose=0, callbacks=[stop])
    assert capsys.readouterr().out == ("Epoch 2: early stopping\n"
                                       "Restoring model weights from the end of the best epoch: 1.\n")


def test_reduce_lr_on_plateau_changes_the_rate_the_compiled_step_uses():
    x, y = data()
    model = small_model(lr=0.1)
    kernels = []
    record = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: kernels.append(
        np.array(model.layers[0].kernel.numpy(), copy=True)))
    # Nothing counts as an improvement, so at the end of the 2nd epoch the rate drops to 0.1 * factor = 0.
    reduce = callbacks.ReduceLROnPlateau(monitor="loss", factor=0.0, patience=1, min_delta=100)
    history = model.fit(x, y, epochs=4, batch_size=16, verbose=0, callbacks=[reduce, record])
    assert float(model.optimizer.learning_rate) == 0.0
    assert not np.allclose(kernels[0], kernels[1])  # epoch 2 still trained at 0.1
    np.testing.assert_array_equal(kernels[2], kernels[1])  # lr 0 from epoch 3 on: the compiled step sees it
    np.testing.assert_array_equal(kernels[3], kernels[2])
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.0, 0.0])


def test_model_checkpoint_writes_loadable_files_during_fit(tmp_path):
    x, y = data()
    model = small_model()
    weights = callbacks.ModelCheckpoint(str(tmp_path / "w-{epoch:02d}-{val_loss:.2f}.weights.h5"),
                                        save_weights_only=True)
    best = callbacks.ModelCheckpoint(str(tmp_path / "best.keras"), monitor="val_accuracy", save_best_only=True)
    history = model.fit(x, y, epochs=2, batch_size=16, validation_split=0.25, verbose=0, callbacks=[weights, best])
    last = tmp_path / f"w-02-{history.history['val_loss'][-1]:.2f}.weights.h5"
    assert sorted(p.name for p in tmp_path.iterdir())[-1] == last.name and (tmp_path / "best.keras").exists()
    fresh = small_model(seed=1)
    fresh.load_weights(str(last))
    for a, b in zip(fresh.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    reloaded = ek.models.load_model(str(tmp_path / "best.keras"))
    assert reloaded.predict(x, verbose=0).shape == (len(x), 3)


# ---- CSVLogger ------------------------------------------------------------------------------------
def csv_epochs(logger, epochs_logs):
    logger.set_model(FakeModel())
    logger.on_train_begin()
    for epoch, logs in enumerate(epochs_logs):
        logger.on_epoch_end(epoch, logs)
    logger.on_train_end()


@pytest.mark.parametrize("separator, append", [(",", False), (";", True)])
def test_csv_logger_writes_the_layout_keras_writes(keras, tmp_path, separator, append):
    runs = [[{"loss": 0.5, "accuracy": 0.25, "val_loss": 0.75, "val_accuracy": 0.5},
             {"loss": 0.25, "accuracy": 1e-7, "val_loss": 0.5, "val_accuracy": np.float32(0.75)}],
            [{"loss": 0.125, "accuracy": np.array(0.5), "lst": np.array([1, 2])}]]  # no val_: Keras adds NA columns
    for name, module in [("mine.csv", callbacks), ("ref.csv", keras.callbacks)]:
        for logs in runs:
            path = tmp_path / name
            csv_epochs(module.CSVLogger(str(path), separator=separator, append=append), logs)
    mine, ref = (tmp_path / "mine.csv").read_text(), (tmp_path / "ref.csv").read_text()
    assert mine == ref
    rows = list(csv.reader(io.StringIO(mine), delimiter=separator))
    assert rows[0] == (["epoch", "accuracy", "loss", "val_accuracy", "val_loss"] if append else
                       ["epoch", "accuracy", "loss", "lst", "val_accuracy", "val_loss", "val_lst"])
    assert rows[-1][-1] == "NA" and len(rows) == (4 if append else 2)


def test_csv_logger_during_fit(tmp_path):
    x, y = data()
    path = tmp_path / "log.csv"
    history = small_model().fit(x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0,
                                callbacks=[callbacks.CSVLogger(str(path))])
    rows = list(csv.DictReader(path.open()))
    assert list(rows[0]) == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert [float(r["val_loss"]) for r in rows] == history.history["val_loss"]


# ---- TensorBoard ----------------------------------------------------------------------------------
def read_events(directory):
    """{tag: [(step, value)]} from every event file in `directory`, read with TensorFlow's reader."""
    tf = pytest.importorskip("tensorflow")
    out = {}
    for path in sorted(glob.glob(os.path.join(directory, "events.out.tfevents.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                kind = value.WhichOneof("value")
                if kind == "simple_value":
                    item = value.simple_value
                elif kind == "tensor" and value.metadata.plugin_data.plugin_name == "scalars":
                    item = float(tf.make_ndarray(value.tensor))
                else:
                    item = kind if kind != "tensor" else value.metadata.plugin_data.plugin_name
                out.setdefault(value.tag, []).append((event.step, item))
    return out


def test_tensorboard_writes_the_events_keras_writes(tmp_path):
    x, y = data(32)
    vx, vy = data(16, seed=1)
    model = small_model()
    board = callbacks.TensorBoard(log_dir=str(tmp_path), update_freq="batch", histogram_freq=1)
    history = model.fit(x, y, epochs=2, batch_size=16, validation_data=(vx, vy), verbose=0, callbacks=[board])
    train, val = read_events(tmp_path / "train"), read_events(tmp_path / "validation")
    # Keras 3's tags and steps: epochs count from 0, batches from 1 across epochs, evaluations by iteration.
    histograms = {f"{w.path}/histogram": [(0, "histo"), (1, "histo")] for w in model.weights}
    assert {tag: [s for s, _ in points] for tag, points in train.items()} == {
        "keras": [0], "epoch_loss": [0, 1], "epoch_accuracy": [0, 1], "epoch_learning_rate": [0, 1],
        "batch_loss": [1, 2, 3, 4], "batch_accuracy": [1, 2, 3, 4], **{t: [0, 1] for t in histograms}}
    assert {tag: [s for s, _ in points] for tag, points in val.items()} == {
        "epoch_loss": [0, 1], "epoch_accuracy": [0, 1], "evaluation_loss_vs_iterations": [2, 4],
        "evaluation_accuracy_vs_iterations": [2, 4]}
    assert train["keras"] == [(0, "graph_keras_model")]
    assert all(train[tag] == points for tag, points in histograms.items())
    assert [v for _, v in train["epoch_loss"]] == pytest.approx(history.history["loss"])
    assert [v for _, v in train["epoch_learning_rate"]] == pytest.approx([0.1, 0.1])
    assert [v for _, v in val["epoch_accuracy"]] == pytest.approx(history.history["val_accuracy"])
    assert [v for _, v in val["evaluation_loss_vs_iterations"]] == pytest.approx(history.history["val_loss"])


def test_tensorboard_batch_summaries_follow_update_freq(tmp_path):
    x, y = data(64)
    board = callbacks.TensorBoard(log_dir=str(tmp_path), update_freq=3, write_steps_per_second=True)
    small_model().fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[board])
    train = read_events(tmp_path / "train")
    assert [s for s, _ in train["batch_loss"]] == [s for s, _ in train["batch_steps_per_second"]] == [3, 6]
    assert [s for s, _ in train["epoch_accuracy"]] == [s for s, _ in train["epoch_steps_per_second"]] == [0, 1]
    assert all(v > 0 for _, v in train["epoch_steps_per_second"] + train["batch_steps_per_second"])
    assert not os.path.exists(tmp_path / "validation")


def test_tensorboard_rejects_what_it_cannot_write():
    with pytest.raises(ValueError, match="profile_batch"):
        callbacks.TensorBoard(profile_batch=2)
    with pytest.raises(ValueError, match="update_freq"):
        callbacks.TensorBoard(update_freq="sometimes")


# ---- progress bar on a terminal -------------------------------------------------------------------
class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progbar_redraws_in_place_with_colour_and_eta_on_a_terminal(monkeypatch):
    monkeypatch.setattr(sys, "stdout", Terminal())
    monkeypatch.setattr("edgekeras.callbacks.progbar_logger._INTERVAL", 0.0)
    x, y = data(64)
    small_model().fit(x, y, epochs=2, batch_size=16, verbose=1)
    out = sys.stdout.getvalue()
    plain = re.sub(r"\x1b\[\d+m", "", out)
    assert "\x1b[32m" in out and out.count("\n") == 4  # two "Epoch i/2" lines and two finished bars
    frames = plain.split("Epoch 2/2\n")[1].split("\r")[1:]
    assert len(frames) == 5  # one redraw per batch, then the final one
    assert re.fullmatch(r"1/4 ━{20} \d+s \d+(ms|us)/step - accuracy: \d\.\d{4} - loss: \d\.\d{4} *", frames[0])
    assert re.fullmatch(r"4/4 ━{20} \d+s \d+(ms|us)/step - accuracy: \d\.\d{4} - loss: \d\.\d{4} *\n", frames[-1])
