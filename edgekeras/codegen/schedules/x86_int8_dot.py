"""int8 multiply-accumulate on AVX2 with `vpmaddwd`: two reduction steps for eight output channels
in one instruction (16 exact int16 products summed pairwise into int32), where the plain vectorized
loop needs two `vpmulld` + two `vpaddd` for the same work. The operands are widened to int16 first,
so every int8 value (-128 included) stays exact: the result is bit-identical to the int32 loop.

The unit is `C[c] += int32(A[k]) * int32(B[k, c])` for k < 2, c < 8: A two consecutive input
channels (contiguous in NHWC), B two rows of HWIO weights (any row stride), C eight accumulators.
(An 8-step unit that widens eight inputs with one load measured no faster: not worth its code.)
"""

LANES = 8
STEPS = 2
NAME = f"edgekeras_avx2_int8_dot_{LANES}x{STEPS}"


def _products(A, B):
    """vpmaddwd((A[0], A[1]) repeated, (B[0, c], B[1, c]) for each c), operands widened to int16.
    The input pair is repeated as int8 before widening: LLVM makes that one vpbroadcastw from
    memory + one vpmovsxbw (widening first, then broadcasting, took four instructions)."""
    from tvm.script import tirx as T

    pair = A.vload([T.int64(0)], "int8x2")
    inputs = T.Cast(f"int16x{2 * LANES}", T.Shuffle([pair] * LANES, list(range(2 * LANES))))
    rows = [T.Cast(f"int16x{LANES}", B.vload([T.int64(r), T.int64(0)], f"int8x{LANES}")) for r in (0, 1)]
    interleaved = T.Shuffle(rows, [i // 2 + LANES * (i % 2) for i in range(2 * LANES)])
    return T.call_llvm_pure_intrin(T.llvm_lookup_intrinsic_id("llvm.x86.avx2.pmadd.wd"), inputs, interleaved,
                                   dtype=f"int32x{LANES}")


def _functions():
    """(description, implementation) of the unit, as TVM's tensorize matches and replaces it."""
    from tvm.script import tirx as T

    steps = STEPS

    @T.prim_func(s_tir=True)
    def desc(a: T.handle, b: T.handle, c: T.handle):
        row = T.int64()
        A = T.match_buffer(a, (T.int64(steps),), "int8", offset_factor=1)
        B = T.match_buffer(b, (T.int64(steps), T.int64(LANES)), "int8", strides=(row, T.int64(1)), offset_factor=1)
        C = T.match_buffer(c, (T.int64(LANES),), "int32", offset_factor=1)
        with T.sblock("root"):
            T.reads(C[0:LANES], A[0:steps], B[0:steps, 0:LANES])
            T.writes(C[0:LANES])
            for i, k in T.grid(T.int64(LANES), T.int64(steps)):
                with T.sblock("update"):
                    vi, vk = T.axis.remap("SR", [i, k])
                    C[vi] = C[vi] + T.Cast("int32", A[vk]) * T.Cast("int32", B[vk, vi])

    @T.prim_func(s_tir=True)
    def impl(a: T.handle, b: T.handle, c: T.handle):
        row = T.int64()
        A = T.match_buffer(a, (T.int64(steps),), "int8", offset_factor=1)
        B = T.match_buffer(b, (T.int64(steps), T.int64(LANES)), "int8", strides=(row, T.int64(1)), offset_factor=1)
        C = T.match_buffer(c, (T.int64(LANES),), "int32", offset_factor=1)
        with T.sblock("root"):
            T.reads(C[0:LANES], A[0:steps], B[0:steps, 0:LANES])
            T.writes(C[0:LANES])
            C[T.ramp(T.int64(0), T.int64(1), LANES)] = C[T.ramp(T.int64(0), T.int64(1), LANES)] + _products(A, B)

    return desc, impl


def _dot_product():
    """The intrinsic for `cpu_reduction.schedule` (registered with TVM on first use)."""
    from tvm.s_tir import TensorIntrin

    from edgekeras.codegen.schedules.cpu_reduction import DotProduct

    if TensorIntrin.get(NAME, allow_missing=True) is None:
        TensorIntrin.register(NAME, *_functions())
    return DotProduct(NAME, STEPS)


def dot_products(tvm_target, kernel, lanes):
    """The unit where it fits (else none): AVX2 (256-bit) x86 targets; int8 operands into an int32
    accumulator tiled in 8-lane vectors; an even innermost reduction (input channels)."""
    from edgekeras.codegen.schedules import cpu_vector

    is_x86 = str(tvm_target.get("mtriple", "")).startswith("x86_64")
    int8_mac = kernel.acc_dtype == "int32" and kernel.operand_dtypes == ("int8", "int8")
    if not (is_x86 and cpu_vector.vector_bits(tvm_target) == 256 and int8_mac and lanes == LANES):
        return []
    return [_dot_product()] if kernel.reduce[-1] % STEPS == 0 else []
