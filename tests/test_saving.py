"""Saving and loading within edgekeras: round trips, Keras's weight-key layout, compile state and
resumed training, custom classes, and the refusals that keep hostile files harmless."""

import io
import json
import os
import time
import zipfile

import h5py
import numpy as np
import pytest

import edgekeras as keras
from edgekeras import layers
from edgekeras.saving import register_keras_serializable, safety

RNG = np.random.default_rng(0)
X4 = RNG.normal(size=(8, 4)).astype("float32")


def _seq():
    return keras.Sequential([keras.Input((4,)), layers.Dense(3, activation="relu"), layers.BatchNormalization(),
                             layers.Dense(2)], name="seq")


def _functional():
    a, b = keras.Input((4,), name="a"), keras.Input((4,), name="b")
    x = layers.Dense(4, name="d1")(a)
    y = layers.Add(name="add")([x, b])
    z = layers.Concatenate(name="cat")([y, a])
    return keras.Model([a, b], [layers.Dense(2, name="o1")(layers.Dropout(0.1, name="drop")(z)),
                                layers.Dense(1, name="o2")(z)], name="fn")


def _keys(path):
    """Dataset paths in a weights file, or in the weights of a .keras file."""
    data = zipfile.ZipFile(path).read("model.weights.h5") if str(path).endswith(".keras") else path.read_bytes()
    found = []
    with h5py.File(io.BytesIO(data), "r") as h5:
        h5.visititems(lambda name, obj: found.append(name) if isinstance(obj, h5py.Dataset) else None)
    return sorted(found)


def _files(root):
    return sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs)


# ---- round trips ----------------------------------------------------------------------------------
def test_sequential_round_trip_and_weight_keys(tmp_path):
    model = _seq()
    model(X4)
    path = tmp_path / "m.keras"
    model.save(path)
    assert zipfile.ZipFile(path).namelist() == ["metadata.json", "config.json", "model.weights.h5"]
    assert json.loads(zipfile.ZipFile(path).read("metadata.json"))["keras_version"].startswith("3.")
    assert _keys(path) == ["layers/batch_normalization/vars/0", "layers/batch_normalization/vars/1",
                           "layers/batch_normalization/vars/2", "layers/batch_normalization/vars/3",
                           "layers/dense/vars/0", "layers/dense/vars/1", "layers/dense_1/vars/0",
                           "layers/dense_1/vars/1"]
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, keras.Sequential) and [l.name for l in loaded.layers] == [l.name for l in model.layers]
    np.testing.assert_allclose(loaded(X4), model(X4), atol=1e-6)
    assert json.loads(loaded.to_json()) == json.loads(model.to_json())


def test_functional_multi_io_round_trip_counts_input_layers(tmp_path):
    model = _functional()
    path = tmp_path / "fn.keras"
    model.save(path)
    config = json.loads(zipfile.ZipFile(path).read("config.json"))
    assert config["class_name"] == "Functional"
    assert config["config"]["input_layers"] == [["a", 0, 0], ["b", 0, 0]]
    assert config["config"]["output_layers"] == [["o1", 0, 0], ["o2", 0, 0]]
    add = next(l for l in config["config"]["layers"] if l["name"] == "add")
    assert [t["config"]["keras_history"] for t in add["inbound_nodes"][0]["args"][0]] == [["d1", 0, 0], ["b", 0, 0]]
    assert {k.rsplit("/vars", 1)[0] for k in _keys(path)} == {"layers/dense", "layers/dense_1", "layers/dense_2"}
    loaded = keras.models.load_model(path)
    for ours, ref in zip(loaded([X4, X4]), model([X4, X4])):
        np.testing.assert_allclose(ours, ref, atol=1e-6)


def test_dict_inputs_outputs_and_nested_model(tmp_path):
    inner = keras.Sequential([keras.Input((4,)), layers.Dense(3, name="inner_dense")], name="inner")
    a, b = keras.Input((4,), name="a"), keras.Input((4,), name="b")
    model = keras.Model({"a": a, "b": b}, {"x": inner(a), "y": layers.Dense(1, name="dy")(b)}, name="dicts")
    path = tmp_path / "d.keras"
    model.save(path)
    config = json.loads(zipfile.ZipFile(path).read("config.json"))["config"]
    assert config["input_layers"] == {"a": ["a", 0, 0], "b": ["b", 0, 0]}
    assert "layers/sequential/layers/dense/vars/0" in _keys(path)
    loaded = keras.models.load_model(path)
    out, ref = loaded({"a": X4, "b": X4}), model({"a": X4, "b": X4})
    for key in ("x", "y"):
        np.testing.assert_allclose(out[key], ref[key], atol=1e-6)


