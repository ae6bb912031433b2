"""Sequential, Functional and subclassed models: building, calling, summary/MACs and errors."""

import numpy as np
import pytest

import edgekeras as keras
from edgekeras import layers


def test_sequential_builds_from_input_and_from_input_shape_kwarg():
    a = keras.Sequential([keras.Input((4,)), layers.Dense(3)])
    b = keras.Sequential([layers.Dense(3, input_shape=(4,))])
    for model in (a, b):
        assert model.built and len(model.layers) == 1
        assert model.output_shape == (None, 3)


def test_sequential_deferred_build_on_first_call_and_add():
    model = keras.Sequential()
    model.add(layers.Dense(5, activation="relu"))
    model.add(layers.Dense(2))
    assert not model.built
    out = model(np.ones((3, 7), "float32"))
    assert out.shape == (3, 2) and model.built
    assert model.layers[0].kernel.shape == (7, 5)


def test_functional_multi_input_output_dict_feeding_and_shared_layer():
    a, b = keras.Input((4,), name="a"), keras.Input((4,), name="b")
    shared = layers.Dense(3, name="shared")
    merged = layers.Concatenate()([shared(a), shared(b)]) if hasattr(layers, "Concatenate") else shared(a)
    out1 = layers.Dense(2, name="head1")(merged)
    out2 = layers.Dense(1, name="head2")(shared(b))
    model = keras.Model(inputs=[a, b], outputs=[out1, out2])
    xa, xb = np.random.rand(5, 4).astype("float32"), np.random.rand(5, 4).astype("float32")
    by_list = model([xa, xb])
    by_dict = model({"b": xb, "a": xa})
    for u, v in zip(by_list, by_dict):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v))
    assert model.input_names == ["a", "b"] and model.output_names == ["head1", "head2"]
    assert sum(1 for layer in model.layers if layer.name == "shared") == 1
    preds = model.predict({"a": xa, "b": xb}, verbose=0)
    assert [p.shape for p in preds] == [(5, 2), (5, 1)]


def test_functional_layer_order_matches_keras_depth_order():
    inp = keras.Input((4,), name="inp")
    x = layers.Dense(4, name="d1")(inp)
    y = layers.Dense(4, name="d2")(x)
    z = layers.Dense(4, name="d3")(inp)
    out = layers.Dense(4, name="d4")(y)
    model = keras.Model(inp, [out, z])
    assert [layer.name for layer in model.layers] == ["inp", "d1", "d2", "d4", "d3"]


class TwoLayer(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = layers.Dense(8, activation="relu")
        self.out = layers.Dense(3)

    def call(self, inputs, training=False):
        return self.out(self.hidden(inputs))


def test_subclassed_model_traced_on_first_call_and_summarized(capsys):
    model = TwoLayer()
    y = model(np.ones((2, 5), "float32"))
    assert y.shape == (2, 3)
    assert [layer.name for layer in model.layers] == [model.hidden.name, model.out.name]
    assert model.count_macs() == 5 * 8 + 8 * 3
    model.summary()
    text = capsys.readouterr().out
    assert "Total MACs: 64" in text and "(None, 8)" in text


def test_summary_reports_params_and_macs(capsys):
    model = keras.Sequential([keras.Input((10,)), layers.Dense(20), layers.Dense(5)])
    model.summary()
    text = capsys.readouterr().out
    assert "Total params: 325" in text
    assert "Total MACs: 300" in text
    assert "(None, 20)" in text


def test_wrong_input_shape_is_a_clear_error():
    model = keras.Sequential([keras.Input((4,)), layers.Dense(2)])
    with pytest.raises(ValueError, match="features|expects"):
        model.predict(np.ones((3, 5), "float32"), verbose=0)
    inp = keras.Input((4,), name="x")
    functional = keras.Model(inp, layers.Dense(2)(inp))
    with pytest.raises(ValueError, match="Input 'x' expects shape"):
        functional(np.ones((3, 5), "float32"))
    with pytest.raises(ValueError, match="Missing model inputs"):
        functional({"y": np.ones((3, 4), "float32")})


def test_unknown_layer_name_and_bad_add_are_clear_errors():
    model = keras.Sequential([keras.Input((4,)), layers.Dense(2, name="d")])
    assert model.get_layer("d") is model.layers[0]
    with pytest.raises(ValueError, match="No layer named 'nope'"):
        model.get_layer("nope")
    with pytest.raises(TypeError, match="takes a Layer"):
        model.add("dense")
    with pytest.raises(ValueError, match="Unknown activation 'relux'"):
        layers.Dense(3, activation="relux")


def test_set_weights_checks_shapes():
    layer = layers.Dense(2)
    layer.build((None, 3))
    with pytest.raises(ValueError, match="has shape"):
        layer.set_weights([np.zeros((4, 2)), np.zeros(2)])
    with pytest.raises(ValueError, match="expects 2 weight arrays"):
        layer.set_weights([np.zeros((3, 2))])


def test_trainable_false_moves_weights_to_non_trainable():
    model = keras.Sequential([keras.Input((3,)), layers.Dense(2), layers.Dense(1)])
    model.layers[0].trainable = False
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 2


def test_unsupported_options_are_refused_not_ignored():
    with pytest.raises(ValueError, match="mask_zero=True is not supported"):
        layers.Embedding(10, 4, mask_zero=True)
    with pytest.raises(ValueError, match="constraint 'MaxNorm' is not supported"):
        layers.Dense(3, kernel_constraint={"class_name": "MaxNorm", "config": {"max_value": 2}})
