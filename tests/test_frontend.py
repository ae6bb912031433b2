"""Keras front end: tracing edgekeras models (and .keras / legacy .h5 files written by real Keras)
gives IR graphs that compute what the model computes, leaves the model unchanged, and refuses bad
input with one clear error."""

import os

import numpy as np
import pytest

import edgekeras as keras
from edgekeras.frontend.keras_model import all_layers
from edgekeras.frontend import ModelImportError, import_model, source_digest
from edgekeras.ir.interpreter import run

L = keras.layers
RNG = np.random.default_rng(7)


def randomize(model):
    """Non-trivial weights (variances kept positive), for edgekeras and real Keras models alike."""
    model.set_weights([np.abs(RNG.normal(size=w.shape)) + 0.5 if "variance" in w.path else
                       RNG.normal(size=w.shape) * 0.5 for w in model.weights])
    return model


def data(*shapes):
    return [RNG.normal(size=(3,) + tuple(s)).astype("float32") for s in shapes]


def assert_traces(model, inputs, atol=1e-5):
    graph = import_model(model)
    got = list(run(graph, inputs).values())
    want = model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0)
    want = want if isinstance(want, list) else [want]
    assert len(got) == len(want)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, np.asarray(b), atol=atol, rtol=1e-5)
    return graph


def inbound_counts(model):
    return sorted((layer.name, len(layer._inbound_nodes)) for layer in all_layers(model))


# ---- tracing edgekeras models ---------------------------------------------------------------------
def cnn():
    return randomize(keras.Sequential([
        keras.Input((10, 10, 3), name="image"),
        L.Conv2D(6, 3, padding="same", activation="relu", name="conv"),
        L.BatchNormalization(name="bn"),
        L.DepthwiseConv2D(3, strides=2, name="dw"),
        L.MaxPooling2D(name="pool"),
        L.Dropout(0.5, name="drop"),
        L.Flatten(name="flat"),
        L.Dense(4, activation="softmax", name="head"),
    ]))


def test_sequential_matches_predict_and_names_nodes():
    model = cnn()
    before = inbound_counts(model)
    graph = assert_traces(model, data((10, 10, 3)))
    assert inbound_counts(model) == before
    assert [v.name for v in graph.inputs] == ["image"] and graph.inputs[0].type.shape == (1, 10, 10, 3)
    nodes = {n.name: n for n in graph.nodes}
    assert nodes["conv"].op == "conv" and nodes["conv/relu"].op == "relu" and nodes["conv/relu"].layer == "conv"
    assert nodes["drop"].op == "identity" and nodes["head/softmax"].op == "softmax"
    constants = {v.name for v in graph.constants()}
    assert {"conv/kernel", "conv/bias", "bn/moving_mean", "bn/moving_variance", "head/kernel"} <= constants


def test_functional_multi_input_shared_layer_add_concatenate():
    a, b = keras.Input((5,), name="a"), keras.Input((5,), name="b")
    shared = L.Dense(5, activation="tanh", name="shared")
    x, y = shared(a), shared(b)
    s = L.Add(name="sum")([x, y])
    c = L.Concatenate(name="cat")([s, L.Average(name="avg")([x, b])])
    model = randomize(keras.Model([a, b], [L.Dense(3, name="o1")(c), L.Dense(1, name="o2")(s)]))
    before = inbound_counts(model)
    graph = assert_traces(model, data((5,), (5,)))
    assert inbound_counts(model) == before
    assert [v.name for v in graph.inputs] == ["a", "b"]
    dense = [n for n in graph.nodes if n.layer == "shared" and n.op == "dense"]
    assert len(dense) == 2 and dense[0].inputs[1] is dense[1].inputs[1]  # one weight constant, used twice
    assert [n.name for n in graph.nodes if n.layer == "shared"] == ["shared", "shared/tanh", "shared_1",
                                                                    "shared_1/tanh"]


