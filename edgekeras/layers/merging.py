"""Merge layers: Add, Subtract, Multiply, Average, Concatenate. Each takes a list of tensors."""

import functools

import numpy as np

from edgekeras import ops
from edgekeras.layers.common import base_config
from edgekeras.layers.layer import Layer
from edgekeras.ops.registry import TensorSpec


def _check_list(layer, input_shape):
    if not isinstance(input_shape, (list, tuple)) or not input_shape or not isinstance(input_shape[0], (list, tuple)):
        raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}) must be called on a list of tensors, "
                         f"got input shape {input_shape}.")


class _Merge(Layer):
    """Elementwise merge of same-rank inputs; axes of size 1 broadcast, as in Keras."""

    def build(self, input_shape):
        _check_list(self, input_shape)
        if len({len(s) for s in input_shape}) != 1:
            raise ValueError(f"Layer '{self.name}': inputs must have the same rank, got shapes {list(input_shape)}.")
        for dims in zip(*input_shape):
            sizes = {d for d in dims if d not in (None, 1)}
            if len(sizes) > 1:
                raise ValueError(f"Layer '{self.name}' ({type(self).__name__}): inputs have incompatible shapes "
                                 f"{[tuple(s) for s in input_shape]}.")
        self.built = True

    def call(self, inputs):
        return functools.reduce(self.op, inputs)

    def get_config(self):
        return base_config(self)


class Add(_Merge):
    op = ops.add


class Multiply(_Merge):
    op = ops.multiply


class Subtract(_Merge):
    op = ops.subtract

    def build(self, input_shape):
        super().build(input_shape)
        if len(input_shape) != 2:
            raise ValueError(f"Layer '{self.name}' (Subtract) needs exactly 2 inputs, got {len(input_shape)}.")


class Average(_Merge):
    op = ops.add

    def call(self, inputs):
        total = super().call(inputs)
        return ops.multiply(total, np.asarray(1.0 / len(inputs), dtype=self.dtype))


class Concatenate(Layer):
    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def build(self, input_shape):
        _check_list(self, input_shape)
        ops.concatenate.infer([TensorSpec(tuple(s), self.dtype) for s in input_shape], axis=self.axis)
        self.built = True

    def call(self, inputs):
        return ops.concatenate(*inputs, axis=self.axis)

    def get_config(self):
        return {**base_config(self), "axis": self.axis}
