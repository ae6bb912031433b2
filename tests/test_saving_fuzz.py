"""More than a thousand corrupted, truncated and hostile `.keras` and `.h5` files thrown at
`load_model` in one seeded loop: each must load or raise ValueError (nothing else), nothing may be
written outside the test's directory, and no code from a file may run."""

import builtins
import copy
import io
import json
import marshal
import os
import pickle
import random
import zipfile

import h5py
import numpy as np
import pytest

import edgekeras as E
from edgekeras import layers
from edgekeras.models import Model
from test_legacy_h5 import SEQ_LAYERS, keras2_sequential_config, legacy_weights, sequential_twin, write_keras2_h5

SEED = 20261121
JUNK = [None, True, -1, 0, 3, 10**12, 1e308, -1e308, "", "x", "../../etc/passwd", [], {}, [None], [[[[1]]]],
        [None, 10**12], [None, -5], {"class_name": "__lambda__", "config": {"code": "4wAAAA=="}},
        {"class_name": "Lambda", "config": {}},
        {"module": "os", "class_name": "system", "registered_name": "os>system"},
        {"class_name": "__keras_tensor__", "config": {"keras_history": ["nowhere", 9, 9]}}]


# ---- seeds ----------------------------------------------------------------------------------------
def _seed_models():
    seq = E.Sequential([E.Input((6, 6, 2)), layers.Conv2D(3, 3, activation="relu"), layers.BatchNormalization(),
                        layers.Flatten(), layers.Dense(4)], name="fuzz_seq")
    seq.compile(optimizer="adam", loss="mse")
    seq.fit(np.ones((4, 6, 6, 2), "float32"), np.ones((4, 4), "float32"), epochs=1, verbose=0)
    a, b = E.Input((4,), name="a"), E.Input((4,), name="b")
    x = layers.Dense(4, name="d")(a)
    fn = Model([a, b], [layers.Dense(2, name="o1")(layers.Concatenate()([layers.Add()([x, b]), a])),
                        layers.Dense(1, name="o2")(x)], name="fuzz_fn")
    return seq, fn


def _zip_entries(data):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _zip(entries, compression=zipfile.ZIP_STORED):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


# ---- mutations ------------------------------------------------------------------------------------
def _flip_bytes(data, rng, start=0):
    data = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        data[rng.randrange(start, len(data))] = rng.randrange(256)
    return bytes(data)


def _truncate(data, rng):
    return data[:rng.randrange(len(data))]


def _nodes(tree):
    """Every (container, key) place in a JSON tree."""
    out, stack = [], [tree]
    while stack:
        item = stack.pop()
        keys = list(item) if isinstance(item, dict) else range(len(item)) if isinstance(item, list) else []
        for key in keys:
            out.append((item, key))
            stack.append(item[key])
    return out


TARGETED = [("units", 10**12), ("units", -3), ("units", "many"), ("filters", 10**9), ("kernel_size", [10**6, 10**6]),
            ("batch_shape", [None, 10**12]), ("batch_shape", [None, -1]), ("batch_shape", "abc"),
            ("class_name", "NoSuchLayer"), ("class_name", "Lambda"), ("class_name", "TFOpLambda"),
            ("module", "os"), ("registered_name", "builtins>eval"), ("keras_history", ["missing", 0, 0]),
            ("keras_history", ["d", 5, 0]), ("keras_history", [1, 2, 3]), ("input_layers", []),
            ("output_layers", [["nope", 0, 0]]), ("name", "a"), ("axis", 99), ("rate", 7), ("activation", "nope"),
            ("inbound_nodes", [[["a", 0, 0, {}]]]), ("loss", "no_such_loss"), ("optimizer", {"class_name": "Nope"}),
            ("learning_rate", "fast"), ("dtype", "complex128"), ("dtype", {"class_name": "DTypePolicy"}),
            ("layers", [{"class_name": "Dense", "config": {"units": 2}}] * 3), ("trainable", "yes")]


def _mutate_json(tree, rng):
    tree = copy.deepcopy(tree)
    places = _nodes(tree)
    for _ in range(rng.randint(1, 3)):
        choice = rng.random()
        if choice < 0.45:
            container, key = rng.choice(places)
            container[key] = copy.deepcopy(rng.choice(JUNK))
        elif choice < 0.6:
            container, key = rng.choice(places)
            del container[key]
        else:
            name, value = rng.choice(TARGETED)
            hits = [(c, k) for c, k in places if k == name]
            if hits:
                container, key = rng.choice(hits)
                container[key] = copy.deepcopy(value)
        places = _nodes(tree)
        if not places:
            break
    return tree


def _mutate_h5(data, rng):
    """Structural edits of a valid HDF5 file (links, dtypes, shapes, missing and extra entries)."""
    buffer = io.BytesIO(data)
    with h5py.File(buffer, "a") as h5:
        datasets = []
        h5.visititems(lambda name, obj: datasets.append(name) if isinstance(obj, h5py.Dataset) else None)
        target = rng.choice(datasets)
        edit = rng.randrange(7)
        if edit == 0:
            del h5[target]
        elif edit == 1:
            del h5[target]
            h5.create_dataset(target, data=np.array([b"text"] * 3))
        elif edit == 2:
            del h5[target]
            h5.create_dataset(target, shape=(10**6, 10**6), dtype="float32", chunks=(1, 1))
        elif edit == 3:
            h5[target + "_link"] = h5py.ExternalLink("/etc/passwd", "/")
        elif edit == 4:
            del h5[target]
            h5[target] = h5py.SoftLink("/" + rng.choice(datasets))
        elif edit == 5:
            h5.create_dataset(f"extra/vars/{rng.randrange(3)}", data=np.zeros(2))
        else:
            h5[target].attrs["dtype"] = "bfloat16"
    return buffer.getvalue()