def subclassed(lib):
    """A subclassed model whose weights Keras keys by attribute names, defined with either library."""
    L = lib.layers

    class Block(L.Layer):
        def __init__(self, units=3, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.zeta, self.alpha = L.Dense(units), L.Dense(units)
            self.parts = [L.Dense(2), L.BatchNormalization()]
            self._hidden = L.Dense(1)

        def call(self, x):
            return self._hidden(self.parts[1](self.parts[0](self.alpha(self.zeta(x)))))

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    class Net(lib.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.output_dense, self.block, self.a_first = L.Dense(2), Block(4), L.Dense(3)

        def call(self, x):
            return self.output_dense(self.block(self.a_first(x)))

    return Net, {"Net": Net, "Block": Block}


Net, SUBCLASS_OBJECTS = subclassed(keras)
for cls in SUBCLASS_OBJECTS.values():
    register_keras_serializable("edgekeras_tests")(cls)


SUBCLASS_KEYS = sorted([f"{group}/vars/{i}" for group in ("a_first", "block/_hidden", "block/alpha", "block/zeta",
                                                          "block/parts/dense", "layers/dense") for i in (0, 1)]
                       + [f"block/parts/batch_normalization/vars/{i}" for i in range(4)])


def test_subclassed_model_keys_follow_keras_attribute_walk(tmp_path):
    model = Net()
    model(X4)
    path = tmp_path / "sub.keras"
    model.save(path)
    # Attributes sorted, private last; `layers` (all sublayers) takes those sorted after it.
    assert _keys(path) == SUBCLASS_KEYS
    loaded = keras.models.load_model(path)
    assert type(loaded) is Net
    np.testing.assert_allclose(loaded(X4), model(X4), atol=1e-6)


def test_custom_class_needs_registration_or_custom_objects(tmp_path):
    class Scale(layers.Layer):
        def call(self, x):
            return keras.ops.add(x, x)

    model = keras.Sequential([keras.Input((4,)), Scale(name="scale"), layers.Dense(2)])
    path = tmp_path / "c.keras"
    model.save(path)
    with pytest.raises(ValueError, match="Unknown class 'Scale'.*custom_objects"):
        keras.models.load_model(path)
    loaded = keras.models.load_model(path, custom_objects={"Scale": Scale})
    np.testing.assert_allclose(loaded(X4), model(X4), atol=1e-6)


# ---- compile state and resumed training -----------------------------------------------------------
def test_optimizer_state_round_trip_and_training_resumes_identically(tmp_path):
    x, y = RNG.normal(size=(32, 4)).astype("float32"), RNG.normal(size=(32, 2)).astype("float32")
    model = _seq()
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    path = tmp_path / "train.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.compiled and type(loaded.optimizer) is keras.optimizers.Adam
    assert int(loaded.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy()) == 8
    for a, b in zip(loaded.optimizer.variables, model.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    loaded.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(loaded.weights, model.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)
    assert not keras.models.load_model(path, compile=False).compiled


def test_save_weights_load_weights_with_optimizer_state(tmp_path):
    x, y = RNG.normal(size=(16, 4)).astype("float32"), RNG.normal(size=(16, 2)).astype("float32")
    model = _seq()
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "w.weights.h5"
    model.save_weights(path)
    assert "optimizer/vars/0" in _keys(path)
    other = _seq()
    other.compile(optimizer="adam", loss="mse")
    other.load_weights(path)
    np.testing.assert_allclose(other(X4), model(X4), atol=1e-6)
    assert int(other.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy())
    fresh = _seq()
    fresh.load_weights(tmp_path / "w.weights.h5")  # no optimizer: its state is ignored
    model.save(tmp_path / "again.keras")
    fresh.load_weights(tmp_path / "again.keras")  # a .keras file works too
    with pytest.raises(ValueError, match="must end in `.weights.h5`"):
        model.save_weights(tmp_path / "w.h5")


def test_optimizer_state_that_does_not_fit_is_skipped_with_a_warning(tmp_path):
    model = _seq()
    model.compile(optimizer="adam", loss="mse")
    model.fit(X4, X4[:, :2], epochs=1, verbose=0)
    model.save_weights(tmp_path / "adam.weights.h5")
    other = _seq()
    other.compile(optimizer=keras.optimizers.SGD(momentum=0.9), loss="mse")
    other.fit(X4, X4[:, :2], epochs=1, verbose=0)
    with pytest.warns(UserWarning, match="Skipping the saved state of 'sgd"):
        other.load_weights(tmp_path / "adam.weights.h5")
    np.testing.assert_allclose(other(X4), model(X4), atol=1e-6)


# ---- refusals -------------------------------------------------------------------------------------
def _copy_keras(src, dst, edit=None, extra=None):
    """Copy a .keras file with its config.json changed by `edit(config)` and `extra` entries added."""
    with zipfile.ZipFile(src) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(entries["config.json"])
    if edit is not None:
        edit(config)
    entries["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(dst, "w") as archive:
        for name, data in list(entries.items()) + list((extra or {}).items()):
            archive.writestr(name, data)
    return dst


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "seq.keras"
    model = _seq()
    model(X4)
    model.save(path)
    return path


def _dense_config(config):
    return next(l for l in config["config"]["layers"] if l["class_name"] == "Dense")["config"]


@pytest.mark.parametrize("safe_mode, message", [(True, "refused in safe mode"), (False, "even with safe_mode=False")])
def test_lambda_is_refused_with_a_clear_reason(saved, tmp_path, safe_mode, message):
    def to_lambda(config):
        config["config"]["layers"][1] = {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
                                         "config": {"name": "lam", "function": {"class_name": "__lambda__",
                                                                                "config": {"code": "4wAAAA=="}}}}

    path = _copy_keras(saved, tmp_path / "lambda.keras", to_lambda)
    with pytest.raises(ValueError, match=message):
        keras.models.load_model(path, safe_mode=safe_mode)


def test_huge_declared_shape_is_refused_before_allocating(saved, tmp_path):
    path = _copy_keras(saved, tmp_path / "huge.keras", lambda c: _dense_config(c).update(units=10**12))
    start = time.perf_counter()
    with pytest.raises(ValueError, match="more than 2.0 GiB"):
        keras.models.load_model(path)
    assert time.perf_counter() - start < 5


def test_weight_mismatches_are_value_errors(saved, tmp_path):
    changed = _copy_keras(saved, tmp_path / "units.keras", lambda c: _dense_config(c).update(units=5))
    with pytest.raises(ValueError, match="shape"):
        keras.models.load_model(changed)
    removed = _copy_keras(saved, tmp_path / "fewer.keras", lambda c: c["config"]["layers"].pop(2))
    with pytest.raises(ValueError, match="the model does not have"):
        keras.models.load_model(removed)
    small = keras.Sequential([keras.Input((4,)), layers.Dense(3)])
    with pytest.raises(ValueError, match="does not have"):
        small.load_weights(saved)


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/evil", "assets/../../x", "C:\\evil"])
def test_zip_entries_escaping_the_archive_are_refused(saved, tmp_path, name):
    path = _copy_keras(saved, tmp_path / "escape.keras", extra={name: b"x"})
    with pytest.raises(ValueError, match="not allowed"):
        keras.models.load_model(path)


def _central_header(data, name):
    """Offset of an entry's central-directory header in a zip file's bytes."""
    end = data.rfind(b"PK\x05\x06")
    pos = int.from_bytes(data[end + 16:end + 20], "little")
    while data[pos:pos + 4] == b"PK\x01\x02":
        sizes = [int.from_bytes(data[pos + i:pos + i + 2], "little") for i in (28, 30, 32)]
        if data[pos + 46:pos + 46 + sizes[0]] == name:
            return pos
        pos += 46 + sum(sizes)
    raise AssertionError(f"no entry {name!r}")


def test_highly_compressed_entry_is_refused_as_a_bomb(saved, tmp_path):
    path = tmp_path / "ratio.keras"
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        dst.writestr("config.json", b" " * (4 << 20) + src.read("config.json"))  # valid JSON, ~1000:1
        dst.writestr("model.weights.h5", src.read("model.weights.h5"))
    with pytest.raises(ValueError, match="decompression bomb"):
        keras.models.load_model(path)


def test_zip_bomb_declared_size_is_refused(saved, tmp_path):
    data = bytearray(saved.read_bytes())
    header = _central_header(data, b"config.json")
    data[header + 24:header + 28] = (0xF0000000).to_bytes(4, "little")  # declared uncompressed size
    path = tmp_path / "bomb.keras"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="declares"):
        keras.models.load_model(path)


@pytest.mark.parametrize("content", [b"", b"not a model at all", b"PK\x03\x04truncated", b"\x89HDF\r\n\x1a\nbroken"])
def test_garbage_files_are_value_errors(tmp_path, content):
    path = tmp_path / "bad.keras"
    path.write_bytes(content)
    with pytest.raises(ValueError):
        keras.models.load_model(path)
    with pytest.raises(ValueError, match="not found"):
        keras.models.load_model(tmp_path / "missing.keras")


def _h5_weights_copy(saved, dst, edit):
    with zipfile.ZipFile(saved) as archive:
        weights = archive.read("model.weights.h5")
    buffer = io.BytesIO(weights)
    with h5py.File(buffer, "a") as h5:
        edit(h5)
    dst.write_bytes(buffer.getvalue())
    return dst


@pytest.mark.parametrize("edit, message", [
    (lambda h5: h5.__setitem__("layers/link", h5py.ExternalLink("/etc/passwd", "/x")), "links to other locations"),
    (lambda h5: h5.__setitem__("layers/soft", h5py.SoftLink("/layers/dense")), "links to other locations"),
    (lambda h5: (h5["layers/dense/vars"].__delitem__("1"),
                 h5["layers/dense/vars"].create_dataset("1", data=np.array([b"a", b"b", b"c"]))), "dtype"),
    (lambda h5: h5["layers/dense/vars"].__delitem__("1"), "variable"),
    (lambda h5: h5.create_dataset("layers/dense/vars/2", data=np.zeros(3)), "variable"),
    (lambda h5: h5.create_dataset("stray/vars/0", data=np.zeros(3)), "does not have"),
])
def test_hostile_weights_files_are_value_errors(saved, tmp_path, edit, message):
    path = _h5_weights_copy(saved, tmp_path / "w.weights.h5", edit)
    model = _seq()
    model(X4)
    before = [w.numpy().copy() for w in model.weights]
    with pytest.raises(ValueError, match=message):
        model.load_weights(path)
    for value, w in zip(before, model.weights):  # all or nothing
        np.testing.assert_array_equal(value, w.numpy())


def test_external_storage_dataset_is_refused(saved, tmp_path):
    def external(h5):
        del h5["layers/dense/vars/1"]
        h5.create_dataset("layers/dense/vars/1", shape=(3,), dtype="float32", external=[("outside.bin", 0, 12)])

    path = _h5_weights_copy(saved, tmp_path / "ext.weights.h5", external)
    model = _seq()
    model(X4)
    with pytest.raises(ValueError, match="other files"):
        model.load_weights(path)


@pytest.mark.parametrize("config", [b"[1, 2]", b"{not json", b"[" * 5000 + b"]" * 5000,
                                    json.dumps({"class_name": "Sequential", "config": {"layers": 3}}).encode()])
def test_bad_config_json_is_a_value_error(saved, tmp_path, config):
    with zipfile.ZipFile(saved) as archive:
        weights = archive.read("model.weights.h5")
    path = tmp_path / "cfg.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", config)
        archive.writestr("model.weights.h5", weights)
    with pytest.raises(ValueError):
        keras.models.load_model(path)


def test_saving_and_loading_write_nothing_else(tmp_path):
    cwd_before = set(os.listdir("."))
    path = tmp_path / "only.keras"
    _seq().save(path)
    assert _files(tmp_path) == [str(path)]
    keras.models.load_model(path)
    assert _files(tmp_path) == [str(path)] and set(os.listdir(".")) == cwd_before
    with pytest.raises(FileExistsError):
        _seq().save(path, overwrite=False)
    with pytest.raises(ValueError, match=".keras"):
        _seq().save(tmp_path / "model.json")
    assert _files(tmp_path) == [str(path)]


def test_weight_budget_unit():
    budget = safety.WeightBudget(limit=1000)
    budget.reserve((10, 10), "float32", "here")
    with pytest.raises(ValueError, match="here"):
        budget.reserve((10, 10), "float64", "here")
    with pytest.raises(ValueError, match="negative"):
        safety.WeightBudget().reserve((-1, 4), "float32", "x")
