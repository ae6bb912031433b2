"""Default schedules for CPU targets (x86-64 AVX2/FMA, AArch64 NEON, ARMv7 NEON), float and int8.

The generic schedule first inlines padding and elementwise stages; a kernel built around one
reduction (conv2d, depthwise conv2d, dense, pooling) then gets the register-blocked schedule of
`cpu_reduction`. Elementwise kernels (quantize, zero-point padding, residual add) keep the generic
schedule: LLVM's own loop vectorizer already does better on them than TVM's `vectorize` (measured:
vectorized zero-point padding ran 5-10x slower). Anything else, or a kernel where a primitive
refuses to apply, keeps the generic schedule: a fast schedule that does not fit never fails a compile.
"""

from edgekeras.codegen.schedules import cpu_reduction, generic, reduction_block, x86_int8_dot


def schedule(func, target, options):
    from tvm import s_tir

    inlined = generic.schedule(func)
    sch = s_tir.Schedule(inlined)
    kernel = reduction_block.find(sch)
    if kernel is None:
        return inlined
    for dot in _dot_intrinsics(kernel, target):
        attempt = sch.copy()
        try:
            cpu_reduction.schedule(attempt, kernel, target.tvm, options.threads, dot)
        except (RuntimeError, ValueError):  # TVM's errors (ScheduleError is a RuntimeError)
            continue  # the next, plainer variant, and finally the generic schedule
        return attempt.mod["main"]
    return inlined


def _dot_intrinsics(kernel, target):
    """Multiply-accumulate variants to try, best first: the target's int8 dot products where the
    kernel has their shape, then the plain vectorized loop (None)."""
    lanes = cpu_reduction.choose_tile(kernel.spatial, kernel.acc_bits, target.tvm).lanes
    return x86_int8_dot.dot_products(target.tvm, kernel, lanes) + [None]