def keras_cases(data, rng, count):
    entries = _zip_entries(data)
    config = json.loads(entries["config.json"])
    names = list(entries)
    for _ in range(count):
        kind = rng.randrange(8)
        if kind == 0:
            yield _flip_bytes(data, rng)
        elif kind == 1:
            yield _truncate(data, rng)
        elif kind in (2, 3, 4):
            yield _zip([(n, json.dumps(_mutate_json(config, rng)).encode() if n == "config.json" else entries[n])
                        for n in names])
        elif kind == 5:
            name = rng.choice(names)
            mutated = rng.choice([_flip_bytes, _truncate])(entries[name], rng)
            yield _zip([(n, mutated if n == name else entries[n]) for n in names])
        elif kind == 6:
            yield _zip([(n, _mutate_h5(entries[n], rng) if n == "model.weights.h5" else entries[n]) for n in names])
        else:
            hostile = rng.choice(["../evil.txt", "/tmp/evil", "..\\evil", "a/../../b", "C:/evil", "model.weights.h5"])
            renamed = {"model.weights.h5": rng.choice(["model.weights.npz", "weights.h5", "model.weights.h5"])}
            yield _zip([(renamed.get(n, n), entries[n]) for n in names] + [(hostile, b"x" * 10)],
                       rng.choice([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))


def legacy_cases(data, rng, count):
    with h5py.File(io.BytesIO(data), "r") as h5:
        config = json.loads(h5.attrs["model_config"])
    for _ in range(count):
        kind = rng.randrange(5)
        if kind == 0:
            yield _flip_bytes(data, rng, start=512)  # past the superblock, into headers and data
        elif kind == 1:
            yield _truncate(data, rng)
        else:
            buffer = io.BytesIO(data)
            with h5py.File(buffer, "a") as h5:
                if kind == 2:
                    h5.attrs["model_config"] = json.dumps(_mutate_json(config, rng)).encode()
                elif kind == 3:
                    group = h5["model_weights/" + rng.choice(SEQ_LAYERS)]
                    group.attrs["weight_names"] = np.array([rng.choice([b"nope:0", b"../x", b"", b"kernel:0"])])
                else:
                    h5["model_weights"].attrs["layer_names"] = np.array([rng.choice([b"ghost", b"", b"dense"])] * 2)
            yield _mutate_h5(buffer.getvalue(), rng) if rng.random() < 0.3 else buffer.getvalue()


# ---- the test -------------------------------------------------------------------------------------
def _forbid(*_, **__):
    raise AssertionError("a loader tried to run code from a file")


@pytest.mark.filterwarnings("ignore")
def test_thousand_hostile_files_load_or_raise_value_error(tmp_path, monkeypatch):
    seq, fn = _seed_models()
    seeds = {}
    for model, name in ((seq, "seq.keras"), (fn, "fn.keras")):
        model.save(tmp_path / name)
        seeds[name] = (tmp_path / name).read_bytes()
    legacy_path = tmp_path / "legacy.h5"
    write_keras2_h5(legacy_path, keras2_sequential_config(), legacy_weights(sequential_twin(E), SEQ_LAYERS))
    seeds["legacy.h5"] = legacy_path.read_bytes()
    for name in seeds:  # the unmutated seeds load
        assert isinstance(E.models.load_model(tmp_path / name), Model)

    for target, name in ((marshal, "loads"), (pickle, "loads"), (builtins, "exec"), (builtins, "eval")):
        monkeypatch.setattr(target, name, _forbid)
    rng = random.Random(SEED)
    cases = [(c, ".keras") for c in keras_cases(seeds["seq.keras"], rng, 420)]
    cases += [(c, ".keras") for c in keras_cases(seeds["fn.keras"], rng, 330)]
    cases += [(c, ".h5") for c in legacy_cases(seeds["legacy.h5"], rng, 300)]
    assert len(cases) >= 1000

    cwd_before, dir_before = set(os.listdir(".")), set(os.listdir(tmp_path))
    outcomes, failures = {"loaded": 0, "ValueError": 0}, []
    for i, (data, suffix) in enumerate(cases):
        path = tmp_path / f"case{suffix}"
        path.write_bytes(data)
        try:
            E.models.load_model(path)
            outcomes["loaded"] += 1
        except ValueError as err:
            outcomes["ValueError"] += 1
            if os.environ.get("FUZZ_VERBOSE"):
                print(i, suffix, str(err)[:150])
        except Exception as err:  # noqa: BLE001 - the property under test
            failures.append(f"case {i} ({suffix}): {type(err).__name__}: {err}"[:300])
        path.unlink()
        assert set(os.listdir(tmp_path)) == dir_before, f"case {i} left files behind"
    assert set(os.listdir(".")) == cwd_before
    assert not failures, f"{len(failures)} non-ValueError failures:\n" + "\n".join(failures[:20])
    assert outcomes["ValueError"] > 500 and outcomes["loaded"] > 0, outcomes
