"""The generic schedule: inline every intermediate stage that can be inlined (padding, elementwise
epilogues), so the only temporaries left are reduction results."""


def intermediates(sch):
    """Buffers allocated inside the kernel (its root block's), i.e. everything but the parameters."""
    try:
        return list(sch.get(sch.get_sblock("root")).alloc_buffers)
    except Exception:  # noqa: BLE001 - a function without a root block allocates nothing
        return []


def schedule(func):
    from tvm import s_tir

    sch = s_tir.Schedule(func)
    temporaries = intermediates(sch)
    if not temporaries:
        return func
    for block in sch.get_child_blocks(sch.get_sblock("root")):
        if not any(w.source.same_as(t) for w in sch.get(block).writes for t in temporaries):
            continue
        try:
            sch.compute_inline(block)
        except s_tir.ScheduleError:
            continue  # a reduction, or a stage read by a reduction in a way inlining cannot express
    return sch.mod["main"]
