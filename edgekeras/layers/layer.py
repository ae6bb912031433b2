"""The Layer base class: weights, build-on-first-call, and graph nodes for the Functional API.

A layer's `call` is written with `edgekeras.ops`, so the same code runs on JAX arrays (training,
prediction) and on symbolic KerasTensors (building Functional graphs, counting MACs, tracing for
the compiler).
"""

import inspect
import re

import numpy as np

from edgekeras import initializers, regularizers
from edgekeras.backend import config
from edgekeras.backend.symbolic import KerasTensor, is_symbolic
from edgekeras.backend.variables import Variable, unique_name
from edgekeras import ops
from edgekeras.ops.registry import OpRecorder, layer_scope
from edgekeras.serialization import serialize


def to_snake_case(name):
    """CamelCase class name to Keras's snake_case (Conv2D -> conv2d, DepthwiseConv2D -> depthwise_conv2d)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
    return name


def flatten(structure):
    """Leaves of nested lists/tuples/dicts (dicts in sorted-key order, as Keras and JAX do)."""
    if isinstance(structure, dict):
        return [leaf for k in sorted(structure) for leaf in flatten(structure[k])]
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    return [structure]


def map_structure(fn, structure):
    if isinstance(structure, dict):
        return {k: map_structure(fn, v) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(map_structure(fn, v) for v in structure)
    return fn(structure)


def shape_of(structure):
    """Shape tuples of a (nested) structure of tensors."""
    return map_structure(lambda t: tuple(t.shape), structure)


class Node:
    """One call of a layer on symbolic tensors: what it consumed and what it produced."""

    def __init__(self, layer, args, kwargs, outputs, macs=0):
        self.layer = layer
        self.args = args
        self.kwargs = kwargs
        self.outputs = outputs  # flat list of KerasTensors
        self.input_tensors = [t for t in flatten((args, kwargs)) if is_symbolic(t)]
        self.macs = macs

    @property
    def parent_nodes(self):
        parents = []
        for t in self.input_tensors:
            layer, node_index, _ = t._keras_history
            parents.append(layer._inbound_nodes[node_index])
        return parents


class Layer:
    """Base class of every layer and model (Keras 3 semantics and argument names)."""

    def __init__(self, trainable=True, name=None, dtype=None, **kwargs):
        input_shape = kwargs.pop("input_shape", None)
        input_dim = kwargs.pop("input_dim", None)
        batch_size = kwargs.pop("batch_size", None)
        kwargs.pop("autocast", None)
        activity_regularizer = kwargs.pop("activity_regularizer", None)
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unrecognized keyword arguments {sorted(kwargs)}.")
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        self._input_shape_arg = tuple(input_shape) if input_shape is not None else None
        self._batch_size_arg = batch_size
        object.__setattr__(self, "_layers", [])
        self._trainable_variables = []
        self._non_trainable_variables = []
        self._inbound_nodes = []
        self._trainable = bool(trainable)
        self.built = False
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self.dtype = config.standardize_dtype(_dtype_name(dtype))
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.supports_masking = False

    # ---- sublayer tracking -------------------------------------------------------------------
    def __setattr__(self, name, value):
        if not name.startswith("_") and "_layers" in self.__dict__:
            for item in value if isinstance(value, (list, tuple)) else [value]:
                if isinstance(item, Layer) and item is not self and item not in self._layers:
                    self._layers.append(item)
        object.__setattr__(self, name, value)

    # ---- weights -----------------------------------------------------------------------------
    def add_weight(self, shape=(), initializer="glorot_uniform", dtype=None, trainable=True,
                   regularizer=None, constraint=None, name=None):
        dtype = config.standardize_dtype(dtype or self.dtype)
        init = initializers.get(initializer)
        value = init(tuple(int(d) for d in shape), dtype=dtype)
        var = Variable(value, trainable=trainable, name=name or "variable", dtype=dtype,
                       path=f"{self.name}/{name or 'variable'}")
        var.regularizer = regularizers.get(regularizer)
        var.constraint = constraint
        (self._trainable_variables if trainable else self._non_trainable_variables).append(var)
        return var

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        for layer in self._layers:
            layer.trainable = value

    @property
    def weights(self):
        out = list(self._trainable_variables) + list(self._non_trainable_variables)
        for layer in self._layers:
            out.extend(w for w in layer.weights if all(w is not o for o in out))
        return out

    variables = weights

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        out = list(self._trainable_variables)
        for layer in self._layers:
            out.extend(w for w in layer.trainable_weights if all(w is not o for o in out))
        return out

    trainable_variables = trainable_weights

    @property
    def non_trainable_weights(self):
        trainable_ids = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in trainable_ids]

    non_trainable_variables = non_trainable_weights

    def get_weights(self):
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights):
        own = self.weights
        if len(weights) != len(own):
            raise ValueError(
                f"Layer '{self.name}' expects {len(own)} weight arrays, got {len(weights)}."
            )
        for var, value in zip(own, weights):
            value = np.asarray(value)
            if tuple(value.shape) != var.shape:
                raise ValueError(
                    f"Layer '{self.name}': weight '{var.name}' has shape {var.shape}, "
                    f"got an array of shape {tuple(value.shape)}."
                )
            var.assign(value)

    def count_params(self):
        return int(sum(int(np.prod(w.shape)) for w in self.weights))

    @property
    def layers(self):
        return list(self._layers)

    @property
    def losses(self):
        """Regularization penalties of this layer's weights (evaluated now)."""
        out = []
        if self.trainable:
            for w in self._trainable_variables:
                if w.regularizer is not None:
                    out.append(w.regularizer(w.value))
        for layer in self._layers:
            out.extend(layer.losses)
        return out

    # ---- building and calling ----------------------------------------------------------------
    def build(self, input_shape):
        self.built = True

    def call(self, inputs, *args, **kwargs):
        return inputs

    def compute_output_shape(self, input_shape):
        """Output shape(s) for an input shape (or a list of them), by running `call` symbolically."""
        if isinstance(input_shape, (list, tuple)) and input_shape and isinstance(input_shape[0], (list, tuple)):
            spec = [KerasTensor(s, self.dtype) for s in input_shape]
        else:
            spec = KerasTensor(input_shape, self.dtype)
        self._maybe_build((spec,))
        return shape_of(self.call(spec))

    def _maybe_build(self, args):
        if self.built:
            return
        first = args[0] if args else None
        shapes = map_structure(lambda t: tuple(t.shape), first) if first is not None else None
        self.build(shapes)
        self.built = True

    def __call__(self, *args, **kwargs):
        args = tuple(_to_tensor(a) for a in args)
        symbolic = any(is_symbolic(t) for t in flatten((args, kwargs)))
        self._maybe_build(args)
        call_kwargs = self._filter_call_kwargs(kwargs)
        if not symbolic:
            outputs = self.call(*args, **call_kwargs)
            if self.activity_regularizer is not None:
                from edgekeras.training.losses_scope import add_loss

                for out in flatten(outputs):
                    add_loss(self.activity_regularizer(out))
            return outputs
        inputs_flat = [t for t in flatten(args) if is_symbolic(t)]
        with OpRecorder() as recorder, layer_scope(self.name):
            outputs = self.call(*args, **call_kwargs)
            # A pass-through output (Dropout at inference) becomes an identity op, so every layer
            # output is a distinct tensor that a trace can attribute to this layer.
            outputs = map_structure(lambda t: ops.identity(t) if any(t is i for i in inputs_flat) else t, outputs)
        flat_out = flatten(outputs)
        node = Node(self, args, kwargs, flat_out, macs=recorder.total_macs())
        self._inbound_nodes.append(node)
        for i, t in enumerate(flat_out):
            t._keras_history = (self, len(self._inbound_nodes) - 1, i)
        return outputs

    def _filter_call_kwargs(self, kwargs):
        params = inspect.signature(self.call).parameters
        accepts_any = any(p.kind == p.VAR_KEYWORD for p in params.values())
        out = {}
        for key, value in kwargs.items():
            if key in params or accepts_any:
                out[key] = value
            elif key not in ("training", "mask"):
                raise TypeError(f"{type(self).__name__}.call() got an unexpected keyword argument '{key}'.")
        return out

    # ---- config ------------------------------------------------------------------------------
    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable, "dtype": dtype_policy(self.dtype)}
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = serialize(self.activity_regularizer, "keras.regularizers")
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def dtype_policy(dtype):
    """The dtype as Keras 3.15 serializes it in layer configs."""
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": dtype}, "registered_name": None}


def _dtype_name(dtype):
    """Accept 'float32', a NumPy dtype, or Keras's serialized DTypePolicy dict."""
    if isinstance(dtype, dict):
        return dtype.get("config", {}).get("name", "float32")
    return dtype


def _to_tensor(x):
    """Convert NumPy arrays (also inside lists, as merge layers take) at a layer boundary."""
    if isinstance(x, (list, tuple)):
        return type(x)(_to_tensor(item) for item in x)
    if isinstance(x, np.ndarray):
        import jax.numpy as jnp

        dtype = config.floatx() if x.dtype == np.float64 else x.dtype
        return jnp.asarray(x, dtype=dtype)
    return x
