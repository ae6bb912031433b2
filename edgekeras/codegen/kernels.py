"""TIR kernels: scheduled for their target, their workspace needs, de-duplication, the object file.

Each kernel is scheduled by `edgekeras.codegen.schedules`. Temporaries a schedule leaves in global
memory become `TVMBackendAllocWorkspace` calls (small ones are stack arrays), which the C runtime
serves from a slice of the arena; the slice size is the sum of those buffers (each rounded to the
workspace alignment), an upper bound on what the kernel asks for. Kernels that are structurally equal (same op, shapes
and attrs) are built once.
"""

import numpy as np

from edgekeras.codegen.schedules import ScheduleOptions, schedule_kernel
from edgekeras.codegen.schedules.allocations import allocated_buffers

WORKSPACE_ALIGN = 64
STACK_ALLOCA_BYTES = 1024  # TVM's kMaxStackAlloca: a smaller constant-size global buffer is a stack array


def _workspace_buffers(func):
    """(bytes, inside a loop) of the temporaries TVM asks `TVMBackendAllocWorkspace` for: all but the
    small global ones it puts on the stack."""
    for buf, in_loop in allocated_buffers(func):
        size = int(np.prod([int(d) for d in buf.shape], dtype=np.int64)) * (int(buf.dtype.bits) // 8)
        if not (buf.scope() == "global" and size < STACK_ALLOCA_BYTES):
            yield size, in_loop


def workspace_bytes(func):
    """Upper bound of the bytes a kernel asks `TVMBackendAllocWorkspace` for in one call: its
    temporaries as TVM allocates them (shrunk to the region one loop iteration uses)."""
    return sum(-(-size // WORKSPACE_ALIGN) * WORKSPACE_ALIGN for size, _ in _workspace_buffers(func))


def allocates_in_loops(func):
    """True when a workspace is allocated once per loop iteration. The runtime frees a kernel's
    workspace only when the next kernel starts (an arena slice per call, no allocator), so such a
    kernel would exhaust its slice; parallel iterations would also share it."""
    return any(in_loop for _, in_loop in _workspace_buffers(func))


class KernelTable:
    """Unique kernels in first-use order, named `ek_k<N>_<tvm name>`."""

    def __init__(self, target, options=ScheduleOptions()):
        self.target, self.options = target, options
        self.funcs = []  # (symbol, scheduled PrimFunc, workspace bytes)
        self._unscheduled = []  # the PrimFuncs as lowered, compared to find duplicates before scheduling

    def add(self, func, hint):
        import tvm_ffi

        for index, known in enumerate(self._unscheduled):
            if tvm_ffi.structural_equal(known, func):
                symbol, _, workspace = self.funcs[index]
                return symbol, workspace
        symbol = f"ek_k{len(self.funcs)}_{hint}"
        scheduled = schedule_kernel(func, self.target, self.options)
        workspace = workspace_bytes(scheduled)
        self._unscheduled.append(func)
        self.funcs.append((symbol, scheduled, workspace))
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
