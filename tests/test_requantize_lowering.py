"""The Relax requantization the kernels run equals the NumPy integer reference (TFLite's
MultiplyByQuantizedMultiplier + zero point + clamp) on the extremes: int32 limits, every shift,
left shifts that saturate, per tensor and per channel."""

import numpy as np
import pytest

from edgekeras.quantize import arith


def _run_relax(acc, multiplier, shift, zero_point, per_channel):
    import tvm
    from tvm import relax

    x = relax.Var("x", relax.TensorType(acc.shape, "int32"))
    params, args = [x], [acc]
    if per_channel:
        terms = [multiplier, *arith.shift_terms(shift)]
        consts = [relax.Var(f"t{i}", relax.TensorType(t.shape, "int32")) for i, t in enumerate(terms)]
        params += consts
        args += [np.asarray(t, np.int32) for t in terms]
        mult, shift_arg = consts[0], list(consts[1:])
    else:
        mult, shift_arg = int(multiplier), int(shift)
    bb = relax.BlockBuilder()
    with bb.function("main", params):
        with bb.dataflow():
            out = bb.emit_output(arith.relax_requantize_accumulator(x, mult, shift_arg, zero_point))
        bb.emit_func_output(out)
    executable = tvm.compile(bb.get(), target="llvm")
    vm = relax.VirtualMachine(executable, tvm.cpu())
    return vm["main"](*[tvm.runtime.tensor(a) for a in args]).numpy()


def _accumulators(channels):
    rng = np.random.default_rng(0)
    edges = np.array([-(2**31), -(2**31) + 1, -(2**30), -12345, -1, 0, 1, 12345, 2**30, 2**31 - 1], np.int64)
    values = np.concatenate([edges, rng.integers(-(2**31), 2**31, 246)])
    return np.broadcast_to(values[:, None], (values.size, channels)).astype(np.int32).copy()


@pytest.mark.parametrize("shift", [-31, -20, -9, -1, 0, 1, 5])
def test_per_tensor_matches_the_reference(shift):
    acc = _accumulators(1)
    for multiplier in (2**30, 1518500250, 2**31 - 1):
        expected = arith.requantize_accumulator(acc, multiplier, shift, -5)
        assert np.array_equal(_run_relax(acc, multiplier, shift, -5, per_channel=False), expected)


def test_per_channel_matches_the_reference_across_all_shifts():
    shift = np.array([-31, -30, -17, -8, -2, -1, 0, 1, 3, 7], np.int64)
    multiplier = np.array([2**30, 2**31 - 1, 1518500250, 1073741825, 2**30 + 7, 1999999999, 2**30, 1234567890,
                           2**31 - 2, 1717986918], np.int64)
    acc = _accumulators(shift.size)
    expected = arith.requantize_accumulator(acc, multiplier, shift, 3)
    assert np.array_equal(_run_relax(acc, multiplier.astype(np.int32), shift, 3, per_channel=True), expected)
