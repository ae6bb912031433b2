"""Reductions over a tuple of axes: reduce_mean, reduce_max (global pooling is one of these)."""

import numpy as np

from edgekeras.ops.registry import TensorSpec, define, lowering


def canonical_axes(op, ndim, axes):
    axes = (axes,) if np.isscalar(axes) else tuple(axes)
    if any(not -ndim <= a < ndim for a in axes):
        raise ValueError(f"{op}: axes {axes} out of range for a {ndim}-D input.")
    return tuple(sorted(a % ndim for a in axes))


def _reduce(name, np_fn, jnp_name):
    def _infer(specs, axes, keepdims=False):
        x = specs[0]
        axes = canonical_axes(name, len(x.shape), axes)
        shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape) if keepdims or i not in axes)
        return TensorSpec(shape, x.dtype)

    def _numpy(x, axes, keepdims=False):
        return np_fn(x.astype(np.float64), axis=canonical_axes(name, x.ndim, axes), keepdims=keepdims).astype(x.dtype)

    def _jax(x, axes, keepdims=False):
        import jax.numpy as jnp

        return getattr(jnp, jnp_name)(x, axis=canonical_axes(name, x.ndim, axes), keepdims=keepdims)

    return define(name, _infer, _numpy, _jax)


reduce_mean = _reduce("reduce_mean", np.mean, "mean")
reduce_max = _reduce("reduce_max", np.max, "max")


def _lower_reduce(name, relax_name):
    def lower(ctx, x, axes, keepdims=False):
        from tvm import relax

        axes = canonical_axes(name, len(ctx.in_types[0].shape), axes)
        return getattr(relax.op, relax_name)(x, axis=list(axes), keepdims=keepdims)

    return lowering(name)(lower)


_lower_reduce("reduce_mean", "mean")
_lower_reduce("reduce_max", "max")
