"""embedding(indices, table): the rows of `table` at integer `indices` (Keras's take on axis 0).

Output shape is indices.shape + table.shape[1:]. Indices come first, as activations do in every op.
"""

import numpy as np

from edgekeras.ops.registry import TensorSpec, define, lowering


def _infer(specs):
    ids, table = specs
    if not np.issubdtype(np.dtype(ids.dtype), np.integer):
        raise ValueError(f"embedding: indices must be integers, got dtype {ids.dtype} (cast them first).")
    return TensorSpec(tuple(ids.shape) + tuple(table.shape[1:]), table.dtype)


def _jax(indices, table):
    import jax.numpy as jnp

    return jnp.take(table, indices, axis=0)


embedding = define("embedding", _infer, lambda indices, table: np.take(table, indices, axis=0), _jax)


@lowering("embedding")
def _lower_embedding(ctx, indices, table):
    from tvm import relax

    return relax.op.take(table, indices, axis=0)
