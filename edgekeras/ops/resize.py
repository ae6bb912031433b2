"""upsample: integer-factor upsampling of the spatial axes of a channels-last tensor.

Attrs: scale (one factor per spatial axis), method "nearest" (repeat each cell, as Keras's
UpSampling2D) or "bilinear" (half-pixel centres with edge clamping, as tf.image.resize and
jax.image.resize without antialiasing).
"""

import numpy as np

from edgekeras.ops.registry import TensorSpec, define, lowering
from edgekeras.ops.windows import as_tuple, check_rank


def _scale(x_shape, scale, method):
    if method not in ("nearest", "bilinear"):
        raise ValueError(f"upsample: method must be 'nearest' or 'bilinear', got {method!r}.")
    scale = as_tuple(scale, len(x_shape) - 2)
    check_rank("upsample", x_shape, len(scale))
    if min(scale) < 1:
        raise ValueError(f"upsample: scale factors must be positive integers, got {scale}.")
    return scale


def _infer(specs, scale, method="nearest"):
    x = specs[0]
    scale = _scale(x.shape, scale, method)
    spatial = tuple(None if d is None else d * s for d, s in zip(x.shape[1:-1], scale))
    return TensorSpec((x.shape[0],) + spatial + (x.shape[-1],), x.dtype)


def _linear_matrix(n, s):
    """(n * s, n) interpolation weights of one axis."""
    src = (np.arange(n * s) + 0.5) / s - 0.5
    lo = np.floor(src)
    frac = src - lo
    m = np.zeros((n * s, n))
    rows = np.arange(n * s)
    np.add.at(m, (rows, np.clip(lo, 0, n - 1).astype(int)), 1.0 - frac)
    np.add.at(m, (rows, np.clip(lo + 1, 0, n - 1).astype(int)), frac)
    return m


def _numpy(x, scale, method="nearest"):
    y = x.astype(np.float64)
    for axis, s in enumerate(_scale(x.shape, scale, method), start=1):
        if method == "nearest":
            y = np.repeat(y, s, axis=axis)
        else:
            y = np.moveaxis(np.tensordot(_linear_matrix(y.shape[axis], s), y, axes=(1, axis)), 0, axis)
    return y.astype(x.dtype)


def _jax(x, scale, method="nearest"):
    import jax
    import jax.numpy as jnp

    scale = _scale(x.shape, scale, method)
    if method == "bilinear":
        shape = (x.shape[0],) + tuple(d * s for d, s in zip(x.shape[1:-1], scale)) + (x.shape[-1],)
        return jax.image.resize(x, shape, "bilinear", antialias=False)
    for axis, s in enumerate(scale, start=1):
        x = jnp.repeat(x, s, axis=axis)
    return x


upsample = define("upsample", _infer, _numpy, _jax)


@lowering("upsample")
def _lower(ctx, x, scale, method="nearest"):
    """2-D only (TVM's resize2d): nearest repeats cells (asymmetric, floor), bilinear uses half-pixel centres."""
    from tvm import relax

    shape = ctx.in_types[0].shape
    if len(shape) != 4:
        raise ValueError(f"upsample: only 2-D (NHWC) inputs compile, got shape {shape}.")
    size = tuple(d * s for d, s in zip(shape[1:3], _scale(shape, scale, method)))
    if method == "nearest":
        return relax.op.image.resize2d(x, size, layout="NHWC", method="nearest_neighbor",
                                       coordinate_transformation_mode="asymmetric", rounding_method="floor")
    return relax.op.image.resize2d(x, size, layout="NHWC", method="linear", coordinate_transformation_mode="half_pixel")
