"""Functional models: a graph of layer calls from Input tensors to outputs.

Layers are ordered exactly as Keras 3 orders them (by depth from the outputs, ties broken by
discovery order), because that order names the weights in `.keras` files.
"""

from edgekeras.backend.symbolic import KerasTensor, is_symbolic
from edgekeras.layers.input_layer import InputLayer
from edgekeras.layers.layer import flatten, map_structure
from edgekeras.models.model import Model


def map_graph(inputs, outputs):
    """Return (nodes in execution order, layers in Keras order) for the graph between the tensors."""
    node_order = {}
    layer_order = {}
    visiting = set()

    def visit(tensor):
        if tensor._keras_history is None:
            raise ValueError(
                f"Tensor {tensor} was not produced by a layer: build Functional models from `Input()` "
                "and layer calls only."
            )
        layer, node_index, _ = tensor._keras_history
        node = layer._inbound_nodes[node_index]
        if id(node) in node_order:
            return
        if id(node) in visiting:
            raise ValueError("The layer graph has a cycle.")
        visiting.add(id(node))
        if not any(tensor is t for t in inputs):
            for parent_tensor in node.input_tensors:
                visit(parent_tensor)
        visiting.discard(id(node))
        node_order[id(node)] = (len(node_order), node)
        layer_order.setdefault(id(layer), (len(layer_order), layer))

    for t in outputs:
        visit(t)

    # Depth: outputs at 0, a node is one deeper than its deepest consumer.
    depth = {}
    for _, node in sorted(node_order.values(), key=lambda p: -p[0]):
        depth.setdefault(id(node), 0)
        if isinstance(node.layer, InputLayer) or any(node.outputs[0] is t for t in inputs):
            continue
        for parent in node.parent_nodes:
            if id(parent) in node_order:
                depth[id(parent)] = max(depth.get(id(parent), 0), depth[id(node)] + 1)
    nodes = sorted(node_order.values(), key=lambda p: (-depth[id(p[1])], p[0]))
    layer_depth = {}
    for _, node in nodes:
        layer_depth[id(node.layer)] = max(layer_depth.get(id(node.layer), 0), depth[id(node)])
    layers = sorted(layer_order.values(), key=lambda p: (-layer_depth[id(p[1])], p[0]))
    return [n for _, n in nodes], [layer for _, layer in layers]


class Functional(Model):
    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        super().__init__(name=name, trainable=trainable, **kwargs)
        self._nested_inputs = inputs
        self._nested_outputs = outputs
        self._input_list = flatten(inputs) if not isinstance(inputs, dict) else [inputs[k] for k in inputs]
        self._output_list = flatten(outputs) if not isinstance(outputs, dict) else [outputs[k] for k in outputs]
        for t in self._input_list + self._output_list:
            if not is_symbolic(t):
                raise ValueError(f"Model inputs and outputs must be symbolic tensors from `Input()`, got {type(t).__name__}.")
        self._nodes, layers = map_graph(self._input_list, self._output_list)
        object.__setattr__(self, "_layers", layers)
        self.built = True

    @property
    def inputs(self):
        return list(self._input_list)

    @property
    def outputs(self):
        return list(self._output_list)

    @property
    def input_names(self):
        return [t._keras_history[0].name for t in self._input_list]

    @property
    def output_names(self):
        if isinstance(self._nested_outputs, dict):
            return list(self._nested_outputs)
        return [t._keras_history[0].name for t in self._output_list]

    @property
    def input_shape(self):
        shapes = [t.shape for t in self._input_list]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        shapes = [t.shape for t in self._output_list]
        return shapes[0] if len(shapes) == 1 else shapes

    def _standardize_inputs(self, inputs):
        """Match user data to the model's inputs: one array, a list in order, or a dict by name."""
        names = self.input_names
        if isinstance(inputs, dict):
            missing = [n for n in names if n not in inputs]
            if missing:
                raise ValueError(f"Missing model inputs {missing}; the model's inputs are {names}, got keys {sorted(inputs)}.")
            return [inputs[n] for n in names]
        flat = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if len(flat) != len(names):
            raise ValueError(f"The model expects {len(names)} input(s) {names}, got {len(flat)}.")
        return flat

    def call(self, inputs, training=False):
        values = {}
        for tensor, value in zip(self._input_list, self._standardize_inputs(inputs)):
            _check_input(tensor, value)
            values[id(tensor)] = value
        for node in self._nodes:
            if isinstance(node.layer, InputLayer):
                continue

            def fetch(x):
                return values[id(x)] if is_symbolic(x) else x

            args = map_structure(fetch, node.args)
            kwargs = map_structure(fetch, node.kwargs)
            kwargs = {**kwargs, "training": training}
            outputs = node.layer(*args, **kwargs)
            for tensor, value in zip(node.outputs, flatten(outputs)):
                values[id(tensor)] = value
        return map_structure(lambda t: values[id(t)], self._nested_outputs)

    def get_config(self):
        from edgekeras.saving.functional_config import functional_config

        return functional_config(self)


def _check_input(tensor, value):
    shape = getattr(value, "shape", None)
    if shape is None or is_symbolic(value):
        return
    expected = tensor.shape
    if len(shape) != len(expected) or any(e is not None and e != int(s) for e, s in zip(expected, shape)):
        name = tensor._keras_history[0].name
        raise ValueError(
            f"Input '{name}' expects shape {expected} (None = any size), got an array of shape {tuple(shape)}."
        )


def is_functional_input(value):
    return isinstance(value, KerasTensor) or (
        isinstance(value, (list, tuple, dict)) and value and all(isinstance(v, KerasTensor) for v in flatten(value))
    )
