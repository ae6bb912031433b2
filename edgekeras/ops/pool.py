"""Window pooling, channels-last, any rank: max_pool and avg_pool.

Attrs: pool_size, strides (None = pool_size, as Keras), padding "valid"/"same". With "same",
avg_pool divides by the number of real cells in each window (padded cells are not counted), as
Keras and TensorFlow do.
"""

import numpy as np

from edgekeras.ops.registry import TensorSpec, define, lowering
from edgekeras.ops.windows import RELAX_LAYOUTS, as_tuple, begin_end_padding, np_windows, window_geometry


def _geometry(op, x_shape, pool_size, strides, padding):
    window = as_tuple(pool_size, len(x_shape) - 2)
    return window, window_geometry(op, x_shape, window, window if strides is None else strides, padding)


def _pool(name):
    def _infer(specs, pool_size, strides=None, padding="valid"):
        x = specs[0]
        out = _geometry(name, x.shape, pool_size, strides, padding)[1][3]
        return TensorSpec((x.shape[0],) + out + (x.shape[-1],), x.dtype)

    def _numpy(x, pool_size, strides=None, padding="valid"):
        window, (s, d, pairs, _) = _geometry(name, x.shape, pool_size, strides, padding)
        win = np_windows(x.astype(np.float64), window, s, d, pairs, -np.inf if name == "max_pool" else np.nan)
        return (win.max(-1) if name == "max_pool" else np.nanmean(win, -1)).astype(x.dtype)

    def _jax(x, pool_size, strides=None, padding="valid"):
        import jax.numpy as jnp
        from jax import lax

        window, (s, _, pairs, _) = _geometry(name, x.shape, pool_size, strides, padding)
        args = ((1,) + window + (1,), (1,) + s + (1,), ((0, 0),) + pairs + ((0, 0),))
        # Python-scalar init values let JAX recognise the max/add monoids, which have gradients.
        if name == "max_pool":
            lowest = -np.inf if jnp.issubdtype(x.dtype, jnp.floating) else int(jnp.iinfo(x.dtype).min)
            return lax.reduce_window(x, lowest, lax.max, *args)
        total = lax.reduce_window(x, 0, lax.add, *args)
        return total / lax.reduce_window(jnp.ones((1,) + x.shape[1:-1] + (1,), x.dtype), 0, lax.add, *args)

    return define(name, _infer, _numpy, _jax)


max_pool = _pool("max_pool")
avg_pool = _pool("avg_pool")


def _lower_pool(name):
    def lower(ctx, x, pool_size, strides=None, padding="valid"):
        from tvm import relax

        window, (s, _, pairs, _) = _geometry(name, ctx.in_types[0].shape, pool_size, strides, padding)
        rank = len(window)
        layout = RELAX_LAYOUTS[rank][0]
        kind = "max" if name == "max_pool" else "avg"
        pool = getattr(relax.op.nn, f"{kind}_pool{rank}d")
        extra = {} if kind == "max" else {"count_include_pad": False}
        return pool(x, pool_size=window, strides=s, padding=begin_end_padding(pairs), layout=layout, **extra)

    return lowering(name)(lower)


_lower_pool("max_pool")
_lower_pool("avg_pool")
