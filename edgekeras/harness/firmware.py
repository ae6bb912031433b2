"""Runs a Cortex-M bundle on its emulated board: a test firmware around it, under qemu-system-arm.

The firmware is the bundle's own library (built by its Makefile), `runtime_c/firmware/ek_runner.c`
and the bundle's board files, linked with its linker script (the board's real flash and RAM sizes).
It is built once per bundle content and cached. Samples go in and outputs come back through
semihosting files; the run also reports the deepest stack an inference used and, on request, the
instructions it executed (a TCG plugin: QEMU counts instructions, it has no cycle model).
"""

import hashlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional

import numpy as np

from edgekeras.codegen.bundle import LIBRARY, build_library
from edgekeras.codegen.artifact import BuildError
from edgekeras.harness.emulator import (EmulatorError, batch_size, build_once, cache_dir, one_line, split_outputs,
                                        write_samples)

RUNNER = Path(__file__).resolve().parents[2] / "runtime_c" / "firmware" / "ek_runner.c"
QEMU_FLAGS = ("-nographic", "-monitor", "none", "-serial", "none", "-semihosting-config", "enable=on,target=native")


@dataclass
class FirmwareRun:
    outputs: list
    stack_bytes: int  # deepest stack one inference used, measured on the emulated core
    instructions: Optional[object] = None  # icount.InstructionCounts when counted


def _bundle_digest(bundle, target):
    digest = hashlib.sha256(RUNNER.read_bytes())
    digest.update("\0".join([target.name, target.cc, *target.cflags]).encode())
    for path in sorted(p for p in bundle.rglob("*") if p.is_file() and "build" not in p.relative_to(bundle).parts):
        digest.update(str(path.relative_to(bundle)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _link(target, folder):
    """Compile the runner against the built bundle and link the ELF in `folder`; return its path."""
    command = [target.cc, *target.cflags, "-Wall", "-Wextra", "-Werror", "-I.", "-Iboard", "-nostartfiles",
               "-Wl,--gc-sections", "-T", "board/board.ld", "-o", "firmware.elf", str(RUNNER), "board/ek_startup.c",
               "board/ek_semihost.c", f"build/{LIBRARY}", "-lm"]
    proc = subprocess.run(command, cwd=folder, capture_output=True, text=True, errors="replace")
    if proc.returncode:
        raise BuildError(f"linking the test firmware for {target.board.name} failed: {one_line(proc.stderr)}")
    return folder / "firmware.elf"


def build_firmware(bundle, target):
    """The test firmware ELF for the bundle folder `bundle`, from the cache when already built."""
    bundle = Path(bundle)
    target.require_tools()
    path = cache_dir().parent / "firmware" / f"{target.name}-{_bundle_digest(bundle, target)}.elf"

    def build(partial):
        with tempfile.TemporaryDirectory(prefix="edgekeras-firmware-") as scratch:
            folder = Path(scratch) / "bundle"
            shutil.copytree(bundle, folder, ignore=shutil.ignore_patterns("build"))
            build_library(folder)
            shutil.copy(_link(target, folder), partial)

    return build_once(path, build)


def _kernel_ranges(table, kernel_symbols):
    """{short range name: (start, size)} of each kernel's functions in the ELF symbol table (its packed
    entry point and, for LLVM objects, the `_compute_` body it calls), and {short name: kernel}."""
    ranges, kernel_of = {}, {}
    for i, name in enumerate(dict.fromkeys(kernel_symbols)):
        for part, symbol in enumerate((f"__tvm_ffi_{name}", f"{name}_compute_")):
            if symbol in table:
                ranges[f"k{i}.{part}"], kernel_of[f"k{i}.{part}"] = table[symbol], name
    return ranges, kernel_of


def _per_kernel(counts, kernel_of):
    totals = {}
    for short, n in counts.ranges.items():
        totals[kernel_of[short]] = totals.get(kernel_of[short], 0) + n
    return replace(counts, ranges=totals)


def run_firmware(target, elf, inputs, output_specs, kernel_symbols=(), count_instructions=False, timeout_s=600):
    """Runs every sample of `inputs` (one batched array per model input) through the firmware; returns
    a FirmwareRun with one (N, *shape) array per (shape, dtype) in `output_specs`."""
    arrays = [np.ascontiguousarray(a) for a in inputs]
    n = batch_size(arrays)
    command = [*target.emulator, *QEMU_FLAGS, "-kernel", str(elf)]
    with tempfile.TemporaryDirectory(prefix="edgekeras-qemu-") as tmp:
        tmp = Path(tmp)
        write_samples(tmp / "in.bin", arrays, n)
        if count_instructions:
            from edgekeras.harness import icount

            table = icount.symbols(elf)
            ranges, kernel_of = _kernel_ranges(table, kernel_symbols)
            icount.write_ranges(tmp / "ranges.txt", ranges)
            command += icount.plugin_args(icount.build_plugin(), tmp / "counts.txt", begin=table["ek_measure_begin"][0],
                                          end=table["ek_measure_end"][0], ranges_path=tmp / "ranges.txt")
        try:
            proc = subprocess.run(command, cwd=tmp, capture_output=True, text=True, errors="replace", timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise EmulatorError(f"The {target.name} firmware ran longer than {timeout_s} s under QEMU.") from None
        if proc.returncode != 0:
            detail = one_line(proc.stdout + "\n" + proc.stderr) or f"exit status {proc.returncode}"
            raise EmulatorError(f"Running the {target.name} firmware under QEMU failed (status {proc.returncode}): "
                                f"{detail}")
        outputs = split_outputs(np.fromfile(tmp / "out.bin", np.uint8), n, output_specs)
        stack = int((tmp / "stats.txt").read_text().split()[1])
        counts = None
        if count_instructions:
            counts = _per_kernel(icount.read_counts(tmp / "counts.txt"), kernel_of)
    return FirmwareRun(outputs, stack, counts)
