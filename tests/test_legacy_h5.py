"""Legacy Keras-2 `.h5` import: files real Keras 3 writes with `model.save("m.h5")`, and files
built with h5py in exactly the layout tf.keras 2.x wrote (Keras 2 is not installable here).

Predictions are checked against real Keras 3 models holding the same weights."""

import json
import os

import h5py
import numpy as np
import pytest

import edgekeras as E

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

RNG = np.random.default_rng(2)
ATOL = 1e-5


def randomize(model):
    """Non-trivial weights without training (variances kept positive), in either library."""
    model.set_weights([np.abs(RNG.normal(size=w.shape)) + 0.5 if "variance" in w.path else
                       RNG.normal(size=w.shape) * 0.5 for w in model.weights])


@pytest.fixture(scope="module")
def K():
    """Real Keras 3 (imported once, only by the tests that compare against it)."""
    return pytest.importorskip("keras")


def predict(model, x):
    """Inference outputs as a list of NumPy arrays, from either library."""
    out = model(x, training=False)
    out = list(out.values()) if isinstance(out, dict) else out
    return [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]


def assert_same(ours, theirs, x):
    for a, b in zip(predict(ours, x), predict(theirs, x)):
        np.testing.assert_allclose(a, b, atol=ATOL)


# ---- a writer that mirrors tf.keras 2.x's hdf5_format.save_model_to_hdf5 ---------------------------
def _initializer(name, **config):
    return {"class_name": name, "config": config}


def _keras2_layer(class_name, name, config, inbound=None):
    entry = {"class_name": class_name, "config": {"name": name, "trainable": True, "dtype": "float32", **config}}
    if inbound is not None:  # Functional models only: [[[layer, node, tensor, kwargs], ...], ...]
        entry.update(name=name, inbound_nodes=inbound)
    return entry


def write_keras2_h5(path, model_config, layer_weights, training_config=None, optimizer_weights=None):
    """`layer_weights`: [(layer name, [(weight name like "dense/kernel:0", array), ...])] in
    model.layers order. Strings are stored as tf.keras 2 stored them (bytes attributes)."""
    with h5py.File(path, "w") as h5:
        h5.attrs["backend"] = "tensorflow"
        h5.attrs["keras_version"] = "2.13.1"
        h5.attrs["model_config"] = json.dumps(model_config).encode("utf8")
        if training_config is not None:
            h5.attrs["training_config"] = json.dumps(training_config).encode("utf8")
        weights = h5.create_group("model_weights")
        weights.attrs["layer_names"] = np.array([name.encode("utf8") for name, _ in layer_weights])
        weights.attrs["backend"] = "tensorflow"
        weights.attrs["keras_version"] = "2.13.1"
        for layer_name, values in layer_weights:
            group = weights.create_group(layer_name)
            group.attrs["weight_names"] = np.array([n.encode("utf8") for n, _ in values])
            for weight_name, value in values:
                group.create_dataset(weight_name, data=np.asarray(value))
        if optimizer_weights is not None:
            group = h5.create_group("optimizer_weights")
            group.attrs["weight_names"] = np.array([n.encode("utf8") for n, _ in optimizer_weights])
            for weight_name, value in optimizer_weights:
                group.create_dataset(weight_name, data=np.asarray(value))


def legacy_weights(model, layer_names):
    """(name, [(tf2-style weight name, value)]) from a Keras 3 or edgekeras model, trainable first."""
    out = []
    for name in layer_names:
        layer = model.get_layer(name)
        variables = layer.trainable_weights + layer.non_trainable_weights
        out.append((name, [(f"{name}/{v.name}:0", v.numpy()) for v in variables]))
    return out


GLOROT, ZEROS, ONES = _initializer("GlorotUniform", seed=None), _initializer("Zeros"), _initializer("Ones")
DENSE_ARGS = {"kernel_initializer": GLOROT, "bias_initializer": ZEROS, "kernel_regularizer": None,
              "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None,
              "bias_constraint": None}


