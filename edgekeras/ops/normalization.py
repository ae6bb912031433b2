"""Normalization family: batch_norm (inference form) and layer_norm.

batch_norm(x, mean, variance, gamma, beta; axis, epsilon) = (x - mean) / sqrt(variance + epsilon)
* gamma + beta, the four vectors laid along `axis`. layer_norm(x, gamma, beta; axes, epsilon)
normalizes over `axes` with the biased variance, gamma/beta shaped as x on those axes. Layers
without center/scale pass zeros/ones, so every input is always present for the compiler to fold.
The JAX forms compute x * inv + (beta - mean * inv), as Keras does.
"""

import numpy as np

from edgekeras.ops.reduce import canonical_axes
from edgekeras.ops.registry import TensorSpec, define, known, lowering


def _broadcast_shape(ndim, axes, shape):
    return tuple(shape[i] if i in axes else 1 for i in range(ndim))


def _check_params(op, specs, names, expected):
    for spec, name in zip(specs[1:], names):
        if len(spec.shape) != len(expected) or not all(known(a, b) for a, b in zip(spec.shape, expected)):
            raise ValueError(f"{op}: {name} has shape {spec.shape}, expected {expected} from input {specs[0].shape}.")
    return specs[0]


def _bn_infer(specs, axis=-1, epsilon=1e-3):
    x = specs[0]
    (axis,) = canonical_axes("batch_norm", len(x.shape), axis)
    return _check_params("batch_norm", specs, ("mean", "variance", "gamma", "beta"), (x.shape[axis],))


def _bn_numpy(x, mean, variance, gamma, beta, axis=-1, epsilon=1e-3):
    axes = canonical_axes("batch_norm", x.ndim, axis)
    shape = _broadcast_shape(x.ndim, axes, x.shape)
    m, v, g, b = (np.reshape(p.astype(np.float64), shape) for p in (mean, variance, gamma, beta))
    return ((x.astype(np.float64) - m) / np.sqrt(v + epsilon) * g + b).astype(x.dtype)


def _bn_jax(x, mean, variance, gamma, beta, axis=-1, epsilon=1e-3):
    from jax import lax

    shape = _broadcast_shape(x.ndim, canonical_axes("batch_norm", x.ndim, axis), x.shape)
    inv = lax.rsqrt(variance.reshape(shape) + epsilon) * gamma.reshape(shape)
    return x * inv + (beta.reshape(shape) - mean.reshape(shape) * inv)


def _ln_infer(specs, axes=(-1,), epsilon=1e-3):
    x = specs[0]
    axes = canonical_axes("layer_norm", len(x.shape), axes)
    return _check_params("layer_norm", specs, ("gamma", "beta"), tuple(x.shape[a] for a in axes))


def _ln_numpy(x, gamma, beta, axes=(-1,), epsilon=1e-3):
    axes = canonical_axes("layer_norm", x.ndim, axes)
    shape = _broadcast_shape(x.ndim, axes, x.shape)
    x64 = x.astype(np.float64)
    mean, var = x64.mean(axis=axes, keepdims=True), x64.var(axis=axes, keepdims=True)
    y = (x64 - mean) / np.sqrt(var + epsilon) * gamma.reshape(shape) + beta.reshape(shape)
    return y.astype(x.dtype)


def _ln_jax(x, gamma, beta, axes=(-1,), epsilon=1e-3):
    import jax.numpy as jnp
    from jax import lax

    axes = canonical_axes("layer_norm", x.ndim, axes)
    shape = _broadcast_shape(x.ndim, axes, x.shape)
    mean, var = jnp.mean(x, axis=axes, keepdims=True), jnp.var(x, axis=axes, keepdims=True)
    inv = lax.rsqrt(var + epsilon) * gamma.reshape(shape)
    return x * inv + (beta.reshape(shape) - mean * inv)


batch_norm = define("batch_norm", _bn_infer, _bn_numpy, _bn_jax)
layer_norm = define("layer_norm", _ln_infer, _ln_numpy, _ln_jax)


@lowering("batch_norm")
def _lower_batch_norm(ctx, x, mean, variance, gamma, beta, axis=-1, epsilon=1e-3):
    from tvm import relax

    R = relax.op
    ndim = len(ctx.in_types[0].shape)
    shape = _broadcast_shape(ndim, canonical_axes("batch_norm", ndim, axis), ctx.in_types[0].shape)
    m, v, g, b = (R.reshape(p, shape) for p in (mean, variance, gamma, beta))
    inv = R.multiply(R.rsqrt(R.add(v, relax.const(epsilon, "float32"))), g)
    return R.add(R.multiply(R.subtract(x, m), inv), b)


@lowering("layer_norm")
def _lower_layer_norm(ctx, x, gamma, beta, axes=(-1,), epsilon=1e-3):
    from tvm import relax

    R = relax.op
    ndim = len(ctx.in_types[0].shape)
    axes = list(canonical_axes("layer_norm", ndim, axes))
    shape = _broadcast_shape(ndim, axes, ctx.in_types[0].shape)
    mean = R.mean(x, axis=axes, keepdims=True)
    centered = R.subtract(x, mean)
    var = R.mean(R.multiply(centered, centered), axis=axes, keepdims=True)
    inv = R.multiply(R.rsqrt(R.add(var, relax.const(epsilon, "float32"))), R.reshape(gamma, shape))
    return R.add(R.multiply(centered, inv), R.reshape(beta, shape))
