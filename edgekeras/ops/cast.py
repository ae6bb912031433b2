"""cast(x; dtype): elementwise dtype conversion (float to int truncates toward zero, as NumPy/XLA)."""

from edgekeras.backend.config import standardize_dtype
from edgekeras.ops.registry import TensorSpec, define, lowering

cast = define(
    "cast",
    lambda specs, dtype: TensorSpec(specs[0].shape, standardize_dtype(dtype)),
    lambda x, dtype: x.astype(dtype),
    lambda x, dtype: x.astype(dtype),
)


@lowering("cast")
def _lower_cast(ctx, x, dtype):
    from tvm import relax

    return relax.op.astype(x, standardize_dtype(dtype))
