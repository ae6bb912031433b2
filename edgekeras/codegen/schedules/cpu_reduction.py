"""Register-blocked schedule for a reduction kernel on a CPU: the output's contiguous (channel) axis
is split into SIMD vectors, and a small tile of output pixels x channel vectors is accumulated in
registers with the reduction loops (kh, kw, ci) outside the tile. The accumulator is a tile-sized
buffer (TVM allocates it on the stack, LLVM keeps it in registers) and the epilogue (bias,
activation, requantization) runs on the tile right after it is complete, so no intermediate goes
to memory and the kernel needs no workspace. Conv2d, depthwise conv2d, dense and pooling share the
schedule: they differ only in what the reduction reads, which it does not touch."""

from dataclasses import dataclass

from edgekeras.codegen.schedules import cpu_vector

ACC_SPARE_REGISTERS = 4  # kept free for the weight vectors and the broadcast input of one step
MAX_PIXELS = 8
MAX_CHANNEL_VECTORS_WITH_PIXELS = 2


@dataclass(frozen=True)
class Tile:
    lanes: int  # channels per SIMD vector
    vectors: int  # channel vectors per tile
    pixels: int  # outputs along the second-innermost axis per tile


@dataclass(frozen=True)
class DotProduct:
    """A tensor intrinsic that updates one channel vector of accumulators over `steps` innermost
    reduction steps."""
    intrinsic: str
    steps: int


def largest_divisor(n, at_most):
    """Tiles divide their loop exactly: no remainder loop, no bounds checks in the register tile."""
    return max(d for d in range(1, max(1, min(n, at_most)) + 1) if n % d == 0)


def choose_tile(spatial, acc_bits, tvm_target):
    """Channel vectors of the target's width; with pixels to tile, two vectors (weights reused by
    every pixel) and as many pixels as the spare registers hold; without (dense), more vectors."""
    channels = spatial[-1]
    width = spatial[-2] if len(spatial) > 1 else 1
    lanes = min(cpu_vector.lanes(tvm_target, acc_bits), channels & -channels)  # a power of two dividing them
    budget = cpu_vector.vector_registers(tvm_target) - ACC_SPARE_REGISTERS
    vectors = largest_divisor(channels // lanes, MAX_CHANNEL_VECTORS_WITH_PIXELS if width > 1 else budget)
    pixels = largest_divisor(width, min(MAX_PIXELS, budget // vectors))
    return Tile(lanes, vectors, pixels)


def schedule(sch, kernel, tvm_target, threads, dot=None):
    """Apply the register tile to `kernel` (a `reduction_block.ReductionKernel`) in `sch`. With a
    `DotProduct`, the tile's multiply-accumulate is that intrinsic instead of a vectorized loop."""
    tile = choose_tile(kernel.spatial, kernel.acc_bits, tvm_target)
    block = kernel.block
    loops = sch.get_loops(block)
    n_spatial = len(kernel.spatial)
    spatial, reduce = loops[:n_spatial], list(loops[n_spatial:])
    c_outer, c_vectors, c_lanes = sch.split(spatial[-1], [None, tile.vectors, tile.lanes])
    if n_spatial > 1:
        w_outer, w_inner = sch.split(spatial[-2], [None, tile.pixels])
        outer, register_tile = list(spatial[:-2]) + [w_outer], [w_inner]
    else:
        outer, register_tile = [], []
    dot_steps = []  # the innermost reduction steps the intrinsic consumes, inside the channel lanes
    if dot is not None:
        reduce[-1], step = sch.split(reduce[-1], [None, dot.steps])
        dot_steps = [step]
    sch.reorder(*outer, c_outer, *reduce, *register_tile, c_vectors, c_lanes, *dot_steps)
    epilogue = kernel.epilogue
    if epilogue is None:
        epilogue = sch.cache_write(block, 0, "global")
    if threads > 1 and outer:
        sch.parallel(sch.fuse(*outer) if len(outer) > 1 else outer[0])
    sch.reverse_compute_at(epilogue, c_outer)
    if dot is None:
        _vectorize_tile(sch, [*register_tile, c_vectors, c_lanes])
    init = sch.decompose_reduction(block, reduce[0])
    _vectorize_tile(sch, sch.get_loops(init)[-(len(register_tile) + 2):])
    if dot is not None:
        for loop in (*register_tile, c_vectors):
            sch.unroll(loop)
        sch.tensorize(c_lanes, dot.intrinsic)
    tail = _loops_below(sch, epilogue, c_outer)
    if tail:
        inner, lanes = sch.split(tail[-1], [None, tile.lanes])
        _vectorize_tile(sch, list(tail[:-1]) + [inner, lanes])
    return tile


def _loops_below(sch, block, loop):
    loops = sch.get_loops(block)
    index = next(i for i, candidate in enumerate(loops) if sch.get(candidate).same_as(sch.get(loop)))
    return loops[index + 1:]


def _vectorize_tile(sch, loops):
    """Innermost loop becomes one SIMD instruction, the others are unrolled into registers."""
    for loop in loops[:-1]:
        sch.unroll(loop)
    sch.vectorize(loops[-1])
