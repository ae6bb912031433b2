"""ONNX files to edgekeras IR, for the op subset edgekeras covers (the converters are in onnx_ops).

ONNX tensors keep their ONNX shapes (NCHW stays NCHW); ops that edgekeras defines channels-last are
wrapped in transposes there, which the layout pass cancels. Initializers and Constant nodes stay
NumPy arrays until an op needs them, so shape arithmetic on constants (Shape, Gather, Concat, ...)
folds away and only real tensors reach the graph. The batch dimension is fixed at 1.
"""

import os

import numpy as np

from edgekeras.frontend.errors import ModelImportError
from edgekeras.ir.graph import Graph


def from_onnx(path):
    """The IR graph of the ONNX model at `path`."""
    model = _load(os.fspath(path))
    importer = OnnxImporter(model, os.path.basename(os.fspath(path)))
    try:
        return importer.convert()
    except ModelImportError as err:
        raise ModelImportError(f"Cannot import {path}: {err}") from err
    except (ValueError, TypeError, IndexError, KeyError) as err:  # an op's shape rule refused the file's graph
        raise ModelImportError(f"Cannot import {path}: node '{importer.current}': {err}") from err


def _load(path):
    import onnx

    try:
        model = onnx.load(path)
    except FileNotFoundError:
        raise ModelImportError(f"Cannot import {path}: no such file.") from None
    except Exception as err:  # noqa: BLE001 - untrusted bytes: any parse failure means "not an ONNX model"
        raise ModelImportError(f"Cannot import {path}: not a readable ONNX model ({type(err).__name__}: {err}).") \
            from err
    if not model.graph.output:
        raise ModelImportError(f"Cannot import {path}: not an ONNX model (the file has no graph outputs).")
    return model


def opset_version(model):
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)


class OnnxImporter:
    """Walks an ONNX graph in order; converters read inputs through it and emit IR nodes into it."""

    def __init__(self, model, name):
        import onnx.numpy_helper

        self.model = model
        self.opset = opset_version(model)
        self.graph = Graph(os.path.splitext(name)[0] or "model")
        self.values = {"": None}  # ONNX tensor name -> IR Value, or np.ndarray for a constant
        for init in model.graph.initializer:
            self.values[init.name] = onnx.numpy_helper.to_array(init)
        self.node = None
        self.current = ""
        self._emitted = 0  # IR nodes emitted for the current ONNX node
        self._names = {}

    def convert(self):
        from edgekeras.frontend.onnx_ops import convert_node

        for info in self.model.graph.input:
            if info.name not in self.values:
                self.values[info.name] = self.graph.add_input(info.name, *_input_type(info))
        for node in self.model.graph.node:
            self.node, self.current, self._emitted = node, node.name or node.output[0], 0
            convert_node(self, node)
        for info in self.model.graph.output:
            value = self.values.get(info.name)
            if isinstance(value, np.ndarray):
                value = self.materialize(info.name, value)
            if value is None:
                raise ModelImportError(f"graph output '{info.name}' is produced by no node.")
            self.graph.outputs.append(value)
        return self.graph

    # ---- what converters use --------------------------------------------------------------------
    def attrs(self, node):
        import onnx.helper

        out = {}
        for attr in node.attribute:
            value = onnx.helper.get_attribute_value(attr)
            out[attr.name] = value.decode() if isinstance(value, bytes) else value
        return out

    def get(self, i):
        """Input i of the current node: an IR Value, an np.ndarray (constant) or None (absent)."""
        names = self.node.input
        if i >= len(names) or not names[i]:
            return None
        if names[i] not in self.values:
            raise ModelImportError(f"node '{self.current}' reads '{names[i]}', which no earlier node produces.")
        return self.values[names[i]]

    def const(self, i, what):
        """Input i, which must be a constant (weights, shapes, axes)."""
        value = self.get(i)
        if value is not None and not isinstance(value, np.ndarray):
            raise ModelImportError(f"{self.node.op_type} node '{self.current}': {what} (input {i}) must be a "
                                   "constant initializer; edgekeras compiles fixed weights and shapes.")
        return value

    def tensor(self, i, like=None):
        """Input i as an IR Value; a constant becomes a graph constant (in `like`'s dtype if given)."""
        value = self.get(i)
        if isinstance(value, np.ndarray):
            if like is not None:
                value = value.astype(like.type.dtype)
            return self.materialize(self.node.input[i], value)
        return value

    def materialize(self, name, array):
        key = (name, array.dtype.name)
        if key not in self._names:
            self._names[key] = self.graph.constant(name, array)
        return self._names[key]

    def emit(self, op, inputs, **attrs):
        """Append an IR node for the current ONNX node: its first takes the node's name, later ones
        "<name>/<op>"; every one records the ONNX node name as its layer."""
        name = f"{self.current}/{op}" if self._emitted else self.current
        self._emitted += 1
        return self.graph.add_node(op, inputs, attrs, name=name, layer=self.current).output

    def set_output(self, value, i=0):
        self.values[self.node.output[i]] = value

    def uses(self, name):
        """How many times the ONNX graph reads tensor `name` (graph outputs included)."""
        graph = self.model.graph
        return sum(list(n.input).count(name) for n in graph.node) + sum(o.name == name for o in graph.output)


def _input_type(info):
    """(shape with batch 1, dtype) of a graph input; symbolic dims other than the batch are refused."""
    import onnx.helper

    tensor_type = info.type.tensor_type
    if not info.type.HasField("tensor_type") or not tensor_type.HasField("shape"):
        raise ModelImportError(f"graph input '{info.name}' is not a tensor of known rank.")
    dims = []
    for axis, dim in enumerate(tensor_type.shape.dim):
        if dim.HasField("dim_value") and dim.dim_value > 0:
            dims.append(dim.dim_value)
        elif axis == 0:
            dims.append(1)
        else:
            shape = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in
                          tensor_type.shape.dim)
            raise ModelImportError(f"compile needs static shapes: input '{info.name}' has shape {shape}")
    return tuple(dims), np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor_type.elem_type)).name
