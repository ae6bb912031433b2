"""InputLayer and `Input()`: the symbolic entry points of a Functional model."""

from edgekeras.backend import config
from edgekeras.backend.symbolic import KerasTensor
from edgekeras.layers.layer import Layer, Node


class InputLayer(Layer):
    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None,
                 input_tensor=None, optional=False, name=None, **kwargs):
        kwargs.pop("ragged", None)
        if "input_shape" in kwargs and shape is None:
            shape = kwargs.pop("input_shape")
        if "batch_input_shape" in kwargs and batch_shape is None:
            batch_shape = kwargs.pop("batch_input_shape")
        super().__init__(name=name, dtype=dtype, **kwargs)
        if batch_shape is None:
            if shape is None:
                raise ValueError("InputLayer needs `shape` (without the batch axis) or `batch_shape`.")
            batch_shape = (batch_size,) + tuple(shape)
        self.batch_shape = tuple(None if d is None else int(d) for d in batch_shape)
        self.dtype = config.standardize_dtype(self.dtype if dtype is not None else None)
        self.built = True
        tensor = KerasTensor(self.batch_shape, self.dtype, name=self.name)
        node = Node(self, (), {}, [tensor])
        self._inbound_nodes.append(node)
        tensor._keras_history = (self, 0, 0)
        self.output = tensor

    def get_config(self):
        return {"batch_shape": list(self.batch_shape), "dtype": self.dtype, "sparse": False, "ragged": False,
                "name": self.name, "optional": False}


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None, tensor=None, optional=False):
    """A symbolic tensor to build Functional models from (shape excludes the batch axis)."""
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, batch_shape=batch_shape, name=name)
    return layer.output
