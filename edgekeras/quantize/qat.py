"""Quantization-aware training: `quantize_model(model)` returns a copy of a float model that trains
(with the ordinary `fit`) while seeing the int8 rounding the compiled model will apply.

Where the int8 model gets a new tensor scale, the copy gets a FakeQuant point: after each model
input, after each Conv2D / DepthwiseConv2D / Dense including its activation (and before that
activation when it is not a clamp), after Add, Concatenate, GlobalAveragePooling2D, activation layers
and a standalone BatchNormalization. Layers that keep their input's scale in int8 (pooling, Flatten,
Reshape, Dropout, ZeroPadding2D) are copied unchanged. A Conv/Dense (or Add) output read only by a
ReLU / ReLU6 gets no point of its own, since the int8 kernel fuses that ReLU as a clamp.

BatchNormalization directly after a Conv2D / DepthwiseConv2D / Dense with no activation, and read
by nothing else, is folded into its kernel and bias before training (as the compiler would fold it),
so QAT trains the weights the int8 model will hold; the batch statistics are not used any more.
"""

import numpy as np

from edgekeras import layers as L
from edgekeras.layers.input_layer import Input, InputLayer
from edgekeras.layers.layer import map_structure
from edgekeras.models import Functional, Sequential
from edgekeras.quantize.layers import SOFTMAX_RANGE, FakeQuant, QuantizeWrapper

WEIGHTED = (L.Conv2D, L.DepthwiseConv2D, L.Dense)
REQUANTIZING = (L.Add, L.Concatenate, L.GlobalAveragePooling2D, L.Activation, L.ReLU, L.LeakyReLU, L.Softmax,
                L.BatchNormalization)
UNCHANGED = (L.MaxPooling2D, L.AveragePooling2D, L.GlobalMaxPooling2D, L.Flatten, L.Reshape, L.Dropout,
             L.ZeroPadding2D)


def quantize_model(model, momentum=0.99):
    """A new, quantization-aware model with `model`'s weights; `model` itself is not changed.
    `momentum`: of the moving average that tracks each FakeQuant range while training."""
    if type(model) not in (Sequential, Functional):
        raise ValueError(f"quantize_model takes a Sequential or Functional model, got {type(model).__name__}.")
    if not model.inputs:
        raise ValueError(f"quantize_model: model '{model.name}' is not built; build it (or give it an Input) first.")
    graph = _Graph(model)
    _check_supported(graph.nodes)
    plan = _Plan(graph, momentum)
    if isinstance(model, Sequential):
        inp = model._layers[0]
        new = Sequential([InputLayer(batch_shape=inp.batch_shape, dtype=inp.dtype, name=inp.name),
                          FakeQuant(momentum, name=f"{inp.name}_quant")] + [plan.layer(n) for n in plan.kept],
                         name=model.name)
    else:
        new = _functional(model, graph, plan, momentum)
    for node in plan.kept:
        plan.copy_weights(node)
    return new


class _Graph:
    """The model's layer calls in execution order, and who reads each tensor."""

    def __init__(self, model):
        if isinstance(model, Sequential):
            self.nodes, tensor = [], model._layers[0].output
            for layer in model.layers:
                node = next(n for n in layer._inbound_nodes if n.input_tensors and n.input_tensors[0] is tensor)
                self.nodes.append(node)
                tensor = node.outputs[0]
            self.outputs = {id(tensor)}
        else:
            self.nodes = [n for n in model._nodes if not isinstance(n.layer, InputLayer)]
            self.outputs = {id(t) for t in model.outputs}
        self.readers = {}
        for node in self.nodes:
            for t in node.input_tensors:
                self.readers.setdefault(id(t), []).append(node)

    def sole_reader(self, tensor):
        readers = self.readers.get(id(tensor), [])
        return readers[0] if len(readers) == 1 and id(tensor) not in self.outputs else None


def _check_supported(nodes):
    bad = sorted({f"'{n.layer.name}' ({type(n.layer).__name__})" for n in nodes
                  if type(n.layer) not in WEIGHTED + REQUANTIZING + UNCHANGED})
    if bad:
        names = ", ".join(c.__name__ for c in WEIGHTED + REQUANTIZING + UNCHANGED)
        raise ValueError(f"quantize_model cannot handle layer(s) {', '.join(bad)}: no int8 quantization-aware "
                         f"version. Supported layers: {names}.")