def keras2_sequential_config():
    return {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 8, 8, 1], "dtype": "float32",
                                                "sparse": False, "ragged": False, "name": "conv2d_input"}},
        _keras2_layer("Conv2D", "conv2d", {
            "batch_input_shape": [None, 8, 8, 1], "filters": 4, "kernel_size": [3, 3], "strides": [1, 1],
            "padding": "valid", "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1,
            "activation": "relu", "use_bias": True, **DENSE_ARGS}),
        _keras2_layer("BatchNormalization", "batch_normalization", {
            "axis": [3], "momentum": 0.99, "epsilon": 0.001, "center": True, "scale": True,
            "beta_initializer": ZEROS, "gamma_initializer": ONES, "moving_mean_initializer": ZEROS,
            "moving_variance_initializer": ONES, "beta_regularizer": None, "gamma_regularizer": None,
            "beta_constraint": None, "gamma_constraint": None}),
        _keras2_layer("MaxPooling2D", "max_pooling2d", {"pool_size": [2, 2], "padding": "valid", "strides": [2, 2],
                                                        "data_format": "channels_last"}),
        _keras2_layer("Flatten", "flatten", {"data_format": "channels_last"}),
        _keras2_layer("Dropout", "dropout", {"rate": 0.25, "noise_shape": None, "seed": None}),
        _keras2_layer("Dense", "dense", {"units": 5, "activation": "linear", "use_bias": True, **DENSE_ARGS}),
        _keras2_layer("LeakyReLU", "leaky_re_lu", {"alpha": 0.3}),
    ]}, "keras_version": "2.13.1", "backend": "tensorflow"}


KERAS2_TRAINING_CONFIG = {
    "loss": "categorical_crossentropy",
    "metrics": [[{"class_name": "MeanMetricWrapper",
                  "config": {"name": "accuracy", "dtype": "float32", "fn": "categorical_accuracy"}}]],
    "weighted_metrics": None, "loss_weights": None,
    "optimizer_config": {"class_name": "Custom>Adam", "config": {
        "name": "Adam", "weight_decay": None, "clipnorm": None, "global_clipnorm": None, "clipvalue": None,
        "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None, "jit_compile": False,
        "is_legacy_optimizer": False, "learning_rate": 0.002, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07,
        "amsgrad": False}}}


def sequential_twin(lib):
    """The model `keras2_sequential_config` describes, built with Keras 3 or edgekeras."""
    L = lib.layers
    model = lib.Sequential([lib.Input((8, 8, 1)), L.Conv2D(4, 3, activation="relu", name="conv2d"),
                          L.BatchNormalization(name="batch_normalization"), L.MaxPooling2D(name="max_pooling2d"),
                          L.Flatten(name="flatten"), L.Dropout(0.25, name="dropout"), L.Dense(5, name="dense"),
                          L.LeakyReLU(0.3, name="leaky_re_lu")])
    randomize(model)
    return model


SEQ_LAYERS = ["conv2d", "batch_normalization", "max_pooling2d", "flatten", "dropout", "dense", "leaky_re_lu"]
X_IMG = RNG.normal(size=(3, 8, 8, 1)).astype("float32")


# ---- Keras 2 layouts ------------------------------------------------------------------------------
def test_keras2_sequential_with_training_config(tmp_path, K):
    twin = sequential_twin(K)
    path = tmp_path / "k2_seq.h5"
    # tf.keras 2.11+ Adam: iteration then m/v per variable, no learning-rate variable: does not line up.
    optimizer_weights = [("Adam/iter:0", np.int64(7)), ("Adam/m/conv2d/kernel:0", np.zeros((3, 3, 1, 4)))]
    write_keras2_sequential(path, twin, KERAS2_TRAINING_CONFIG, optimizer_weights)
    with pytest.warns(UserWarning, match="optimizer starts fresh"):
        model = E.models.load_model(path)
    assert [layer.name for layer in model.layers] == SEQ_LAYERS
    assert_same(model, twin, X_IMG)
    assert isinstance(model.optimizer, E.optimizers.Adam)
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.002)
    assert int(model.optimizer.iterations.numpy()) == 0
    model.fit(X_IMG, np.eye(5)[[0, 1, 2]], epochs=1, verbose=0)  # compiled from training_config
    uncompiled = E.models.load_model(path, compile=False)
    assert not uncompiled.compiled


