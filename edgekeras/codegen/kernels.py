"""TIR kernels: a default schedule, their workspace needs, de-duplication, and the target object file.

The default schedule inlines every intermediate stage that can be inlined (padding, elementwise
epilogues), so the only temporaries left are reduction results. Those become
`TVMBackendAllocWorkspace` calls, which the C runtime serves from a slice of the arena; the slice
size is the sum of the remaining intermediate buffers (each rounded to the workspace alignment),
an upper bound on what the kernel asks for. Kernels that are structurally equal (same op, shapes
and attrs) are built once.
"""

import numpy as np

WORKSPACE_ALIGN = 64


def _intermediates(sch):
    """Buffers allocated inside the kernel (its root block's), i.e. everything but the parameters."""
    try:
        return list(sch.get(sch.get_sblock("root")).alloc_buffers)
    except Exception:  # noqa: BLE001 - a function without a root block allocates nothing
        return []


def default_schedule(func):
    from tvm import s_tir

    sch = s_tir.Schedule(func)
    temporaries = _intermediates(sch)
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


def workspace_bytes(func):
    """Upper bound of the temporary bytes a kernel allocates (its remaining intermediate buffers)."""
    from tvm import s_tir

    total = 0
    for buf in _intermediates(s_tir.Schedule(func)):
        size = int(np.prod([int(d) for d in buf.shape], dtype=np.int64)) * (int(buf.dtype.bits) // 8)
        total += -(-size // WORKSPACE_ALIGN) * WORKSPACE_ALIGN
    return total


class KernelTable:
    """Unique kernels in first-use order, named `ek_k<N>_<tvm name>`."""

    def __init__(self):
        self.funcs = []  # (symbol, PrimFunc, workspace bytes)

    def add(self, func, hint):
        import tvm_ffi

        func = default_schedule(func)
        for symbol, known, workspace in self.funcs:
            if tvm_ffi.structural_equal(known, func):
                return symbol, workspace
        symbol = f"ek_k{len(self.funcs)}_{hint}"
        workspace = workspace_bytes(func)
        self.funcs.append((symbol, func, workspace))
        return symbol, workspace

    def ir_module(self):
        import tvm

        return tvm.IRModule({symbol: func.with_attr("global_symbol", symbol) for symbol, func, _ in self.funcs})

    def build_object(self, target, path):
        """Compile every kernel for `target` into one object file (no TVM runtime symbols needed)."""
        import tvm

        mod = self.ir_module()
        with tvm.transform.PassContext(opt_level=3, config={"tirx.disable_assert": True}):
            built = tvm.tirx.build(mod, target=target.tvm_target())
        built.write_to_file(str(path))
