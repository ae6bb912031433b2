"""The temporaries of a kernel as TVM will allocate them: each buffer moved to the innermost loop
that covers its uses and shrunk to the region used there (TVM's own lowering passes), so a
schedule that keeps a small accumulator tile per loop iteration is charged for the tile only.
Each comes with whether it sits inside a loop: TVM then allocates it once per iteration."""


def _lowering_passes():
    from tvm import s_tir

    t = s_tir.transform
    return [t.CanonicalizeLoop(), t.LowerInitBlock(), t.PlanAndUpdateBufferAllocationLocation(),
            t.ConvertBlocksToOpaque(), t.CompactBufferAllocation()]


def allocated_buffers(func):
    """(buffer, inside a loop) for the buffers allocated inside `func` after TVM places and compacts
    them (parameters excluded)."""
    import tvm

    mod = tvm.IRModule({"main": func})
    for lowering in _lowering_passes():
        mod = lowering(mod)
    found = []
    _collect(mod["main"].body, found, False)
    return found


def _collect(stmt, found, in_loop):
    """Walk loops, blocks, sequences and branches (the statements a scheduled kernel is made of)."""
    from tvm import tirx

    if stmt is None:
        return
    if hasattr(stmt, "alloc_buffers"):
        found.extend((buf, in_loop) for buf in stmt.alloc_buffers)
    in_loop = in_loop or isinstance(stmt, tirx.For)
    for child in ("block", "body", "init", "then_case", "else_case"):
        _collect(getattr(stmt, child, None), found, in_loop)
    for child in getattr(stmt, "seq", []) or []:
        _collect(child, found, in_loop)