def test_keras2_functional_inbound_node_lists(tmp_path, K):
    L = K.layers
    a, b = K.Input((5,), name="input_1", dtype="int32"), K.Input((3,), name="input_2")
    emb = L.Flatten(name="flatten")(L.Embedding(10, 2, name="embedding")(a))
    x = L.Dense(3, activation="tanh", name="dense")(emb)
    out = L.Concatenate(name="concatenate")([L.Add(name="add")([x, b]), b])
    twin = K.Model([a, b], [L.Dense(2, name="dense_1")(out), x])
    randomize(twin)

    def node(*names):
        return [[[name, 0, 0, {}] for name in names]]

    config = {"class_name": "Model", "config": {"name": "model", "trainable": True, "layers": [
        {"class_name": "InputLayer", "name": "input_1", "inbound_nodes": [], "config": {
            "batch_input_shape": [None, 5], "dtype": "int32", "sparse": False, "ragged": False, "name": "input_1"}},
        _keras2_layer("Embedding", "embedding", {
            "batch_input_shape": [None, 5], "input_dim": 10, "output_dim": 2, "input_length": 5,
            "embeddings_initializer": _initializer("RandomUniform", minval=-0.05, maxval=0.05, seed=None),
            "embeddings_regularizer": None, "activity_regularizer": None, "embeddings_constraint": None,
            "mask_zero": False}, node("input_1")),
        _keras2_layer("Flatten", "flatten", {"data_format": "channels_last"}, node("embedding")),
        _keras2_layer("Dense", "dense", {"units": 3, "activation": "tanh", "use_bias": True, **DENSE_ARGS},
                      node("flatten")),
        {"class_name": "InputLayer", "name": "input_2", "inbound_nodes": [], "config": {
            "batch_input_shape": [None, 3], "dtype": "float32", "sparse": False, "ragged": False, "name": "input_2"}},
        _keras2_layer("Add", "add", {}, node("dense", "input_2")),
        _keras2_layer("Concatenate", "concatenate", {"axis": -1}, node("add", "input_2")),
        _keras2_layer("Dense", "dense_1", {"units": 2, "activation": "linear", "use_bias": True, **DENSE_ARGS},
                      node("concatenate")),
    ], "input_layers": [["input_1", 0, 0], ["input_2", 0, 0]],
        "output_layers": [["dense_1", 0, 0], ["dense", 0, 0]]}}
    names = ["input_1", "embedding", "flatten", "dense", "input_2", "add", "concatenate", "dense_1"]
    path = tmp_path / "k2_fn.h5"
    write_keras2_h5(path, config, [(n, w) for n, w in legacy_weights(twin, names)])
    model = E.models.load_model(path)
    x = [RNG.integers(0, 10, size=(4, 5)).astype("int32"), RNG.normal(size=(4, 3)).astype("float32")]
    assert_same(model, twin, x)


def test_keras2_nested_model_counts_its_calls_from_one(tmp_path, K):
    L = K.layers
    i = K.Input((4,), name="ii")
    inner = K.Model(i, L.Dense(3, name="idense")(i), name="inner")
    x = K.Input((4,), name="x")
    h = inner(x)
    twin = K.Model(x, [L.Dense(2, name="head")(h), h])
    randomize(twin)
    input_layer = {"class_name": "InputLayer", "name": "x", "inbound_nodes": [], "config": {
        "batch_input_shape": [None, 4], "dtype": "float32", "sparse": False, "ragged": False, "name": "x"}}
    inner_config = {"name": "inner", "layers": [
        {"class_name": "InputLayer", "name": "ii", "inbound_nodes": [], "config": {
            "batch_input_shape": [None, 4], "dtype": "float32", "sparse": False, "ragged": False, "name": "ii"}},
        _keras2_layer("Dense", "idense", {"units": 3, "activation": "linear", "use_bias": True, **DENSE_ARGS},
                      [[["ii", 0, 0, {}]]])], "input_layers": [["ii", 0, 0]], "output_layers": [["idense", 0, 0]]}
    config = {"class_name": "Functional", "config": {"name": "outer", "layers": [
        input_layer,
        {"class_name": "Functional", "name": "inner", "config": inner_config, "inbound_nodes": [[["x", 0, 0, {}]]]},
        _keras2_layer("Dense", "head", {"units": 2, "activation": "linear", "use_bias": True, **DENSE_ARGS},
                      [[["inner", 1, 0, {}]]]),  # Keras 2: the model's own node is #0, its first call #1
    ], "input_layers": [["x", 0, 0]], "output_layers": [["head", 0, 0], ["inner", 1, 0]]}}
    path = tmp_path / "k2_nested.h5"
    write_keras2_h5(path, config, legacy_weights(twin, ["x", "inner", "head"]))
    assert_same(E.models.load_model(path), twin, RNG.normal(size=(3, 4)).astype("float32"))


