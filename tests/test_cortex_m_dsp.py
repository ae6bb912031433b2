"""Cortex-M int8 micro-kernels (runtime_c/include/ek_mcu_kernels.h): bit-exact with the NumPy integer
reference on odd shapes and at the requantization edges, run as the kernels themselves (host C: the
portable path; ARMv7 Thumb-2 under qemu-arm: the SMLAD / SSAT / assembly paths the DSP cores run),
and through firmware bundles: SMLAD in the M4 build, the portable fallback on M3."""

import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import edgekeras as keras
from edgekeras import runtime
from edgekeras.codegen.bundle import build_library
from edgekeras.codegen.schedules import cortex_m
from edgekeras.compiler import compile_model
from edgekeras.harness.bench import bench
from edgekeras.ir import interpreter
from edgekeras.ops.registry import get
from edgekeras.ops.windows import window_geometry
from edgekeras.quantize import arith
from edgekeras.targets import all_targets, get_target

RUNTIME = Path(__file__).resolve().parents[1] / "runtime_c"
DRIVER = RUNTIME / "tests" / "mcu_kernels_driver.c"
HOST_FLAGS = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O1", "-fsanitize=address,undefined",
              "-fno-sanitize-recover=all"]
THUMB2_FLAGS = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-O2", "-static", "-mthumb", "-march=armv7-a",
                "-mfpu=vfpv3-d16"]
CONV, DEPTHWISE = 0, 1

needs_mcu_tools = pytest.mark.skipif(
    any(shutil.which(t) is None for t in ("arm-none-eabi-gcc", "qemu-system-arm", "make")),
    reason="needs arm-none-eabi-gcc, qemu-system-arm and make")


# ---- the kernels on their own ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def drivers(tmp_path_factory):
    """{name: command prefix} of the kernel driver built for the host and, where the tools are, for Thumb-2."""
    folder = tmp_path_factory.mktemp("mcu_kernels")
    built = {}
    subprocess.run(["gcc", *HOST_FLAGS, f"-I{RUNTIME / 'include'}", str(DRIVER), "-o", str(folder / "host")],
                   check=True, capture_output=True)
    built["portable C"] = [str(folder / "host")]
    if shutil.which("arm-linux-gnueabihf-gcc") and shutil.which("qemu-arm"):
        subprocess.run(["arm-linux-gnueabihf-gcc", *THUMB2_FLAGS, f"-I{RUNTIME / 'include'}", str(DRIVER), "-o",
                        str(folder / "thumb2")], check=True, capture_output=True)
        built["Thumb-2 DSP"] = ["qemu-arm", str(folder / "thumb2")]
    return built, folder


def run_kernel(drivers, kernel, scalars, x, w, terms, y_shape):
    """y from the micro-kernel `kernel` on every driver (they must agree)."""
    commands, folder = drivers
    blob = np.array([kernel, len(scalars), *scalars, x.nbytes], np.int32).tobytes() + x.tobytes()
    blob += np.array([w.nbytes], np.int32).tobytes() + w.tobytes() + np.array([len(terms[0])], np.int32).tobytes()
    blob += b"".join(np.asarray(t, np.int32).tobytes() for t in terms)
    blob += np.array([int(np.prod(y_shape))], np.int32).tobytes()
    (folder / "in.bin").write_bytes(blob)
    outputs = {}
    for name, command in commands.items():
        subprocess.run([*command, str(folder / "in.bin"), str(folder / "out.bin")], check=True, timeout=60)
        outputs[name] = np.fromfile(folder / "out.bin", np.int8).reshape(y_shape)
    return outputs


