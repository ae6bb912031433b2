"""ONNX front end: models exported by Keras and graphs built with onnx.helper import to IR that
matches ONNX Runtime; unsupported or malformed input fails with one clear ModelImportError."""

import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from edgekeras.frontend import ModelImportError, import_model  # noqa: E402
from edgekeras.ir.interpreter import run  # noqa: E402

RNG = np.random.default_rng(3)


def const(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def save(tmp_path, nodes, inputs, outputs, initializers=(), opset=17, name="m.onnx"):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 9  # onnxruntime 1.31 refuses onnx 1.23's default IR version 14
    path = tmp_path / name
    onnx.save(model, path)
    return path


def tensor_info(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def assert_matches_ort(path, shapes, atol=1e-4):
    graph = import_model(path)
    feeds = {name: RNG.normal(size=(1,) + tuple(shape)).astype("float32") for name, shape in shapes.items()}
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)
    got = list(run(graph, feeds).values())
    assert len(got) == len(want)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, atol=atol, rtol=1e-4)
    return graph


def weights(*shape):
    return RNG.normal(size=shape).astype("float32") * 0.5


# ---- exported by Keras ----------------------------------------------------------------------------
def test_keras_exported_cnn(tmp_path):
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    K = pytest.importorskip("keras")
    pytest.importorskip("tf2onnx")
    KL = K.layers
    model = K.Sequential([K.Input((12, 12, 3)), KL.Conv2D(8, 3, padding="same"), KL.BatchNormalization(),
                          KL.ReLU(), KL.DepthwiseConv2D(3, strides=2, padding="same"), KL.MaxPooling2D(2),
                          KL.AveragePooling2D(2, padding="same"), KL.Flatten(), KL.Dense(4, activation="softmax")])
    model.set_weights([np.abs(weights(*w.shape)) + 0.5 if "variance" in w.path else weights(*w.shape)
                       for w in model.weights])
    x = RNG.normal(size=(1, 12, 12, 3)).astype("float32")
    model(x)
    path = tmp_path / "keras.onnx"
    model.export(str(path), format="onnx", verbose=False)
    name = onnx.load(path).graph.input[0].name
    graph = assert_matches_ort(path, {name: (12, 12, 3)})
    np.testing.assert_allclose(run(graph, [x])[graph.outputs[0].name], model.predict(x, verbose=0), atol=1e-4)
    assert {"conv", "depthwise_conv", "max_pool", "avg_pool", "dense", "softmax"} <= {n.op for n in graph.nodes}


