"""Quantization-aware training: the fake_quant op, quantize_model, training, saving, tracing, and
compiling a QAT model to int8 with no calibration data."""

import numpy as np
import pytest

import edgekeras as keras
from edgekeras.frontend import import_model
from edgekeras.ops.fake_quant import _jax, _numpy, fake_quant_weights, numpy_fake_quant_weights
from edgekeras.quantize import arith, quantize_model

RNG = np.random.default_rng(7)


def cnn(bn=False):
    keras.backend.random.set_random_seed(1)
    layers = [keras.Input((8, 8, 1)),
              keras.layers.Conv2D(6, 3, use_bias=not bn, activation=None if bn else "relu", name="conv")]
    if bn:
        layers += [keras.layers.BatchNormalization(name="bn"), keras.layers.ReLU(name="relu")]
    layers += [keras.layers.MaxPooling2D(name="pool"), keras.layers.Flatten(name="flat"),
               keras.layers.Dense(10, activation="softmax", name="head")]
    return keras.Sequential(layers)


def data(n=128):
    x = RNG.standard_normal((n, 8, 8, 1)).astype(np.float32)
    return x, (x[:, :4].sum(axis=(1, 2, 3)) > 0).astype(np.int64) + 2 * (x[:, 4:].mean(axis=(1, 2, 3)) > 0)


def trained(model, epochs=2):
    q = quantize_model(model)
    q.compile("adam", "sparse_categorical_crossentropy")
    x, y = data()
    q.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    return q


def fq_points(model):
    return {layer.name: layer for layer in _all(model) if type(layer).__name__ == "FakeQuant"}


def _all(layer):
    out = [layer]
    for sub in layer._layers:
        out += _all(sub)
    return out


@pytest.mark.parametrize("lo,hi", [(-1.3, 2.7), (0.0, 6.0), (-0.0123, 3.7), (0.25, 0.9), (-5.0, -1.0)])
def test_fake_quant_numpy_and_jax_agree(lo, hi):
    lo, hi = float(np.float32(lo)), float(np.float32(hi))
    x = (RNG.standard_normal((200, 17)) * 4).astype(np.float32)
    expected = _numpy(x, lo, hi)
    scale, zp = arith.activation_params(lo, hi)
    assert np.array_equal(expected, arith.dequantize_int8(arith.quantize_float(x, scale, zp), scale, zp))
    assert np.array_equal(np.asarray(_jax(x, np.float32(lo), np.float32(hi))), expected)


def test_weight_fake_quant_is_arith_exactly():
    for shape in [(3, 3, 4, 16), (50, 10)]:
        w = RNG.standard_normal(shape).astype(np.float32)
        w[..., 0] = 0.0  # an all-zero channel gets scale 1
        assert np.array_equal(np.asarray(fake_quant_weights(w)), numpy_fake_quant_weights(w))
    # values sitting exactly half-way between two grid points after float32 division
    scale = np.float32(0.1)
    w = (np.array([[127.0], [2.5], [-3.5], [0.5]], np.float32) * scale).astype(np.float32)
    assert np.array_equal(np.asarray(fake_quant_weights(w)), numpy_fake_quant_weights(w))


def test_straight_through_gradients():
    import jax
    import jax.numpy as jnp

    x = jnp.linspace(-3.0, 3.0, 61, dtype=jnp.float32)
    grad = jax.grad(lambda v: jnp.sum(_jax(v, jnp.float32(-1.0), jnp.float32(2.0))))(x)
    inside = (x >= -1.0 - 1e-3) & (x <= 2.0 + 1e-2)
    assert np.all(np.asarray(grad)[np.asarray(x > -0.99) & np.asarray(x < 1.99)] == 1.0)
    assert np.all(np.asarray(grad)[~np.asarray(inside)] == 0.0)
    w = jnp.asarray(RNG.standard_normal((4, 3)), jnp.float32)
    assert np.all(np.asarray(jax.grad(lambda v: jnp.sum(fake_quant_weights(v)))(w)) == 1.0)