def int8_layer(op, x_shape, kernel_shape, seed, **attrs):
    """Random int8 operands of an int8 conv-like op, as the quantizer makes them."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, x_shape, dtype=np.int8)
    kernel = rng.integers(-127, 128, kernel_shape, dtype=np.int8)
    channels = kernel_shape[-1] * (kernel_shape[-2] if op == "qdepthwise_conv" else 1)
    bias = rng.integers(-5000, 5000, channels).astype(np.int32)
    multiplier, shift = arith.quantize_multipliers(rng.uniform(2e-4, 4e-3, channels))
    quant = {"input_zero_point": int(rng.integers(-20, 20)), "output_zero_point": int(rng.integers(-10, 10)),
             "act_min": -128, "act_max": 127}
    return x, kernel, bias, multiplier, shift, {**quant, **attrs}


def kernel_operands(op, x, kernel, bias, multiplier, shift, attrs):
    """The padded input and the constants the compiled kernel gets (the op's own compile-time prepare)."""
    _, kernel, folded, multiplier, *terms = get(op).extras["relax_prepare"]([None, kernel, bias, multiplier, shift],
                                                                             attrs)
    window = kernel.shape[:-2]
    _, _, pairs, _ = window_geometry("conv", x.shape, window, attrs.get("strides", 1), attrs.get("padding", "valid"),
                                     attrs.get("dilation", 1))
    padded = np.pad(x, ((0, 0), *pairs, (0, 0)), constant_values=attrs["input_zero_point"])
    return padded, kernel, [folded, multiplier, *terms]


CONV_CASES = {  # name: (x shape, kernel shape, window attrs)
    "stem 10x4 stride 2, one channel": ((1, 21, 10, 1), (10, 4, 1, 8), {"strides": 2, "padding": "same"}),
    "3x3 stride 2 same, 5 -> 7 channels": ((2, 9, 7, 5), (3, 3, 5, 7), {"strides": 2, "padding": "same"}),
    "pointwise 6 -> 9 channels, 15 pixels": ((1, 3, 5, 6), (1, 1, 6, 9), {}),
    "3x3 dilation 2 (one run per tap)": ((1, 8, 8, 4), (3, 3, 4, 6), {"dilation": 2}),
    "one output pixel (dense) 13 -> 7": ((1, 1, 1, 13), (1, 1, 13, 7), {}),
}


@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_conv_micro_kernel_is_bit_exact(drivers, case):
    x_shape, k_shape, window = CONV_CASES[case]
    x, kernel, bias, multiplier, shift, attrs = int8_layer("qconv", x_shape, k_shape, seed=len(case), **window)
    attrs["act_min"] = attrs["output_zero_point"]  # a fused ReLU
    want = get("qconv").numpy(x, kernel, bias, multiplier, shift, **attrs)
    padded, kernel, terms = kernel_operands("qconv", x, kernel, bias, multiplier, shift, attrs)
    strides, dilation, _, _ = window_geometry("conv", padded.shape, k_shape[:2], attrs.get("strides", 1), "valid",
                                              attrs.get("dilation", 1))
    scalars = [*padded.shape, *want.shape[1:], *k_shape[:2], *strides, *dilation, attrs["output_zero_point"],
               attrs["act_min"], attrs["act_max"]]
    for path, got in run_kernel(drivers, CONV, scalars, padded, kernel, terms, want.shape).items():
        assert np.array_equal(got, want), f"{path}: {int(np.sum(got != want))} of {want.size} differ"


DEPTHWISE_CASES = {  # name: (x shape, kernel shape (window, channels, multiplier), window attrs)
    "3x3 same, 7 channels (one block of four and three more)": ((1, 5, 4, 7), (3, 3, 7, 1), {"padding": "same"}),
    "3x3 stride 2, multiplier 2": ((1, 7, 6, 3), (3, 3, 3, 2), {"strides": 2}),
    "5x5 (odd taps) same, 8 channels, batch 2": ((2, 6, 6, 8), (5, 5, 8, 1), {"padding": "same"}),
}


@pytest.mark.parametrize("case", sorted(DEPTHWISE_CASES))
def test_depthwise_micro_kernel_is_bit_exact(drivers, case):
    x_shape, k_shape, window = DEPTHWISE_CASES[case]
    x, kernel, bias, multiplier, shift, attrs = int8_layer("qdepthwise_conv", x_shape, k_shape, seed=len(case),
                                                           **window)
    want = get("qdepthwise_conv").numpy(x, kernel, bias, multiplier, shift, **attrs)
    view = kernel.reshape(k_shape[:2] + (1, k_shape[2] * k_shape[3]))  # the kernel layout the compiler passes
    padded, view, terms = kernel_operands("qdepthwise_conv", x, view, bias, multiplier, shift, attrs)
    strides, dilation, _, _ = window_geometry("conv", padded.shape, k_shape[:2], attrs.get("strides", 1), "valid", 1)
    scalars = [*padded.shape, *want.shape[1:3], k_shape[3], *k_shape[:2], *strides, *dilation,
               attrs["output_zero_point"], attrs["act_min"], attrs["act_max"]]
    for path, got in run_kernel(drivers, DEPTHWISE, scalars, padded, view, terms, want.shape).items():
        assert np.array_equal(got, want), f"{path}: {int(np.sum(got != want))} of {want.size} differ"


def test_requantization_matches_the_reference_at_its_edges(drivers):
    """Every accumulator edge against multipliers on both requantization paths: the short one (right
    shift >= 1) and the general one (a left shift, or none at all: real multipliers >= 0.5)."""
    accumulators = [-2**31, -2**31 + 1, -2**30 - 7, -65536, -1000, -129, -2, -1, 0, 1, 2, 127, 128, 1000,
                    2**20 + 3, 2**30, 2**31 - 2, 2**31 - 1]
    reals = [0.0, 2.0**-31, 1e-6, 0.0123, 0.25, 0.4999, 0.5, 0.75, 1.0, 3.7, 1000.0]
    acc = np.repeat(np.array(accumulators, np.int64), len(reals)).astype(np.int32)
    multiplier, shift = arith.quantize_multipliers(np.tile(reals, len(accumulators)))
    terms = [acc, multiplier, *arith.shift_terms(shift)]  # input zero: each channel's output is its bias, requantized
    channels, zero_point = len(acc), -3
    for lo, hi in ((-128, 127), (zero_point, 100)):
        want = arith.requantize_accumulator(acc, multiplier, shift, zero_point, lo, hi).reshape(1, 1, 1, channels)
        scalars = [1, 1, 1, 4, 1, 1, channels, 1, 1, 1, 1, 1, 1, zero_point, lo, hi]
        x, w = np.zeros(4, np.int8), np.ones((4, channels), np.int8)
        for path, got in run_kernel(drivers, CONV, scalars, x, w, terms, want.shape).items():
            assert np.array_equal(got, want), f"{path}, clamp [{lo}, {hi}]: {int(np.sum(got != want))} differ"


def test_both_kernel_paths_were_checked(drivers):
    """The Thumb-2 driver is what covers the DSP path; without its tools only portable C is checked."""
    if shutil.which("arm-linux-gnueabihf-gcc") is None or shutil.which("qemu-arm") is None:
        pytest.skip("needs gcc-arm-linux-gnueabihf and qemu-user for the Thumb-2 (DSP) path")
    assert set(drivers[0]) == {"portable C", "Thumb-2 DSP"}


# ---- the kernels in firmware bundles --------------------------------------------------------------
def odd_model():
    """Odd channel counts, stride 2 with same padding, a depthwise multiplier, a 1x1 conv, dense."""
    L = keras.layers
    inputs = keras.Input((9, 7, 5))
    x = L.Conv2D(7, 3, strides=2, padding="same", activation="relu")(inputs)
    x = L.DepthwiseConv2D(3, padding="same")(x)
    x = L.DepthwiseConv2D(3, depth_multiplier=2)(x)
    x = L.Conv2D(3, 1)(x)
    return keras.Model(inputs, L.Dense(5)(L.Flatten()(x)), name="odd")


@pytest.fixture(scope="module")
def odd(tmp_path_factory):
    rng = np.random.default_rng(4)
    return odd_model(), rng.normal(size=(24, 9, 7, 5)).astype(np.float32), tmp_path_factory.mktemp("odd")


def compiled_odd(odd, core, emit):
    model, calib, folder = odd
    result = compile_model(model, core, folder / f"{core}-{emit}", calib=calib, emit=emit)
    x = np.random.default_rng(9).normal(size=(6, 9, 7, 5)).astype(np.float32)
    artifact = runtime.load(result.path)
    got = artifact.predict(x)
    want = interpreter.run(result.graph, [x])[result.graph.outputs[0].name]
    assert np.array_equal(got, want), f"{int(np.sum(got != want))} of {got.size} outputs differ"
    assert 0 < artifact.last_run.stack_bytes <= result.manifest["memory"]["ram"]["stack"]
    return result


def disassembly(bundle, *options):
    build = build_library(bundle)
    objects = [str(p) for p in sorted(build.glob("kernels*.o"))] + [str(p) for p in bundle.glob("kernels.o")]
    return subprocess.run(["arm-none-eabi-objdump", "-d", *options, *objects], capture_output=True, text=True,
                          check=True).stdout


@needs_mcu_tools
def test_m4_kernels_call_the_dsp_micro_kernels(odd):
    result = compiled_odd(odd, "cortex-m4", "c")
    source = (result.path / "kernels.c").read_text()
    for name in ("ek_mcu_conv_s8", "ek_mcu_depthwise_s8", "ek_mcu_pad_s8"):
        assert f"return {name}(" in source  # the per-layer wrappers
    code = disassembly(result.path)
    assert "smlad" in code and "sxtb16" in code


@needs_mcu_tools
def test_m4_thumb_bundle_keeps_micro_kernel_calls_in_c(odd):
    result = compiled_odd(odd, "cortex-m4", "obj")
    assert "kernels_mcu.c" in result.manifest["bundle"]["sources"]
    assert "return ek_mcu_conv_s8(" in (result.path / "kernels_mcu.c").read_text()
    assert "smlad" in disassembly(result.path)
    cost = bench(result.path, runs=1)  # each conv kernel's row holds its micro-kernel's instructions
    assert sum(row["instructions"] for row in cost["kernels"]) > 0.8 * cost["instructions_per_inference"]


@needs_mcu_tools
def test_m3_takes_the_portable_fallback(odd):
    result = compiled_odd(odd, "cortex-m3", "c")
    assert "ek_mcu_conv_s8(" in (result.path / "kernels.c").read_text()
    code = disassembly(result.path)
    assert "smlad" not in code and "sxtb16" not in code  # ARMv7-M without the DSP extension


@needs_mcu_tools
def test_m55_kernels_use_helium_dot_products(odd):
    result = compiled_odd(odd, "cortex-m55", "c")
    code = disassembly(result.path, "-m", "armv8.1-m.main")
    assert "vmlava.s8" in code and "vqrdmulh.s32" in code  # VMLADAVA dot products, vector requantization


def test_targets_name_the_instruction_set_of_their_int8_kernels():
    kinds = {t.name: cortex_m.int8_kernels(t) for t in all_targets() if t.is_mcu}
    assert kinds == {"cortex-m0plus": "c", "cortex-m3": "c", "cortex-m4": "dsp", "cortex-m7": "dsp",
                     "cortex-m33": "dsp", "cortex-m55": "mve"}
    assert all(cortex_m.int8_kernels(t) is None for t in all_targets() if not t.is_mcu)
    bad = replace(get_target("cortex-m4"), extra={"int8_kernels": "neon"})
    with pytest.raises(ValueError, match="int8_kernels = 'neon'; choose one of dsp, mve, c"):
        cortex_m.int8_kernels(bad)
