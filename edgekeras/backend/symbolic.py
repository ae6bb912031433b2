"""Symbolic tensors: a shape (None for unknown dims) and a dtype, no data.

Functional models are built by calling layers on them; ops called on them return new symbolic
tensors computed by the op's shape rule (and, when a recorder is active, log the op for tracing).
"""

from edgekeras.backend.config import standardize_dtype


class KerasTensor:
    def __init__(self, shape, dtype="float32", name=None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = standardize_dtype(dtype)
        self.name = name
        self._keras_history = None  # (layer, node_index, tensor_index) once a layer produced it

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"<KerasTensor shape={self.shape} dtype={self.dtype} name={self.name}>"

    def __hash__(self):
        return id(self)

    def __eq__(self, other):
        return self is other


def is_symbolic(x):
    return isinstance(x, KerasTensor)
