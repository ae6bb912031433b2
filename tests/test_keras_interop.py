"""edgekeras files against real Keras 3 (TensorFlow backend): each library loads what the other
saves (`.keras`, legacy `.h5`, `.weights.h5`) and predicts the same, the config.json trees match,
and Keras reads our optimizer state. Every layer Keras and edgekeras both have is covered; layers
edgekeras does not export yet are skipped."""

import json
import os
import zipfile

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
K = pytest.importorskip("keras")

import edgekeras as E  # noqa: E402
from edgekeras.backend.variables import reset_names  # noqa: E402
from test_legacy_h5 import assert_same, randomize  # noqa: E402
from test_saving import subclassed  # noqa: E402

RNG = np.random.default_rng(1)


# ---- helpers --------------------------------------------------------------------------------------
def tree_diff(ours, theirs, path=""):
    """Differences between two config trees (Keras's `shared_object_id` bookkeeping ignored)."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        out = []
        for key in sorted((set(ours) | set(theirs)) - {"shared_object_id"}):
            if key not in ours or key not in theirs:
                out.append(f"{path}/{key}: only in {'keras' if key not in ours else 'edgekeras'}")
            else:
                out += tree_diff(ours[key], theirs[key], f"{path}/{key}")
        return out
    if isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        return [d for i, (a, b) in enumerate(zip(ours, theirs)) for d in tree_diff(a, b, f"{path}[{i}]")]
    return [] if ours == theirs else [f"{path}: edgekeras={ours!r} keras={theirs!r}"]


def config_of(path):
    config = json.loads(zipfile.ZipFile(path).read("config.json"))
    config.get("compile_config", {}).pop("jit_compile", None)  # Keras writes what its backend resolved
    return config


def functional(lib):
    """Two inputs, a residual Add, Concatenate, BatchNormalization, Dropout and two outputs."""
    L = lib.layers
    a, b = lib.Input((4,), name="a"), lib.Input((4,), name="b")
    x = L.Dense(4, activation="relu", name="d1")(a)
    y = L.Add(name="residual")([x, a])
    z = L.Concatenate(name="cat")([y, b])
    h = L.BatchNormalization(name="bn")(L.Dropout(0.2, name="drop")(z))
    model = lib.Model([a, b], [L.Dense(2, name="o1")(h), L.Dense(1, activation="sigmoid", name="o2")(z)], name="fn")
    model.compile(optimizer=lib.optimizers.Adam(0.01), loss=["mse", "mse"], metrics=[["mae"], ["mae"]])
    return model


def sequential(lib):
    L = lib.layers
    model = lib.Sequential([lib.Input((8, 8, 1)), L.Conv2D(4, 3, activation="relu", name="conv"),
                            L.MaxPooling2D(name="pool"), L.Flatten(name="flat"), L.Dense(3, name="out")], name="seq")
    model.compile(optimizer=lib.optimizers.SGD(0.05, momentum=0.9), loss="mse")
    return model


def nested(lib):
    """A shared layer and a nested Functional model called twice, one of its calls a model output."""
    L = lib.layers
    i = lib.Input((4,), name="ii")
    inner = lib.Model(i, L.Dense(3, activation="tanh", name="idense")(i), name="inner")
    a, b = lib.Input((4,), name="a"), lib.Input((4,), name="b")
    shared = L.Dense(4, name="shared")
    first, second = inner(shared(a)), inner(shared(b))
    model = lib.Model([a, b], [L.Concatenate(name="cat")([first, second]), second], name="outer")
    model.compile(optimizer="rmsprop", loss="mse")
    return model


FN_X = [RNG.normal(size=(16, 4)).astype("float32"), RNG.normal(size=(16, 4)).astype("float32")]
FN_Y = [RNG.normal(size=(16, 2)).astype("float32"), RNG.uniform(size=(16, 1)).astype("float32")]
SEQ_X = RNG.normal(size=(16, 8, 8, 1)).astype("float32")
SEQ_Y = RNG.normal(size=(16, 3)).astype("float32")
NESTED_Y = [RNG.normal(size=(16, 6)).astype("float32"), RNG.normal(size=(16, 3)).astype("float32")]
MODELS = {"functional": (functional, FN_X, FN_Y), "sequential": (sequential, SEQ_X, SEQ_Y),
          "nested": (nested, FN_X, NESTED_Y)}


# ---- whole models ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(MODELS))
def test_config_json_matches_keras(tmp_path, kind):
    build = MODELS[kind][0]
    fresh_names()
    build(E).save(tmp_path / "e.keras")
    build(K).save(tmp_path / "k.keras")
    assert tree_diff(config_of(tmp_path / "e.keras"), config_of(tmp_path / "k.keras")) == []


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_edgekeras_trained_model_loads_in_keras(tmp_path, kind):
    build, x, y = MODELS[kind]
    ours = build(E)
    ours.fit(x, y, batch_size=8, epochs=2, verbose=0)
    ours.save(tmp_path / "e.keras")
    theirs = K.models.load_model(tmp_path / "e.keras")
    assert_same(ours, theirs, x)
    # Keras reads our optimizer state: same iteration count and slots.
    assert int(theirs.optimizer.iterations.numpy()) == int(ours.optimizer.iterations.numpy()) == 4
    for a, b in zip(ours.optimizer.variables, theirs.optimizer.variables):
        np.testing.assert_allclose(np.asarray(a.numpy(), "float64"), np.asarray(b.numpy(), "float64"), atol=1e-6)


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
@pytest.mark.parametrize("kind", sorted(MODELS))
def test_keras_trained_model_loads_in_edgekeras(tmp_path, kind, suffix):
    build, x, y = MODELS[kind]
    theirs = build(K)
    theirs.fit(x, y, batch_size=8, epochs=2, verbose=0)
    theirs.save(tmp_path / f"k{suffix}")
    ours = E.models.load_model(tmp_path / f"k{suffix}")
    assert_same(ours, theirs, x)
    assert int(ours.optimizer.iterations.numpy()) == 4
    for a, b in zip(ours.optimizer.variables, theirs.optimizer.variables):
        np.testing.assert_allclose(np.asarray(a.numpy(), "float64"), np.asarray(b.numpy(), "float64"), atol=1e-6)


def test_save_weights_load_weights_both_ways(tmp_path):
    ours, theirs = functional(E), functional(K)
    randomize(theirs)
    theirs.save_weights(tmp_path / "k.weights.h5")
    ours.load_weights(tmp_path / "k.weights.h5")
    assert_same(ours, theirs, FN_X)
    randomize(ours)
    ours.save_weights(tmp_path / "e.weights.h5")
    theirs.load_weights(tmp_path / "e.weights.h5")
    assert_same(ours, theirs, FN_X)


def test_subclassed_model_weights_cross_both_ways(tmp_path):
    x = RNG.normal(size=(4, 5)).astype("float32")
    (ENet, e_objects), (KNet, k_objects) = subclassed(E), subclassed(K)
    ours, theirs = ENet(), KNet()
    ours(x), theirs(x)
    randomize(theirs)
    theirs.save(tmp_path / "k.keras")
    assert_same(E.models.load_model(tmp_path / "k.keras", custom_objects=e_objects), theirs, x)
    randomize(ours)
    ours.save(tmp_path / "e.keras")
    assert_same(ours, K.models.load_model(tmp_path / "e.keras", custom_objects=k_objects), x)


# ---- every layer ----------------------------------------------------------------------------------
def _one(shape, make, dtype="float32"):
    return {"inputs": [(shape, dtype)], "make": make}


def _merge(make):
    return {"inputs": [((4,), "float32"), ((4,), "float32")], "make": make}


LAYERS = {
    "Dense": _one((4,), lambda L: L.Dense(3, activation="relu")),
    "Activation": _one((4,), lambda L: L.Activation("tanh")),
    "ReLU": _one((4,), lambda L: L.ReLU(max_value=0.6, negative_slope=0.1)),
    "LeakyReLU": _one((4,), lambda L: L.LeakyReLU(negative_slope=0.2)),
    "Softmax": _one((4,), lambda L: L.Softmax()),
    "Dropout": _one((4,), lambda L: L.Dropout(0.5)),
    "Flatten": _one((2, 3), lambda L: L.Flatten()),
    "Reshape": _one((6,), lambda L: L.Reshape((2, 3))),
    "Permute": _one((2, 3), lambda L: L.Permute((2, 1))),
    "Conv1D": _one((8, 3), lambda L: L.Conv1D(4, 3, padding="same", activation="relu")),
    "Conv2D": _one((8, 8, 3), lambda L: L.Conv2D(4, 3, strides=2)),
    "DepthwiseConv2D": _one((8, 8, 3), lambda L: L.DepthwiseConv2D(3, depth_multiplier=2, padding="same")),
    "SeparableConv2D": _one((8, 8, 3), lambda L: L.SeparableConv2D(4, 3)),
    "Conv2DTranspose": _one((4, 4, 3), lambda L: L.Conv2DTranspose(2, 3, strides=2, padding="same")),
    "MaxPooling1D": _one((8, 3), lambda L: L.MaxPooling1D(2)),
    "MaxPooling2D": _one((8, 8, 3), lambda L: L.MaxPooling2D(2)),
    "AveragePooling1D": _one((8, 3), lambda L: L.AveragePooling1D(2)),
    "AveragePooling2D": _one((8, 8, 3), lambda L: L.AveragePooling2D(2)),
    "GlobalAveragePooling1D": _one((8, 3), lambda L: L.GlobalAveragePooling1D()),
    "GlobalMaxPooling1D": _one((8, 3), lambda L: L.GlobalMaxPooling1D()),
    "GlobalAveragePooling2D": _one((8, 8, 3), lambda L: L.GlobalAveragePooling2D()),
    "GlobalMaxPooling2D": _one((8, 8, 3), lambda L: L.GlobalMaxPooling2D()),
    "ZeroPadding2D": _one((4, 4, 3), lambda L: L.ZeroPadding2D(((1, 2), (0, 1)))),
    "UpSampling2D": _one((4, 4, 3), lambda L: L.UpSampling2D(2)),
    "BatchNormalization": _one((4,), lambda L: L.BatchNormalization()),
    "LayerNormalization": _one((4,), lambda L: L.LayerNormalization()),
    "Rescaling": _one((4,), lambda L: L.Rescaling(0.5, offset=1.0)),
    "Embedding": _one((5,), lambda L: L.Embedding(10, 3), "int32"),
    "Add": _merge(lambda L: L.Add()),
    "Subtract": _merge(lambda L: L.Subtract()),
    "Multiply": _merge(lambda L: L.Multiply()),
    "Average": _merge(lambda L: L.Average()),
    "Concatenate": _merge(lambda L: L.Concatenate()),
}


def _layer_model(lib, name):
    spec = LAYERS[name]
    inputs = [lib.Input(shape, dtype=dtype, name=f"in{i}") for i, (shape, dtype) in enumerate(spec["inputs"])]
    layer = spec["make"](lib.layers)
    out = layer(inputs if len(inputs) > 1 else inputs[0])
    return lib.Model(inputs if len(inputs) > 1 else inputs[0], out, name=f"m_{name.lower()}")


def _layer_inputs(name):
    data = [RNG.integers(0, 10, size=(3,) + shape).astype(dtype) if dtype == "int32" else
            RNG.normal(size=(3,) + shape).astype(dtype) for shape, dtype in LAYERS[name]["inputs"]]
    return data if len(data) > 1 else data[0]


def _need(name):
    if not hasattr(E.layers, name):
        pytest.skip(f"edgekeras.layers does not export {name} yet")


def fresh_names():
    """Restart both libraries' automatic layer names, so the same code names layers alike."""
    K.backend.clear_session()
    reset_names()


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_crosses_both_ways(tmp_path, name):
    _need(name)
    x = _layer_inputs(name)
    theirs = _layer_model(K, name)
    randomize(theirs)
    theirs.save(tmp_path / "k.keras")
    theirs.save(tmp_path / "k.h5")
    for suffix in (".keras", ".h5"):
        assert_same(E.models.load_model(tmp_path / f"k{suffix}"), theirs, x)
    ours = _layer_model(E, name)
    randomize(ours)
    ours.save(tmp_path / "e.keras")
    assert_same(ours, K.models.load_model(tmp_path / "e.keras"), x)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_config_matches_keras(tmp_path, name):
    _need(name)
    fresh_names()
    _layer_model(E, name).save(tmp_path / "e.keras")
    _layer_model(K, name).save(tmp_path / "k.keras")
    ours, theirs = (config_of(tmp_path / f) for f in ("e.keras", "k.keras"))
    assert tree_diff(ours, theirs) == []