def test_keras2_weights_only_file_and_chunked_weight_names(tmp_path, K):
    twin = sequential_twin(K)
    path = tmp_path / "k2_weights.h5"
    with h5py.File(path, "w") as h5:  # save_weights("w.h5") in tf.keras 2: the layer groups sit at the root
        h5.attrs["layer_names"] = np.array([n.encode() for n in SEQ_LAYERS])
        for name, values in legacy_weights(twin, SEQ_LAYERS):
            group = h5.create_group(name)
            names = np.array([n.encode() for n, _ in values])
            group.attrs["weight_names0"], group.attrs["weight_names1"] = names[:1], names[1:]  # chunked form
            for weight_name, value in values:
                group.create_dataset(weight_name, data=value)
    model = E.models.load_model(write_keras2_sequential(tmp_path / "whole.h5", twin))
    randomize(model)
    with pytest.raises(ValueError, match="no model_config"):
        E.models.load_model(path)
    model.load_weights(path)
    assert_same(model, twin, X_IMG)


def _h5_from(keras_model, path):
    keras_model.save(path)
    return path


# ---- real files from Keras 3's legacy writer ------------------------------------------------------
def test_keras3_legacy_writer_round_trip_with_optimizer_state(tmp_path, K):
    twin = sequential_twin(K)
    twin.compile(optimizer=K.optimizers.Adam(0.01), loss="categorical_crossentropy", metrics=["accuracy"])
    twin.fit(X_IMG, np.eye(5)[[0, 1, 2]], epochs=3, verbose=0)
    path = _h5_from(twin, tmp_path / "k3.h5")
    model = E.models.load_model(path)
    assert_same(model, twin, X_IMG)
    assert int(model.optimizer.iterations.numpy()) == 3
    for ours, theirs in zip(model.optimizer.variables, twin.optimizer.variables):
        np.testing.assert_allclose(np.asarray(ours.numpy(), "float64"), np.asarray(theirs.numpy(), "float64"),
                                   atol=1e-6)


def test_keras3_legacy_writer_functional(tmp_path, K):
    L = K.layers
    a, b = K.Input((4,), name="a"), K.Input((4,), name="b")
    x = L.Dense(4, activation="relu")(a)
    y = L.Concatenate()([L.Add()([x, b]), L.Multiply()([a, b])])
    twin = K.Model([a, b], [L.Dense(2)(y), L.Dense(1)(x)])
    randomize(twin)
    model = E.models.load_model(_h5_from(twin, tmp_path / "fn.h5"))
    data = [RNG.normal(size=(4, 4)).astype("float32") for _ in range(2)]
    assert_same(model, twin, data)


# ---- malformed legacy files -----------------------------------------------------------------------
def write_keras2_sequential(path, twin, training_config=None, optimizer_weights=None):
    write_keras2_h5(path, keras2_sequential_config(), legacy_weights(twin, SEQ_LAYERS), training_config,
                    optimizer_weights)
    return path


@pytest.fixture()
def legacy_file(tmp_path):
    return write_keras2_sequential(tmp_path / "base.h5", sequential_twin(E))


@pytest.mark.parametrize("edit, message", [
    (lambda h5: h5.attrs.__setitem__("model_config", b"{not json"), "not valid JSON"),
    (lambda h5: h5.attrs.__setitem__("model_config", json.dumps(
        {"class_name": "Sequential", "config": {"layers": [{"class_name": "Lambda", "config": {
            "function": ["4wEAAAAAAAAAAAAAAAEAAAA=", None, None], "function_type": "lambda"}}]}}).encode()),
     "Lambda"),
    (lambda h5: h5.attrs.__setitem__("model_config", json.dumps(
        {"class_name": "Sequential", "config": {"layers": [{"class_name": "TFOpLambda", "config": {}}]}}).encode()),
     "Unknown class 'TFOpLambda'"),
    (lambda h5: h5["model_weights"].attrs.__setitem__("layer_names", np.array([b"conv2d", b"ghost"])), "ghost"),
    (lambda h5: h5["model_weights/dense"].attrs.__setitem__("weight_names", np.array([b"dense/kernel:0"])),
     "weight"),
    (lambda h5: h5.__delitem__("model_weights"), "no model_weights"),
    (lambda h5: h5["model_weights/dense/dense"].__setitem__("extra", h5py.ExternalLink("/etc/passwd", "/")),
     "links to other locations"),
])
def test_malformed_legacy_files_are_value_errors(legacy_file, edit, message):
    with h5py.File(legacy_file, "a") as h5:
        edit(h5)
    with pytest.raises(ValueError, match=message):
        E.models.load_model(legacy_file)
