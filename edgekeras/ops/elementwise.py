"""Binary elementwise ops with NumPy broadcasting: add, subtract, multiply, maximum, minimum."""

import numpy as np

from edgekeras.ops.registry import TensorSpec, define, lowering


def _broadcast(specs):
    a, b = specs[0].shape, specs[1].shape
    n = max(len(a), len(b))
    a = (1,) * (n - len(a)) + tuple(a)
    b = (1,) * (n - len(b)) + tuple(b)
    out = []
    for da, db in zip(a, b):
        if da == 1:
            out.append(db)
        elif db == 1:
            out.append(da)
        elif db is None or da is None or da == db:
            out.append(da if da is not None else db)
        else:
            raise ValueError(f"Cannot broadcast shapes {specs[0].shape} and {specs[1].shape}.")
    return TensorSpec(tuple(out), specs[0].dtype)


def _binary(name, fn):
    def _np(a, b):
        return fn(np, a, b).astype(np.result_type(a, b))

    def _jax(a, b):
        import jax.numpy as jnp

        return fn(jnp, a, b)

    return define(name, lambda specs: _broadcast(specs), _np, _jax)


add = _binary("add", lambda m, a, b: m.add(a, b))
subtract = _binary("subtract", lambda m, a, b: m.subtract(a, b))
multiply = _binary("multiply", lambda m, a, b: m.multiply(a, b))
maximum = _binary("maximum", lambda m, a, b: m.maximum(a, b))
minimum = _binary("minimum", lambda m, a, b: m.minimum(a, b))


def _lower_binary(name):
    def lower(ctx, a, b):
        from tvm import relax

        return getattr(relax.op, name)(a, b)

    return lowering(name)(lower)


for _name in ("add", "subtract", "multiply", "maximum", "minimum"):
    _lower_binary(_name)
