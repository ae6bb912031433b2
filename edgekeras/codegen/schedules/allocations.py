"""The temporaries of a kernel as TVM will allocate them: each buffer moved to the innermost loop
that covers its uses and shrunk to the region used there (TVM's own lowering passes), so a
schedule that keeps a small accumulator tile per loop iteration is charged for the tile only."""


def _lowering_passes():
    from tvm import s_tir

    t = s_tir.transform
    return [t.CanonicalizeLoop(), t.LowerInitBlock(), t.PlanAndUpdateBufferAllocationLocation(),
            t.ConvertBlocksToOpaque(), t.CompactBufferAllocation()]


def allocated_buffers(func):
    """Buffers allocated inside `func` after TVM places and compacts them (parameters excluded)."""
    import tvm

    mod = tvm.IRModule({"main": func})
    for lowering in _lowering_passes():
        mod = lowering(mod)
    found = []
    _collect(mod["main"].body, found)
    return found


def _collect(stmt, found):
    """Walk loops, blocks, sequences and branches (the statements a scheduled kernel is made of)."""
    if stmt is None:
        return
    if hasattr(stmt, "alloc_buffers"):
        found.extend(stmt.alloc_buffers)
    for child in ("block", "body", "init", "then_case", "else_case"):
        _collect(getattr(stmt, child, None), found)
    for child in getattr(stmt, "seq", []) or []:
        _collect(child, found)