def test_quantize_model_leaves_the_original_alone():
    model = cnn()
    before = [w.copy() for w in model.get_weights()]
    names = [layer.name for layer in model.layers]
    q = quantize_model(model)
    assert [layer.name for layer in model.layers] == names
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert q is not model and q.name == model.name
    x, _ = data(4)
    assert q.get_layer("conv").layer is not model.get_layer("conv")
    # untrained fake-quant points pass values through, so only the weight rounding differs
    np.testing.assert_allclose(q.predict(x, verbose=0), model.predict(x, verbose=0), atol=0.05)


def test_fit_moves_the_ranges_by_moving_average():
    q = quantize_model(cnn())
    points = fq_points(q)
    assert all(p.range() is None for p in points.values() if p.fixed_range is None)
    q.compile("sgd", "sparse_categorical_crossentropy")
    x, y = data(64)
    q.fit(x[:32], y[:32], epochs=1, batch_size=32, shuffle=False, verbose=0)
    inp = next(p for name, p in points.items() if name.startswith("input"))
    assert inp.range() == (float(np.float32(x[:32].min())), float(np.float32(x[:32].max())))  # first batch sets it
    q.fit(x[32:], y[32:], epochs=1, batch_size=32, shuffle=False, verbose=0)
    lo = np.float32(0.99) * np.float32(x[:32].min()) + np.float32(0.01) * np.float32(x[32:].min())
    assert inp.range()[0] == pytest.approx(float(lo), rel=1e-6)
    frozen = {name: p.range() for name, p in points.items()}
    q.predict(x, verbose=0)
    q.evaluate(x, y, verbose=0)
    assert {name: p.range() for name, p in points.items()} == frozen


def test_trace_has_fake_quant_with_trained_ranges():
    q = trained(cnn())
    graph = import_model(q)
    traced = {n.layer: (n.attrs["lo"], n.attrs["hi"]) for n in graph.nodes if n.op == "fake_quant"}
    for name, point in fq_points(q).items():
        assert any(path.endswith(name) for path in traced)
        assert traced[next(p for p in traced if p.endswith(name))] == point.range()
    conv = next(n for n in graph.nodes if n.op == "conv")
    assert np.array_equal(conv.inputs[1].data, q.get_layer("conv").layer.kernel.numpy())  # float weights


def test_batch_norm_after_conv_folds(tmp_path):
    model = cnn(bn=True)
    x, _ = data(8)
    model.get_layer("bn").set_weights([RNG.uniform(0.5, 2, 6).astype(np.float32), RNG.standard_normal(6).astype(np.float32),
                                 RNG.standard_normal(6).astype(np.float32), RNG.uniform(0.5, 2, 6).astype(np.float32)])
    q = quantize_model(model)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in _all(q))
    assert "conv_quant" not in fq_points(q) and "relu_quant" in fq_points(q)  # the ReLU after it fuses: no range of its own
    np.testing.assert_allclose(q.predict(x, verbose=0), model.predict(x, verbose=0), atol=0.05)


def test_save_and_load_round_trip(tmp_path):
    q = trained(cnn())
    path = str(tmp_path / "qat.keras")
    q.save(path)
    loaded = keras.models.load_model(path)
    x, _ = data(16)
    assert np.array_equal(loaded.predict(x, verbose=0), q.predict(x, verbose=0))
    assert {n: p.range() for n, p in fq_points(loaded).items()} == {n: p.range() for n, p in fq_points(q).items()}