def _is_clamp_relu(layer):
    if isinstance(layer, L.ReLU):
        return layer.negative_slope == 0 and layer.threshold == 0
    return isinstance(layer, L.Activation) and _activation_name(layer) in ("relu", "relu6")


def _activation_name(layer):
    return layer.get_config().get("activation", "linear")


class _Plan:
    """Which layer calls get which quantization-aware layer, and which BatchNormalizations fold away."""

    def __init__(self, graph, momentum):
        self.graph, self.momentum = graph, momentum
        self.folded = {}  # id(weighted node) -> BatchNormalization node folded into it
        for node in graph.nodes:
            bn = graph.sole_reader(node.outputs[0])
            if (isinstance(node.layer, WEIGHTED) and _activation_name(node.layer) == "linear" and bn is not None
                    and type(bn.layer) is L.BatchNormalization and bn.layer.axis in (-1, len(bn.outputs[0].shape) - 1)):
                self.folded[id(node)] = bn
        skipped = {id(bn) for bn in self.folded.values()}
        self.kept = [n for n in graph.nodes if id(n) not in skipped]
        self._new = {}  # id(original layer) -> its quantization-aware version (shared layers stay shared)

    def output(self, node):
        """The original tensor the new layer for `node` stands for (a folded BatchNorm's output)."""
        bn = self.folded.get(id(node))
        return (bn or node).outputs[0]

    def layer(self, node):
        if id(node.layer) not in self._new:
            self._new[id(node.layer)] = self._make(node)
        return self._new[id(node.layer)]

    def _make(self, node):
        layer = node.layer
        config = layer.get_config()
        if isinstance(layer, UNCHANGED) or (type(layer) is L.Activation and _activation_name(layer) == "linear"):
            return type(layer).from_config(config)
        reader = self.graph.sole_reader(self.output(node))
        fused_relu = (reader is not None and _is_clamp_relu(reader.layer)
                      and config.get("activation", "linear") == "linear" and isinstance(layer, WEIGHTED + (L.Add,)))
        softmax = type(layer) is L.Softmax or config.get("activation") == "softmax"
        options = dict(quantize_output=not fused_relu, output_range=SOFTMAX_RANGE if softmax else None,
                       momentum=self.momentum)
        if isinstance(layer, WEIGHTED):
            inner = type(layer).from_config({**config, "activation": "linear",
                                             "use_bias": config["use_bias"] or id(node) in self.folded})
            return QuantizeWrapper(inner, activation=config["activation"], **options)
        return QuantizeWrapper(type(layer).from_config(config), **options)

    def copy_weights(self, node):
        new = self._new[id(node.layer)]
        target = new.layer if isinstance(new, QuantizeWrapper) else new
        weights = node.layer.get_weights()
        bn = self.folded.get(id(node))
        if bn is not None:
            weights = _fold(node.layer, weights, bn.layer)
        target.set_weights(weights)


def _fold(layer, weights, bn):
    """[kernel, bias] of `layer` followed by inference-mode `bn`, as one layer."""
    size = bn.moving_mean.shape[0]
    kernel = weights[0].astype(np.float64)
    bias = weights[1].astype(np.float64) if layer.use_bias else np.zeros(size)
    gamma = bn.gamma.numpy() if bn.gamma is not None else np.ones(size)
    beta = bn.beta.numpy() if bn.beta is not None else np.zeros(size)
    a = gamma.astype(np.float64) / np.sqrt(bn.moving_variance.numpy().astype(np.float64) + bn.epsilon)
    kernel = kernel * a.reshape(kernel.shape[-2:] if isinstance(layer, L.DepthwiseConv2D) else (-1,))
    bias = (bias - bn.moving_mean.numpy()) * a + beta
    return [kernel.astype(np.float32), bias.astype(np.float32)]


def _functional(model, graph, plan, momentum):
    tensors = {}  # id(original tensor) -> new tensor

    def new_input(t):
        layer = t._keras_history[0]
        x = Input(batch_shape=t.shape, dtype=t.dtype, name=layer.name)
        tensors[id(t)] = FakeQuant(momentum, name=f"{layer.name}_quant")(x)
        return x

    inputs = map_structure(new_input, model._nested_inputs)
    for node in plan.kept:
        fetch = lambda v: tensors[id(v)] if id(v) in tensors else v  # noqa: E731
        out = plan.layer(node)(*map_structure(fetch, node.args), **map_structure(fetch, node.kwargs))
        tensors[id(plan.output(node))] = out
    return Functional(inputs, map_structure(lambda t: tensors[id(t)], model._nested_outputs), name=model.name)
