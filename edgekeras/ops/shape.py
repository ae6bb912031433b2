"""Ops that move data without arithmetic: identity, reshape (batch kept), transpose, pad, concatenate.

identity is what a layer that passes its input through (Dropout at inference) traces to, so the
compiler sees every layer; its passes drop it.
"""

import numpy as np

from edgekeras.ops.registry import TensorSpec, define, lowering


identity = define("identity", lambda specs: specs[0], lambda x: x, lambda x: x)


def _reshape_infer(specs, shape):
    """`shape` excludes the batch axis and may hold one -1, as Keras's Reshape target_shape."""
    x = specs[0]
    shape = tuple(shape)
    known_in = [d for d in x.shape[1:]]
    if None in known_in:
        if -1 in shape:
            raise ValueError(f"reshape: cannot infer -1 in {shape} from input shape {x.shape} with unknown dims.")
        return TensorSpec((x.shape[0],) + shape, x.dtype)
    size = int(np.prod(known_in))
    if shape.count(-1) > 1:
        raise ValueError(f"reshape: target shape {shape} has more than one -1.")
    if -1 in shape:
        rest = int(np.prod([d for d in shape if d != -1]))
        if rest == 0 or size % rest:
            raise ValueError(f"reshape: cannot reshape {x.shape[1:]} ({size} values) into {shape}.")
        shape = tuple(size // rest if d == -1 else d for d in shape)
    if int(np.prod(shape)) != size:
        raise ValueError(f"reshape: cannot reshape {x.shape[1:]} ({size} values) into {shape} ({int(np.prod(shape))} values).")
    return TensorSpec((x.shape[0],) + shape, x.dtype)


def _resolved(x, shape):
    return (x.shape[0],) + _reshape_infer([TensorSpec(tuple(x.shape), str(x.dtype))], shape).shape[1:]


reshape = define(
    "reshape",
    _reshape_infer,
    lambda x, shape: np.reshape(x, _resolved(x, shape)),
    lambda x, shape: x.reshape(_resolved(x, shape)),
)


def _transpose_infer(specs, perm):
    x = specs[0]
    if sorted(perm) != list(range(len(x.shape))):
        raise ValueError(f"transpose: {perm} is not a permutation of the {len(x.shape)} axes of {x.shape}.")
    return TensorSpec(tuple(x.shape[p] for p in perm), x.dtype)


def _jax_transpose(x, perm):
    import jax.numpy as jnp

    return jnp.transpose(x, perm)


transpose = define("transpose", _transpose_infer, lambda x, perm: np.transpose(x, perm), _jax_transpose)


def _pad_infer(specs, pads, value=0.0):
    """`pads` holds one (lo, hi) pair per axis, batch included (as Keras's ops.pad)."""
    x = specs[0]
    pads = tuple((int(lo), int(hi)) for lo, hi in pads)
    if len(pads) != len(x.shape) or min(min(p) for p in pads) < 0:
        raise ValueError(f"pad: need one non-negative (lo, hi) pair per axis of {x.shape}, got {pads}.")
    return TensorSpec(tuple(None if d is None else d + lo + hi for d, (lo, hi) in zip(x.shape, pads)), x.dtype)


def _jax_pad(x, pads, value=0.0):
    import jax.numpy as jnp

    return jnp.pad(x, pads, constant_values=value)


pad = define("pad", _pad_infer, lambda x, pads, value=0.0: np.pad(x, pads, constant_values=value), _jax_pad)


def _concat_infer(specs, axis=-1):
    rank = len(specs[0].shape)
    if any(len(s.shape) != rank for s in specs) or not -rank <= axis < rank:
        raise ValueError(f"concatenate: inputs {[s.shape for s in specs]} need one rank and axis {axis} in range.")
    axis %= rank
    out = []
    for i, dims in enumerate(zip(*(s.shape for s in specs))):
        if i == axis:
            out.append(None if None in dims else sum(dims))
            continue
        sizes = {d for d in dims if d is not None}
        if len(sizes) > 1:
            raise ValueError(
                f"concatenate: shapes {[s.shape for s in specs]} must match on every axis except axis {axis}."
            )
        out.append(sizes.pop() if sizes else None)
    return TensorSpec(tuple(out), specs[0].dtype)


def _jax_concat(*xs, axis=-1):
    import jax.numpy as jnp

    return jnp.concatenate(xs, axis=axis)


concatenate = define("concatenate", _concat_infer, lambda *xs, axis=-1: np.concatenate(xs, axis=axis), _jax_concat)


@lowering("transpose")
def _lower_transpose(ctx, x, perm):
    from tvm import relax

    return relax.op.permute_dims(x, list(perm))


@lowering("pad")
def _lower_pad(ctx, x, pads, value=0.0):
    from tvm import relax

    flat = [int(v) for pair in pads for v in pair]
    return relax.op.nn.pad(x, flat, pad_value=float(value))


@lowering("concatenate")
def _lower_concatenate(ctx, *xs, axis=-1):
    from tvm import relax

    return relax.op.concat(list(xs), axis=axis % len(ctx.out_type.shape))
