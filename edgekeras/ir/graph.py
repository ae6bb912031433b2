"""The edgekeras IR: a graph of op-set nodes over typed values.

A Value is a graph input, a constant (weights; it holds the array) or the output of one Node. Nodes
are kept in a valid execution order. A node's `op` and `attrs` are exactly an `edgekeras.ops` call,
so the op registry gives every node its shape rule, NumPy reference and lowering; `epilogue` lists
unary ops fused into the node (applied to its output, in order), and `layer` names the model layer
the node came from, so reports speak in the user's layer names.
"""

import itertools

import numpy as np

from edgekeras.ir.types import TensorType, default_layout


class Value:
    def __init__(self, name, type, producer=None, data=None):
        self.name = name
        self.type = type
        self.producer = producer
        self.data = data

    @property
    def is_constant(self):
        return self.data is not None

    def __repr__(self):
        return f"%{self.name}: {self.type}"


class Node:
    def __init__(self, name, op, inputs, attrs=None, layer="", epilogue=()):
        self.name = name
        self.op = op
        self.inputs = list(inputs)
        self.outputs = []
        self.attrs = dict(attrs or {})
        self.layer = layer
        self.epilogue = list(epilogue)  # [(op_name, attrs)], elementwise unary ops fused after `op`

    @property
    def output(self):
        return self.outputs[0]

    def __repr__(self):
        return f"<Node {self.name} = {self.op}>"


class Graph:
    def __init__(self, name="model"):
        self.name = name
        self.inputs = []
        self.outputs = []
        self.nodes = []
        self._names = set()

    # ---- building ------------------------------------------------------------------------------
    def unique_name(self, base):
        base = base or "t"
        if base not in self._names:
            self._names.add(base)
            return base
        for i in itertools.count(1):
            name = f"{base}_{i}"
            if name not in self._names:
                self._names.add(name)
                return name

    def add_input(self, name, shape, dtype="float32", layout=None):
        shape = tuple(int(d) for d in shape)
        value = Value(self.unique_name(name), TensorType(shape, dtype, layout or default_layout(len(shape))))
        self.inputs.append(value)
        return value

    def constant(self, name, array):
        array = np.ascontiguousarray(array)
        return Value(self.unique_name(name), TensorType(tuple(array.shape), array.dtype.name), data=array)

    def add_node(self, op, inputs, attrs=None, name=None, layer="", epilogue=(), output_names=None):
        """Append a node; its output types come from the op's shape rule."""
        from edgekeras.ops.registry import get

        node = Node(self.unique_name(name or op), op, inputs, attrs, layer, epilogue)
        specs = get(op).infer([v.type for v in inputs], **node.attrs)
        specs = specs if isinstance(specs, tuple) else (specs,)
        names = output_names or [node.name if i == 0 else f"{node.name}:{i}" for i in range(len(specs))]
        for spec, out_name in zip(specs, names):
            layout = inputs[0].type.layout if inputs and len(inputs[0].type.shape) == len(spec.shape) else None
            out_type = TensorType(tuple(spec.shape), spec.dtype, layout or default_layout(len(spec.shape)))
            node.outputs.append(Value(out_name if out_name == node.name else self.unique_name(out_name),
                                      out_type, producer=node))
        self.nodes.append(node)
        return node

    # ---- queries -------------------------------------------------------------------------------
    def consumers(self, value):
        return [n for n in self.nodes if any(v is value for v in n.inputs)]

    def uses(self, value):
        """Number of reads of `value`, graph outputs included."""
        reads = sum(1 for n in self.nodes for v in n.inputs if v is value)
        return reads + sum(1 for v in self.outputs if v is value)

    def constants(self):
        seen, out = set(), []
        for node in self.nodes:
            for v in node.inputs:
                if v.is_constant and id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        for v in self.outputs:
            if v.is_constant and id(v) not in seen:
                seen.add(id(v))
                out.append(v)
        return out

    def values(self):
        """Every value in execution order: inputs, constants, then node outputs."""
        return self.inputs + self.constants() + [v for n in self.nodes for v in n.outputs]

    # ---- rewriting -----------------------------------------------------------------------------
    def replace_uses(self, old, new):
        for node in self.nodes:
            node.inputs = [new if v is old else v for v in node.inputs]
        self.outputs = [new if v is old else v for v in self.outputs]

    def rename(self, value, name):
        """Give `value` a new unique name, freeing its old one."""
        self._names.discard(value.name)
        value.name = self.unique_name(name)

    def remove_node(self, node):
        self.nodes = [n for n in self.nodes if n is not node]

    def copy(self):
        """A structural copy: new nodes and values, constant arrays shared (passes never mutate them)."""
        other = Graph(self.name)
        other._names = set(self._names)
        mapping = {}

        def clone(value):
            if id(value) not in mapping:
                mapping[id(value)] = Value(value.name, value.type, data=value.data)
            return mapping[id(value)]

        other.inputs = [clone(v) for v in self.inputs]
        for node in self.nodes:
            new = Node(node.name, node.op, [clone(v) for v in node.inputs], node.attrs, node.layer, node.epilogue)
            for out in node.outputs:
                copy = clone(out)
                copy.producer = new
                new.outputs.append(copy)
            other.nodes.append(new)
        other.outputs = [clone(v) for v in self.outputs]
        return other

    def __str__(self):
        from edgekeras.ir.printer import format_graph

        return format_graph(self)
