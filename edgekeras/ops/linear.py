"""Linear family. dense: y = x @ kernel (+ bias), contracting the last axis of x. Batched over leading axes."""

import numpy as np

from edgekeras.ops.registry import TensorSpec, define, known, lowering


def _infer(specs):
    x, k = specs[0], specs[1]
    if len(k.shape) != 2:
        raise ValueError(f"dense: kernel must be 2-D, got shape {k.shape}.")
    if not known(x.shape[-1], k.shape[0]):
        raise ValueError(f"dense: input has {x.shape[-1]} features on its last axis but the kernel expects {k.shape[0]}.")
    if len(specs) > 2 and specs[2].shape != (k.shape[1],):
        raise ValueError(f"dense: bias shape {specs[2].shape} does not match {k.shape[1]} units.")
    return TensorSpec(x.shape[:-1] + (k.shape[1],), x.dtype)


def _numpy(x, kernel, bias=None):
    y = np.matmul(x.astype(np.float64), kernel.astype(np.float64))
    if bias is not None:
        y = y + bias
    return y.astype(x.dtype)


def _jax(x, kernel, bias=None):
    import jax.numpy as jnp

    y = jnp.matmul(x, kernel)
    return y if bias is None else y + bias


def _macs(ins, outs):
    return int(np.prod([d or 1 for d in outs[0].shape])) * (ins[1].shape[0] or 1)


dense = define("dense", _infer, _numpy, _jax, _macs)


@lowering("dense")
def _lower(ctx, x, kernel, bias=None):
    from tvm import relax

    y = relax.op.matmul(x, kernel)
    return y if bias is None else relax.op.add(y, bias)
