"""Variables, and the scope that lets a jit-compiled step see traced values in their place.

Eagerly a Variable holds a concrete array. The trainer runs the model inside a `ValueScope`
mapping each Variable to a traced value; reads see the traced value and `assign` records the new
value in the scope (how BatchNormalization's moving statistics update inside a compiled step).
"""

import numpy as np

from edgekeras.backend.config import standardize_dtype
from edgekeras.backend.scope import Scope

_NAME_COUNTS = {}


def unique_name(base):
    """Keras-style unique names: dense, dense_1, dense_2, ..."""
    count = _NAME_COUNTS.get(base, 0)
    _NAME_COUNTS[base] = count + 1
    return base if count == 0 else f"{base}_{count}"


def reset_names():
    _NAME_COUNTS.clear()


class ValueScope(Scope):
    def __init__(self, values):
        self.values = dict(values)  # id(variable) -> array


class Variable:
    def __init__(self, value, trainable=True, name="variable", dtype=None, path=None):
        import jax.numpy as jnp

        self.name = name
        self.path = path or name
        self.trainable = bool(trainable)
        self.dtype = standardize_dtype(dtype or getattr(value, "dtype", None))
        self._value = jnp.asarray(np.asarray(value), dtype=self.dtype)
        self.regularizer = None
        self.constraint = None

    @property
    def shape(self):
        return tuple(self._value.shape)

    @property
    def value(self):
        scope = ValueScope.current()
        if scope is not None and id(self) in scope.values:
            return scope.values[id(self)]
        return self._value

    def assign(self, value):
        import jax.numpy as jnp

        scope = ValueScope.current()
        if scope is not None and id(self) in scope.values:
            scope.values[id(self)] = jnp.asarray(value, dtype=self.dtype)
            return
        value = jnp.asarray(value, dtype=self.dtype)
        if tuple(value.shape) != self.shape:
            raise ValueError(
                f"Cannot assign a value of shape {tuple(value.shape)} to variable '{self.path}' "
                f"of shape {self.shape}."
            )
        self._value = value

    def assign_add(self, delta):
        self.assign(self.value + delta)

    def numpy(self):
        return np.array(self._value)  # a writable copy, as Keras returns

    def __array__(self, dtype=None, copy=None):
        arr = self.numpy()
        return arr.astype(dtype) if dtype is not None else arr

    def __jax_array__(self):
        return self.value

    def __repr__(self):
        return f"<Variable path={self.path} shape={self.shape} dtype={self.dtype}>"

    # Arithmetic so that variables can be used like arrays in user code and schedules.
    def _v(self):
        return self.value

    def __add__(self, o): return self._v() + o
    def __radd__(self, o): return o + self._v()
    def __sub__(self, o): return self._v() - o
    def __rsub__(self, o): return o - self._v()
    def __mul__(self, o): return self._v() * o
    def __rmul__(self, o): return o * self._v()
    def __truediv__(self, o): return self._v() / o
    def __rtruediv__(self, o): return o / self._v()
    def __neg__(self): return -self._v()
    def __float__(self): return float(self.numpy())
    def __int__(self): return int(self.numpy())
