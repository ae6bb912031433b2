"""Unary activation ops. One definition each: shape rule (identity), NumPy reference, JAX version.

Keras semantics: relu takes negative_slope / max_value / threshold; hard_sigmoid is relu6(x+3)/6
(Keras 3); gelu defaults to the exact erf form, `approximate=True` gives the tanh form.
"""

import math

import numpy as np

from edgekeras.ops.registry import define, lowering


def _same(specs, **_):
    return specs[0]


def _np_relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    y = np.where(x >= threshold, x, negative_slope * (x - threshold))
    if max_value is not None:
        y = np.minimum(y, max_value)
    return y.astype(x.dtype)


def _jax_relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    import jax.numpy as jnp

    y = jnp.where(x >= threshold, x, negative_slope * (x - threshold))
    if max_value is not None:
        y = jnp.minimum(y, max_value)
    return y.astype(x.dtype)


def _np_sigmoid(x):
    return (1.0 / (1.0 + np.exp(-x.astype(np.float64)))).astype(x.dtype)


def _np_erf(x):
    return np.vectorize(math.erf)(x)


def _np_gelu(x, approximate=False):
    x64 = x.astype(np.float64)
    if approximate:
        y = 0.5 * x64 * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x64 + 0.044715 * x64**3)))
    else:
        y = 0.5 * x64 * (1.0 + _np_erf(x64 / math.sqrt(2.0)))
    return y.astype(x.dtype)


def _jax_gelu(x, approximate=False):
    import jax

    return jax.nn.gelu(x, approximate=approximate)


def _np_elu(x, alpha=1.0):
    x64 = x.astype(np.float64)
    return np.where(x64 > 0, x64, alpha * np.expm1(np.minimum(x64, 0))).astype(x.dtype)


def _jax_elu(x, alpha=1.0):
    import jax.numpy as jnp

    return jnp.where(x > 0, x, alpha * jnp.expm1(jnp.minimum(x, 0)))


def _np_hard_sigmoid(x):
    return (np.clip(x + 3.0, 0.0, 6.0) / 6.0).astype(x.dtype)


def _jax_hard_sigmoid(x):
    import jax.numpy as jnp

    return jnp.clip(x + 3.0, 0.0, 6.0) / 6.0


def _jnp(name):
    def fn(x):
        import jax
        import jax.numpy as jnp

        return {"tanh": jnp.tanh, "sigmoid": jax.nn.sigmoid}[name](x)

    return fn


relu = define("relu", _same, _np_relu, _jax_relu)
sigmoid = define("sigmoid", _same, _np_sigmoid, _jnp("sigmoid"))
tanh = define("tanh", _same, lambda x: np.tanh(x.astype(np.float64)).astype(x.dtype), _jnp("tanh"))
elu = define("elu", _same, _np_elu, _jax_elu)
gelu = define("gelu", _same, _np_gelu, _jax_gelu)
hard_sigmoid = define("hard_sigmoid", _same, _np_hard_sigmoid, _jax_hard_sigmoid)
swish = define(
    "swish",
    _same,
    lambda x: (x * _np_sigmoid(x.astype(np.float64))).astype(x.dtype),
    lambda x: x * _jnp("sigmoid")(x),
)
hard_swish = define(
    "hard_swish",
    _same,
    lambda x: (x * _np_hard_sigmoid(x.astype(np.float64))).astype(x.dtype),
    lambda x: x * _jax_hard_sigmoid(x),
)


def _np_softmax(x, axis=-1):
    x64 = x.astype(np.float64)
    e = np.exp(x64 - x64.max(axis=axis, keepdims=True))
    return (e / e.sum(axis=axis, keepdims=True)).astype(x.dtype)


def _jax_softmax(x, axis=-1):
    import jax

    return jax.nn.softmax(x, axis=axis)


softmax = define("softmax", _same, _np_softmax, _jax_softmax)


def _relax_const(value, like):
    from tvm import relax

    return relax.const(value, like.ty.dtype)


@lowering("relu")
def _lower_relu(ctx, x, negative_slope=0.0, max_value=None, threshold=0.0):
    from tvm import relax

    R = relax.op
    if negative_slope == 0 and threshold == 0:
        y = R.nn.relu(x)
    else:
        t = _relax_const(threshold, x)
        y = R.where(R.greater_equal(x, t), x, R.multiply(_relax_const(negative_slope, x), R.subtract(x, t)))
    return y if max_value is None else R.minimum(y, _relax_const(max_value, x))


@lowering("sigmoid")
def _lower_sigmoid(ctx, x):
    from tvm import relax

    return relax.op.sigmoid(x)


@lowering("tanh")
def _lower_tanh(ctx, x):
    from tvm import relax

    return relax.op.tanh(x)


@lowering("elu")
def _lower_elu(ctx, x, alpha=1.0):
    from tvm import relax

    R = relax.op
    negative = R.multiply(_relax_const(alpha, x), R.subtract(R.exp(x), _relax_const(1.0, x)))
    return R.where(R.greater(x, _relax_const(0.0, x)), x, negative)


@lowering("gelu")
def _lower_gelu(ctx, x, approximate=False):
    from tvm import relax

    return relax.op.nn.gelu_tanh(x) if approximate else relax.op.nn.gelu(x)


def _relax_hard_sigmoid(x):
    from tvm import relax

    R = relax.op
    clipped = R.clip(R.add(x, _relax_const(3.0, x)), 0.0, 6.0)
    return R.divide(clipped, _relax_const(6.0, x))


@lowering("hard_sigmoid")
def _lower_hard_sigmoid(ctx, x):
    return _relax_hard_sigmoid(x)


@lowering("swish")
def _lower_swish(ctx, x):
    from tvm import relax

    return relax.op.multiply(x, relax.op.sigmoid(x))


@lowering("hard_swish")
def _lower_hard_swish(ctx, x):
    from tvm import relax

    return relax.op.multiply(x, _relax_hard_sigmoid(x))


@lowering("softmax")
def _lower_softmax(ctx, x, axis=-1):
    from tvm import relax

    return relax.op.nn.softmax(x, axis=axis)
