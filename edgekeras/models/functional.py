"""Functional models: a graph of layer calls from Input tensors to outputs.

Layers are ordered exactly as Keras 3 orders them (by depth from the outputs, ties broken by
discovery order), because that order names the weights in `.keras` files.
"""

from edgekeras.backend.symbolic import KerasTensor, is_symbolic
from edgekeras.layers.input_layer import InputLayer
from edgekeras.layers.layer import flatten, map_structure
from edgekeras.models.model import Model


def map_graph(inputs, outputs):
    """Return (nodes in execution order, layers in Keras order) for the graph between the tensors.

    Mirrors Keras 3: a depth-first walk from the outputs finds the nodes (post-order) and numbers
    the layers when first seen (pre-order); depth counts layers between a node and the outputs;
    layers sort by decreasing depth, ties by that number.
    """
    finished, in_progress = set(), set()
    nodes_post_order = []
    layer_index = {}
    layers_by_id = {}

    def visit(tensor):
        if tensor._keras_history is None:
            raise ValueError(
                f"Tensor {tensor} was not produced by a layer: build Functional models from `Input()` "
                "and layer calls only."
            )
        layer, node_index, _ = tensor._keras_history
        node = layer._inbound_nodes[node_index]
        if id(node) in finished:
            return
        is_input = isinstance(layer, InputLayer)
        if not is_input and any(tensor is t for t in inputs):
            finished.add(id(node))
            return
        if id(node) in in_progress:
            raise ValueError(f"Tensor {tensor} from layer '{layer.name}' is part of a cycle.")
        layer_index.setdefault(id(layer), len(layer_index))
        layers_by_id[id(layer)] = layer
        in_progress.add(id(node))
        if not is_input:
            for parent_tensor in node.input_tensors:
                visit(parent_tensor)
        finished.add(id(node))
        in_progress.discard(id(node))
        nodes_post_order.append(node)

    for t in outputs:
        visit(t)
    in_graph = {id(n) for n in nodes_post_order}
    node_depth, layer_depth = {}, {}
    for node in reversed(nodes_post_order):
        depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(id(node.layer), 0))
        layer_depth[id(node.layer)] = depth
        node_depth[id(node)] = depth
        if isinstance(node.layer, InputLayer):
            continue
        for parent in node.parent_nodes:
            if id(parent) in in_graph:
                node_depth[id(parent)] = max(depth + 1, node_depth.get(id(parent), 0))
    for t in inputs:  # inputs that no output depends on still belong to the model
        layer = t._keras_history[0]
        if isinstance(layer, InputLayer) and id(layer) not in layer_depth:
            layer_depth[id(layer)], layer_index[id(layer)], layers_by_id[id(layer)] = 0, -1, layer
    layers = sorted(layers_by_id.values(), key=lambda l: (-layer_depth[id(l)], layer_index[id(l)]))
    names = [layer.name for layer in layers]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"Layer names must be unique within a model; used more than once: {duplicated}.")
    nodes = sorted(nodes_post_order, key=lambda n: -node_depth[id(n)])
    return nodes, layers


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

    def call(self, inputs, training=None, mask=None):
        training = bool(training)
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