def test_functional_model_with_add():
    inp = keras.Input((6, 6, 3))
    a = keras.layers.Conv2D(4, 3, padding="same")(inp)
    b = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu6")(inp)
    b = keras.layers.Conv2D(4, 1)(b)
    s = keras.layers.ReLU()(keras.layers.Add()([a, b]))
    out = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(s))
    model = keras.Model(inp, out)
    q = quantize_model(model)
    assert q.output_names == model.output_names and q.input_names == model.input_names
    points = set(fq_points(q))
    names = {layer.name: type(layer).__name__ for layer in model.layers}
    relu, add, pool = (next(n for n, c in names.items() if c == cls) for cls in ("ReLU", "Add", "GlobalAveragePooling2D"))
    assert {f"{relu}_quant", f"{pool}_quant"} <= points
    assert f"{add}_quant" not in points  # the ReLU after it fuses into the int8 add as a clamp
    x = RNG.standard_normal((32, 6, 6, 3)).astype(np.float32)
    q.compile("adam", "mse")
    q.fit(x, RNG.standard_normal((32, 3)).astype(np.float32), epochs=1, batch_size=16, verbose=0)
    assert sum(n.op == "fake_quant" for n in import_model(q).nodes) == len(fq_points(q))


def test_unsupported_layer_is_named():
    model = keras.Sequential([keras.Input((4, 4, 2)), keras.layers.Conv2DTranspose(2, 3, name="up"),
                              keras.layers.Flatten()])
    with pytest.raises(ValueError, match=r"'up' \(Conv2DTranspose\)"):
        quantize_model(model)


def test_compiled_qat_model_is_bit_exact_without_calibration(tmp_path):
    from edgekeras import runtime
    from edgekeras.compiler import compile_model
    from edgekeras.ir import interpreter

    q = trained(cnn(), epochs=3)
    result = compile_model(q, "host", str(tmp_path / "int8"), quantize="int8", io="int8")
    graph = result.graph
    artifact = runtime.load(result.path)
    x, _ = data(32)
    quant = graph.inputs[0].type.quant
    xq = arith.quantize_float(x, quant.scale[0], quant.zero_point[0])
    got = artifact.predict(xq)
    ref = np.concatenate([list(interpreter.run(graph, [xq[i:i + 1]]).values())[0] for i in range(len(xq))])
    assert got.dtype == np.int8 and np.array_equal(got, ref)
    assert (got.argmax(1) == q.predict(x, verbose=0).argmax(1)).mean() >= 0.95


def test_a_saved_qat_model_loads_in_a_fresh_process_and_compiles_in_float(tmp_path):
    import subprocess
    import sys

    q = trained(cnn())
    path = tmp_path / "qat.keras"
    q.save(path)
    x, _ = data(8)
    np.save(tmp_path / "x.npy", x)
    script = (
        "import numpy as np, edgekeras as keras\n"
        "from edgekeras import runtime\n"
        "from edgekeras.compiler import compile_model\n"
        f"model = keras.models.load_model({str(path)!r})\n"
        f"x = np.load({str(tmp_path / 'x.npy')!r})\n"
        f"result = compile_model({str(path)!r}, 'host', {str(tmp_path / 'float')!r})\n"
        "np.save('out.npy', np.stack([model.predict(x, verbose=0), runtime.load(result.path).predict(x)]))\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=tmp_path, check=True, capture_output=True)
    model_out, artifact_out = np.load(tmp_path / "out.npy")
    np.testing.assert_allclose(model_out, q.predict(x, verbose=0), atol=1e-6)
    # A float rounding difference moves a value sitting on a grid boundary by one step; flips in
    # earlier layers can add a step or two at the output (steps of 1/256 here).
    assert np.abs(artifact_out - model_out).max() <= 4 / 256 + 1e-6
    assert (artifact_out.argmax(1) == model_out.argmax(1)).mean() >= 0.85


def test_qat_recovers_what_post_training_quantization_loses():
    """examples/qat_digits.py: PTQ drops >= 2 points, QAT ends within 0.5 point of float."""
    import os
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))
    import qat_digits

    float_acc, ptq_acc, qat_acc = qat_digits.main()
    assert float_acc - ptq_acc >= 0.02
    assert float_acc - qat_acc <= 0.005