# ---- built with onnx.helper -----------------------------------------------------------------------
def test_nchw_cnn_ops(tmp_path):
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 0, 1, 2], strides=[1, 2]),
        helper.make_node("BatchNormalization", ["c1", "g", "be", "mu", "var"], ["bn"], name="bn", epsilon=1e-3),
        helper.make_node("LeakyRelu", ["bn"], ["a1"], name="leaky", alpha=0.1),
        helper.make_node("Conv", ["a1", "w2"], ["c2"], name="grouped", group=2, auto_pad="SAME_UPPER"),
        helper.make_node("Clip", ["c2", "zero", "six"], ["a2"], name="relu6"),
        helper.make_node("Conv", ["a2", "wd", "bd"], ["c3"], name="depthwise", group=4, kernel_shape=[3, 3],
                         dilations=[2, 1], pads=[2, 0, 2, 1]),
        helper.make_node("Conv", ["c3", "w3"], ["c4"], name="lower", auto_pad="SAME_LOWER", strides=[2, 2]),
        helper.make_node("HardSwish", ["c4"], ["a3"], name="hswish"),
        helper.make_node("MaxPool", ["a3"], ["p1"], name="maxpool", kernel_shape=[2, 2], strides=[2, 2],
                         pads=[0, 0, 1, 1]),
        helper.make_node("AveragePool", ["p1"], ["p2"], name="avgpool", kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                         count_include_pad=1),
        helper.make_node("AveragePool", ["p2"], ["p3"], name="avgpool_ex", kernel_shape=[2, 2], pads=[1, 1, 0, 0]),
        helper.make_node("HardSigmoid", ["p3"], ["a4"], name="hsig"),
        helper.make_node("Clip", ["a4", "lo", "hi"], ["a5"], name="clip"),
        helper.make_node("GlobalAveragePool", ["a5"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flat"),
        helper.make_node("Gemm", ["flat", "wg", "bg"], ["logits"], name="fc", transB=1, alpha=0.5, beta=2.0),
        helper.make_node("Softmax", ["logits"], ["y"], name="softmax"),
    ]
    init = [const("w1", weights(4, 3, 3, 3)), const("b1", weights(4)), const("g", weights(4)),
            const("be", weights(4)), const("mu", weights(4)), const("var", np.abs(weights(4)) + 0.5),
            const("w2", weights(4, 2, 3, 3)), const("zero", np.float32(0)), const("six", np.float32(6)),
            const("wd", weights(8, 1, 3, 3)), const("w3", weights(8, 8, 2, 2)), const("bd", weights(8)),
            const("lo", np.float32(0.2)), const("hi", np.float32(0.7)), const("wg", weights(5, 8)),
            const("bg", weights(1, 5))]
    path = save(tmp_path, nodes, [tensor_info("x", ["batch", 3, 11, 14])], [tensor_info("y", ["batch", 5])], init)
    graph = assert_matches_ort(path, {"x": (3, 11, 14)})
    ops = [n.op for n in graph.nodes]
    assert ops.count("depthwise_conv") == 1 and ops.count("conv") == 3 and "transpose" in ops
    grouped = next(n for n in graph.nodes if n.layer == "grouped" and n.op == "conv")
    assert grouped.attrs["groups"] == 2 and grouped.name == "grouped/conv"
    assert graph.inputs[0].type.shape == (1, 3, 11, 14)


def test_matmul_elementwise_and_shape_ops(tmp_path):
    nodes = [
        helper.make_node("Transpose", ["x"], ["t"], name="t", perm=[0, 2, 1]),
        helper.make_node("MatMul", ["t", "w"], ["mm"], name="mm"),
        helper.make_node("Add", ["mm", "b"], ["dense"], name="bias"),
        helper.make_node("Sub", ["dense", "c3"], ["s"], name="sub"),
        helper.make_node("Mul", ["c1", "s"], ["m"], name="mul"),
        helper.make_node("Div", ["m", "two"], ["d"], name="div"),
        helper.make_node("Max", ["d", "zero", "y"], ["mx"], name="max"),
        helper.make_node("Min", ["mx", "c1"], ["mn"], name="min"),
        helper.make_node("Elu", ["mn"], ["e"], name="elu", alpha=0.5),
        helper.make_node("Sigmoid", ["e"], ["sg"], name="sigmoid"),
        helper.make_node("Tanh", ["sg"], ["th"], name="tanh"),
        helper.make_node("Relu", ["th"], ["r"], name="relu"),
        helper.make_node("Identity", ["r"], ["i"], name="identity"),
        helper.make_node("Dropout", ["i"], ["dr"], name="dropout"),
        helper.make_node("Shape", ["dr"], ["shape"], name="shape"),
        helper.make_node("Gather", ["shape", "idx0"], ["n"], name="gather"),
        helper.make_node("Unsqueeze", ["n", "axes0"], ["n1"], name="unsq_const"),
        helper.make_node("Concat", ["n1", "minus1"], ["target"], name="target", axis=0),
        helper.make_node("Reshape", ["dr", "target"], ["flat"], name="reshape"),
        helper.make_node("Unsqueeze", ["flat", "axes2"], ["u"], name="unsqueeze"),
        helper.make_node("Squeeze", ["u", "axes2"], ["sq"], name="squeeze"),
        helper.make_node("Cast", ["sq"], ["cast"], name="cast", to=TensorProto.FLOAT),
        helper.make_node("Pad", ["cast", "pads", "padval"], ["pad"], name="pad"),
        helper.make_node("Concat", ["pad", "cat_const"], ["cat"], name="concat", axis=1),
        helper.make_node("ReduceMean", ["cat", "axes1"], ["out"], name="mean", keepdims=1),
    ]
    init = [const("w", weights(4, 6)), const("b", weights(6)), const("c3", weights(1, 6)),
            const("c1", np.float32(1.5)), const("two", np.float32(2.0)), const("zero", np.float32(-0.2)),
            const("idx0", np.int64(0)), const("axes0", np.array([0], np.int64)),
            const("minus1", np.array([-1], np.int64)), const("axes2", np.array([2], np.int64)),
            const("pads", np.array([0, 1, 0, 2], np.int64)), const("padval", np.float32(0.25)),
            const("cat_const", weights(1, 3)), const("axes1", np.array([1], np.int64))]
    path = save(tmp_path, nodes, [tensor_info("x", [1, 4, 5]), tensor_info("y", [1, 5, 6])],
                [tensor_info("out", [1, 1])], init, opset=18)
    graph = assert_matches_ort(path, {"x": (4, 5), "y": (5, 6)})
    dense = next(n for n in graph.nodes if n.op == "dense")
    assert len(dense.inputs) == 3 and dense.name == "mm"  # the Add became the dense bias
    assert "shape" not in {n.layer for n in graph.nodes}  # shape arithmetic folded away


def test_opset_11_attribute_forms(tmp_path):
    nodes = [helper.make_node("Unsqueeze", ["x"], ["u"], name="u", axes=[1]),
             helper.make_node("Squeeze", ["u"], ["s"], name="s", axes=[1]),
             helper.make_node("Pad", ["s"], ["p"], name="p", pads=[0, 1, 0, 0], value=1.0),
             helper.make_node("ReduceMean", ["p"], ["r"], name="r", axes=[1], keepdims=0),
             helper.make_node("Clip", ["r"], ["y"], name="c", min=-0.1, max=0.3)]
    path = save(tmp_path, nodes, [tensor_info("x", [1, 7])], [tensor_info("y", [1])], opset=10)
    assert_matches_ort(path, {"x": (7,)})


# ---- errors -------------------------------------------------------------------------------------
def one_line_error(path, match):
    with pytest.raises(ModelImportError, match=match) as err:
        import_model(path)
    assert "\n" not in str(err.value)
    return str(err.value)


def test_unsupported_op_names_op_node_and_supported_list(tmp_path):
    path = save(tmp_path, [helper.make_node("Sin", ["x"], ["y"], name="my_sin")], [tensor_info("x", [1, 3])],
                [tensor_info("y", [1, 3])])
    message = one_line_error(path, r"unsupported ONNX op Sin \(node 'my_sin'\); supported ONNX ops: ")
    assert "Conv" in message and "BatchNormalization" in message


@pytest.mark.parametrize("nodes, inputs, init, match", [
    ([helper.make_node("Relu", ["x"], ["y"])], [tensor_info("x", [1, "h", 3])], [],
     r"static shapes: input 'x' has shape \(1, 'h', 3\)"),
    ([helper.make_node("Conv", ["x", "w"], ["y"], name="c")], [tensor_info("x", [1, 1, 4, 4]),
                                                               tensor_info("w", [1, 1, 3, 3])], [],
     r"Conv node 'c': the weight \(input 1\) must be a constant"),
    ([helper.make_node("Reshape", ["x", "s"], ["y"], name="r")], [tensor_info("x", [1, 6])],
     [const("s", np.array([2, 3], np.int64))],
     r"Reshape node 'r': reshaping \(1, 6\) to \(2, 3\) moves the batch axis"),
    ([helper.make_node("Pad", ["x", "p"], ["y"], name="pad", mode="reflect")], [tensor_info("x", [1, 6])],
     [const("p", np.array([0, 1, 0, 1], np.int64))], r"Pad node 'pad': mode 'reflect' is not supported"),
    ([helper.make_node("MatMul", ["x", "x"], ["y"], name="mm")], [tensor_info("x", [1, 6])], [],
     r"MatMul node 'mm': the second operand"),
    ([helper.make_node("Conv", ["x", "w"], ["y"], name="c")], [tensor_info("x", [1, 2, 4, 4])],
     [const("w", weights(1, 3, 3, 3))], r"Cannot import .*node 'c': conv: input has"),
])
def test_bad_graphs(tmp_path, nodes, inputs, init, match):
    one_line_error(save(tmp_path, nodes, inputs, [tensor_info("y", None)], init), match)


def test_bad_files(tmp_path):
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07garbage that is not protobuf \xff\xff\xff")
    one_line_error(corrupt, r"Cannot import .*corrupt\.onnx: not .*ONNX model")
    one_line_error(tmp_path / "missing.onnx", r"Cannot import .*missing\.onnx: no such file")
