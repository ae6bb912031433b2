"""Recognise the one reduction a kernel is built around (conv2d, depthwise conv2d, dense/matmul,
pooling window) by its structure, not its name: a block with spatial iterators then reduction
iterators, each bound to one loop in order, writing an output indexed by the spatial iterators in
order (so the last spatial iterator walks contiguous memory), followed by at most one elementwise
epilogue block that reads it (bias, activation, requantization: the generic schedule has already
inlined everything else)."""

from dataclasses import dataclass
from typing import Optional

import numpy as np

SPATIAL, REDUCE = 0, 2  # tvm.tirx.IterVar.DataPar, CommReduce


@dataclass
class ReductionKernel:
    block: object  # the reduction SBlockRV
    spatial: list  # extents of the spatial iterators, outermost first
    reduce: list  # extents of the reduction iterators
    acc_dtype: str  # the accumulator's dtype
    operand_dtypes: tuple  # dtypes of the other buffers the reduction reads
    epilogue: Optional[object]  # the SBlockRV that consumes the accumulator, None if it writes the output

    @property
    def acc_bits(self):
        return np.dtype(self.acc_dtype).itemsize * 8


def _bound_in_loop_order(sch, loops):
    realize = sch.get(loops[-1]).body
    if len(realize.iter_values) != len(loops):
        return False
    return all(value.same_as(sch.get(loop).loop_var) for value, loop in zip(realize.iter_values, loops))


def _writes_by_spatial_vars(stmt, n_spatial):
    if len(stmt.writes) != 1:
        return False
    region = stmt.writes[0].region
    spatial_vars = [iv.var for iv in stmt.iter_vars[:n_spatial]]
    return len(region) == n_spatial and all(
        int(r.extent) == 1 and r.min.same_as(v) for r, v in zip(region, spatial_vars))


def find(sch):
    """The kernel's reduction, or None when it has none, several, or one of another shape."""
    blocks = sch.get_child_blocks(sch.get_sblock("root"))
    reductions = [b for b in blocks if any(int(iv.iter_type) == REDUCE for iv in sch.get(b).iter_vars)]
    if len(reductions) != 1:
        return None
    block = reductions[0]
    stmt = sch.get(block)
    kinds = [int(iv.iter_type) for iv in stmt.iter_vars]
    n_spatial = kinds.index(REDUCE)
    if n_spatial == 0 or any(k != REDUCE for k in kinds[n_spatial:]) or any(k != SPATIAL for k in kinds[:n_spatial]):
        return None
    loops = sch.get_loops(block)
    if len(loops) != len(kinds) or not _bound_in_loop_order(sch, loops):
        return None
    if not _writes_by_spatial_vars(stmt, n_spatial):
        return None
    consumers = sch.get_consumers(block)
    if len(consumers) > 1 or (consumers and _has_reduction(sch, consumers[0])):
        return None
    written = stmt.writes[0].source
    extents = [int(iv.dom.extent) for iv in stmt.iter_vars]
    operands = tuple(str(r.source.dtype) for r in stmt.reads if not r.source.same_as(written))
    return ReductionKernel(block, extents[:n_spatial], extents[n_spatial:], str(written.dtype), operands,
                           consumers[0] if consumers else None)


def _has_reduction(sch, block):
    return any(int(iv.iter_type) == REDUCE for iv in sch.get(block).iter_vars)