class Residual(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.conv = L.Conv2D(4, 3, padding="same", name="c")
        self.bn = L.BatchNormalization(name="n")
        self.out = L.Dense(2, name="logits")

    def call(self, x, training=False):
        y = self.bn(self.conv(x), training=training)
        y = keras.ops.relu(keras.ops.add(y, x))
        return self.out(keras.ops.reduce_mean(y, axes=(1, 2)))


def test_subclassed_model():
    model = Residual(name="res")
    model(np.zeros((1, 6, 6, 4), "float32"))
    randomize(model)
    graph = assert_traces(model, data((6, 6, 4)))
    assert [v.name for v in graph.inputs] == ["input"]
    assert {n.op for n in graph.nodes if n.layer == ""} == {"add", "relu", "reduce_mean"}


def test_nested_model_paths():
    inner = keras.Sequential([keras.Input((6,)), L.Dense(6, activation="relu", name="d")], name="inner")
    x = keras.Input((6,), name="x")
    model = randomize(keras.Model(x, L.Dense(2, name="top")(inner(x))))
    before = inbound_counts(model)
    graph = assert_traces(model, data((6,)))
    assert inbound_counts(model) == before
    assert [n.name for n in graph.nodes] == ["inner/d", "inner/d/relu", "top"]
    assert graph.nodes[0].layer == "inner/d" and graph.nodes[0].inputs[1].name == "d/kernel"


def test_trace_error_and_unbuilt_and_dynamic_shapes():
    class Impure(keras.Model):
        def call(self, x):
            return np.sin(x)  # NumPy, not edgekeras ops: the trace at build time fails

    impure = Impure(name="impure")
    impure.build((None, 3))
    with pytest.raises(ModelImportError, match="impure.*does not trace"):
        import_model(impure)
    with pytest.raises(ModelImportError, match="not built"):
        import_model(keras.Sequential([L.Dense(2)]))
    dynamic = keras.Model(i := keras.Input((None, 3), name="x"), L.Dense(2)(i))
    with pytest.raises(ModelImportError, match=r"static shapes: input 'x' has shape \(None, None, 3\)"):
        import_model(dynamic)


# ---- files and dispatch ---------------------------------------------------------------------------
def test_edgekeras_file_roundtrip_and_digest(tmp_path):
    model = cnn()
    path = tmp_path / "m.keras"
    model.save(path)
    x = data((10, 10, 3))
    np.testing.assert_allclose(list(run(import_model(path), x).values())[0], model.predict(x[0], verbose=0),
                               atol=1e-5)
    assert source_digest(path) == source_digest(str(path)) and len(source_digest(path)) == 64
    assert source_digest(model) == source_digest(model)
    assert source_digest(cnn()) != source_digest(model)  # same config, other weights


@pytest.mark.parametrize("name, content, match", [
    ("m.txt", b"hello", r"unknown model format '\.txt'.*\.keras.*\.h5.*\.onnx"),
    ("m", b"hello", r"unknown model format '\(no extension\)'"),
    ("m.keras", b"not a zip at all", r"Cannot import .*m\.keras: "),
    ("m.h5", b"\x89HDF\r\n\x1a\ncorrupt", r"Cannot import .*m\.h5: "),
    ("m.keras", None, r"Cannot import .*m\.keras: File not found"),
])
def test_bad_files(tmp_path, name, content, match):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelImportError, match=match) as err:
        import_model(path)
    assert "\n" not in str(err.value)


def test_bad_sources():
    with pytest.raises(ModelImportError, match="pass an edgekeras Model or the path"):
        import_model(42)
    with pytest.raises(ModelImportError, match="Cannot read"):
        source_digest("/nonexistent/model.keras")


# ---- files written by real Keras ------------------------------------------------------------------
@pytest.fixture(scope="module")
def K():
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return pytest.importorskip("keras")


def keras_cnn(K):
    KL = K.layers
    x = K.Input((8, 8, 2), name="pixels")
    y = KL.Conv2D(4, 3, padding="same", name="conv")(x)
    y = KL.BatchNormalization(name="bn")(y)
    y = KL.ReLU(name="relu")(y)
    z = KL.DepthwiseConv2D(3, padding="same", name="dw")(y)
    y = KL.Add(name="res")([y, z])
    y = KL.AveragePooling2D(2, name="pool")(y)
    y = KL.GlobalAveragePooling2D(name="gap")(y)
    return randomize(K.Model(x, KL.Dense(3, activation="softmax", name="head")(y)))


@pytest.mark.parametrize("filename", ["real.keras", "real.h5"])
def test_files_written_by_real_keras(K, tmp_path, filename):
    model = keras_cnn(K)
    path = tmp_path / filename
    model.save(path)
    graph = import_model(path)
    x = data((8, 8, 2))[0]
    np.testing.assert_allclose(run(graph, {"pixels": x})[graph.outputs[0].name], model.predict(x, verbose=0),
                               atol=1e-5)
