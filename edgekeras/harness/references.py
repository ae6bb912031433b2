"""Reference predictors: what the model computes, by an implementation other than the artifact.

`edgekeras` runs the model through edgekeras itself (the JAX layers for Keras files, the NumPy IR
interpreter for ONNX files); `keras` and `onnxruntime` are the independent references (real Keras /
TensorFlow, ONNX Runtime). Each predictor maps a list of input batches to a list of output batches,
in the model's input and output order.
"""

import os
from pathlib import Path

import numpy as np

REFERENCES = ("edgekeras", "keras", "onnxruntime")


class ReferenceUnavailable(ValueError):
    """The reference cannot run here (package missing, or the wrong model format for it)."""


def predictor(model_path, reference="edgekeras"):
    """A function `inputs -> outputs` (lists of arrays, batch on axis 0) for `model_path`."""
    if reference not in REFERENCES:
        raise ValueError(f"Unknown reference '{reference}'. Valid references: {', '.join(REFERENCES)}.")
    onnx = Path(model_path).suffix.lower() == ".onnx"
    if reference == "edgekeras":
        return _interpreter(model_path) if onnx else _edgekeras(model_path)
    if reference == "keras":
        if onnx:
            raise ReferenceUnavailable("The 'keras' reference needs a .keras or .h5 model; for an .onnx model "
                                       "use --reference onnxruntime.")
        return _keras(model_path)
    if not onnx:
        raise ReferenceUnavailable("The 'onnxruntime' reference needs an .onnx model; for a Keras model use "
                                   "--reference keras or edgekeras.")
    return _onnxruntime(model_path)


def as_list(outputs):
    """Predict results (one array, or a list/tuple for multi-output models) as a list of arrays."""
    return [np.asarray(o) for o in outputs] if isinstance(outputs, (list, tuple)) else [np.asarray(outputs)]


def _model_input(inputs):
    return inputs[0] if len(inputs) == 1 else list(inputs)


def _edgekeras(model_path):
    from edgekeras.frontend.files import load_keras_file

    model = load_keras_file(model_path)
    return lambda inputs: as_list(model.predict(_model_input(inputs), verbose=0))


def _interpreter(model_path):
    from edgekeras.frontend import import_model
    from edgekeras.ir.interpreter import run

    graph = import_model(model_path)

    def predict(inputs):
        values = run(graph, list(inputs))
        return [values[v.name] for v in graph.outputs]

    return predict


def _keras(model_path):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import keras
    except ImportError:
        raise ReferenceUnavailable("The 'keras' reference needs real Keras 3 with TensorFlow, which is not installed: "
                                   "pip install tensorflow-cpu keras (or pip install 'edgekeras[test]').") from None
    model = keras.saving.load_model(model_path, compile=False)
    return lambda inputs: as_list(model.predict(_model_input(inputs), verbose=0))


_ORT_DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
               "tensor(int32)": np.int32, "tensor(int8)": np.int8, "tensor(uint8)": np.uint8}


def _onnxruntime(model_path):
    try:
        import onnxruntime
    except ImportError:
        raise ReferenceUnavailable("The 'onnxruntime' reference needs ONNX Runtime, which is not installed: "
                                   "pip install onnxruntime.") from None
    try:
        session = onnxruntime.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own exception types for unreadable models
        raise ValueError(f"ONNX Runtime cannot load {model_path}: {err}") from None
    specs = session.get_inputs()
    fixed_batch = isinstance(specs[0].shape[0], int) if specs and specs[0].shape else False

    def run(inputs):
        feeds = {s.name: np.asarray(x, dtype=_ORT_DTYPES.get(s.type, np.float32)) for s, x in zip(specs, inputs)}
        return session.run(None, feeds)

    def predict(inputs):
        if len(inputs) != len(specs):
            raise ValueError(f"The ONNX model has {len(specs)} inputs, got {len(inputs)} arrays.")
        if not fixed_batch:
            return as_list(run(inputs))
        # A model exported with a fixed batch size runs one sample at a time.
        samples = [run([x[i:i + 1] for x in inputs]) for i in range(len(inputs[0]))]
        return [np.concatenate(outs) for outs in zip(*samples)]

    return predict
