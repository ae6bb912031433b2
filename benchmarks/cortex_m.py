"""Cortex-M benchmark on the MLPerf Tiny-shaped zoo: every model compiled to an int8 firmware bundle
for cortex-m4 and cortex-m55, with kernels as C (`emit="c"`) and as Thumb objects (`emit="obj"`),
and measured on the emulated core: flash and RAM split (from the manifest), the stack measured while
running, executed instructions per inference and per MAC (`edgekeras.harness.bench`), and
bit-exactness against the integer reference (`edgekeras.harness.verify`).
Writes benchmarks/results/cortex_m.md.

QEMU counts executed instructions; it has no cycle model. The DS-CNN is set against the MLPerf Tiny
v1.0 keyword-spotting latencies on a 120 MHz Cortex-M4 through that lens.
"""

import argparse
import datetime
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "examples"))
sys.path.insert(0, str(HERE))
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import model_zoo as zoo  # noqa: E402
from compile_latency import cpu_name  # noqa: E402
from quantization import CALIB_SAMPLES, calibration_set  # noqa: E402

RESULTS = HERE / "results" / "cortex_m.md"
MODELS = ("digits_cnn", "ds_cnn", "mobilenet_v1_025", "resnet8", "dense_autoencoder")
TARGETS = ("cortex-m4", "cortex-m55")
EMITS = ("c", "obj")
BENCH_RUNS = 4
VERIFY_SAMPLES = 50
TOP_KERNELS = 5
# MLPerf Tiny keyword spotting (DS-CNN) on a 120 MHz Cortex-M4: the TFLM + CMSIS-NN reference
# submission and the fastest published stack, in ms.
MLPERF_CLOCK_HZ = 120e6
MLPERF_KWS_MS = {"TFLM + CMSIS-NN reference": 181.9, "best published stack": 43.2}


def measure(name, target, emit, keras_path, calib, data_path, folder):
    """One row: the bundle's memory figures, its instruction counts and its parity report."""
    from edgekeras.compiler import compile_model
    from edgekeras.harness.bench import bench
    from edgekeras.harness.verify import verify

    start = time.perf_counter()
    result = compile_model(keras_path, target=target, quantize="int8", calib=calib, emit=emit,
                           output_dir=folder / f"{name}-{target}-{emit}")
    compile_s = time.perf_counter() - start
    cost = bench(result.path, runs=BENCH_RUNS)
    parity = verify(keras_path, result.path, data=data_path)
    manifest = result.manifest
    return {"name": name, "target": target, "emit": emit, "compile_s": compile_s, "macs": manifest["macs"],
            "arena_lower_bound": manifest["arena_lower_bound_bytes"], "memory": manifest["memory"],
            "instructions": cost["instructions_per_inference"], "per_mac": cost["instructions_per_mac"],
            "stack_measured": cost["stack_bytes_measured"], "kernels": cost["kernels"],
            "bit_exact": all(o["bit_exact"] for o in parity["outputs"]), "verify_samples": parity["samples"]}


def model_inputs(name, folder, calib_samples):
    """(.keras file written by real Keras, calibration inputs, .npz of held-out verification data)."""
    keras_path, _ = zoo.save_keras_variants(name, folder / "models")
    x, y = zoo.data(name, VERIFY_SAMPLES, seed=1)
    data_path = folder / f"{name}-verify.npz"
    np.savez(data_path, x=x, **({} if y is None else {"y": y}))
    return keras_path, calibration_set(name, calib_samples), data_path


def millions(count):
    return f"{count / 1e6:.2f} M"


def target_table(rows):
    head = ("| model | emit | flash B | kernels / weights / model / runtime B | RAM B | arena B (lower bound) "
            "| static B | stack B bound / measured | MACs | instructions / inference | instructions / MAC "
            "| bit-exact |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        flash, ram = r["memory"]["flash"], r["memory"]["ram"]
        lines.append(
            f"| {r['name']} | {r['emit']} | {r['memory']['flash_bytes']} "
            f"| {flash['kernels']} / {flash['weights']} / {flash['model']} / {flash['runtime']} "
            f"| {r['memory']['ram_bytes']} | {ram['arena']} ({r['arena_lower_bound']}) | {ram['static']} "
            f"| {ram['stack']} / {r['stack_measured']} | {r['macs']} | {millions(r['instructions'])} "
            f"| {r['per_mac']:.2f} | {r['bit_exact']} |")
    return "\n".join(lines)


def target_section(target, rows):
    from edgekeras.targets import get_target

    memory = rows[0]["memory"]
    return (f"## {target}\n\n{get_target(target).description}. Board {memory['board']}: "
            f"flash {memory['flash_budget']} B, RAM {memory['ram_budget']} B.\n\n{target_table(rows)}")


def short_symbol(symbol, width=40):
    return symbol if len(symbol) <= width else symbol[:width] + "…"


def kernel_table(row):
    """The row's most expensive kernels, by instructions per inference."""
    head = "| kernel | layers | MACs | instructions / inference | share | instructions / MAC |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for k in row["kernels"][:TOP_KERNELS]:
        per_mac = "—" if k["instructions_per_mac"] is None else f"{k['instructions_per_mac']:.2f}"
        lines.append(f"| `{short_symbol(k['kernel'])}` | {', '.join(k['layers'])} | {k['macs']} "
                     f"| {millions(k['instructions'])} | {100 * k['instructions'] / row['instructions']:.1f} % "
                     f"| {per_mac} |")
    return "\n".join(lines)


def mlperf_paragraph(rows):
    """DS-CNN on cortex-m4 against the MLPerf Tiny figures, from the measured rows."""
    ds_cnn = [r for r in rows if r["name"] == "ds_cnn" and r["target"] == "cortex-m4"]
    if not ds_cnn:
        return "(DS-CNN on cortex-m4 was not measured in this run.)"
    cycles = {peer: ms * 1e-3 * MLPERF_CLOCK_HZ for peer, ms in MLPERF_KWS_MS.items()}
    peers = " and ".join(f"the {peer} needs {ms} ms ≈ {millions(cycles[peer])} cycles"
                         for peer, ms in MLPERF_KWS_MS.items())
    ours = "; ".join(
        f"`--emit {r['emit']}` {millions(r['instructions'])} instructions ({r['per_mac']:.2f} per MAC): "
        + ", ".join(f"{r['instructions'] / c:.2f}x the {peer}" for peer, c in cycles.items())
        for r in ds_cnn)
    best = min(ds_cnn, key=lambda r: r["instructions"])
    break_even = "; ".join(f"the {peer} only at fewer than {c / best['instructions']:.2f} cycles per instruction"
                           for peer, c in cycles.items() if c > best["instructions"])
    verdict = (f" Measured in cycles, the `--emit {best['emit']}` build would beat {break_even} "
               "(a ratio under 1x is no proof of being faster)." if break_even else "")
    return (
        f"MLPerf Tiny keyword spotting runs this DS-CNN ({best['macs']} MACs) on a 120 MHz Cortex-M4: "
        f"{peers}. One edgekeras inference executes {ours} (our instructions divided by their cycles). "
        "QEMU counts instructions, not cycles: a Cortex-M4 executes roughly one instruction per cycle on "
        "such code, but loads, long-latency multiplies and taken branches can cost more, so cycles >= "
        "instructions is the conservative reading and each ratio is a lower bound on the cycle ratio."
        f"{verdict} Convolutions and dense layers run edgekeras' int8 micro-kernels (SMLAD dual MACs on the "
        "M4, Helium on the M55); the tables below show where the instructions go.")


def stack_check(rows):
    """A note naming the bundles whose measured stack exceeds the manifest's bound (the bound is wrong)."""
    over = [f"{r['name']}/{r['target']}/{r['emit']} {r['stack_measured']} > {r['memory']['ram']['stack']}"
            for r in rows if r["stack_measured"] > r["memory"]["ram"]["stack"]]
    if not over:
        return "- The measured stack stays within the manifest's stack bound in every bundle.\n"
    return (f"- The measured stack exceeds the manifest's stack bound in {len(over)} of {len(rows)} bundles, "
            f"so that bound is not safe there (model/target/emit, measured > bound B): {'; '.join(over)}.\n")


NOTES = """\
- int8, calibrated with min/max on {calib} samples (the zoo's synthetic task inputs, seed 7;
  training digits for digits_cnn), float inputs/outputs. Sources are .keras files written by real
  Keras.
- Flash = kernels + weights (incl. int32 biases and requantization constants) + model (model.c:
  tensor descriptors and the call sequence) + runtime, from `size` on the bundle's objects;
  RAM = arena + static data + stack bound. All from the bundle's manifest.json. The stack bound is
  the deepest call chain (runtime → kernel → hooks; frames from GCC's -fstack-usage or the LLVM
  objects' prologues); the measured stack is the deepest one inference used on the emulated core
  (stack painted before each run). The arena lower bound is the planner's floor: the most bytes of
  tensors alive at one time.
- Instructions: executed instructions per inference counted exactly by a QEMU TCG plugin over
  {runs} inferences of seeded random inputs (mean), divided by the model's MACs. QEMU has no cycle
  model; a Helium (MVE) instruction on cortex-m55 counts as one, however many lanes it works on.
- Bit-exact: `edgekeras.harness.verify.verify` runs {samples} held-out inputs through the firmware
  and the integer reference (NumPy) and compares every output value.
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=TARGETS)
    parser.add_argument("--calib-samples", type=int, default=CALIB_SAMPLES)
    parser.add_argument("--output", default=str(RESULTS))
    args = parser.parse_args()
    if not 1 <= args.calib_samples <= 200:
        parser.error(f"--calib-samples must lie in [1, 200], got {args.calib_samples}.")
    rows = []
    with tempfile.TemporaryDirectory(prefix="edgekeras-cortex-m-") as tmp:
        for name in args.models:
            start = time.perf_counter()
            inputs = model_inputs(name, Path(tmp), args.calib_samples)
            rows += [measure(name, target, emit, *inputs, Path(tmp)) for target in args.targets for emit in EMITS]
            print(f"{name}: done in {time.perf_counter() - start:.1f} s", flush=True)
    sections = "\n\n".join(target_section(t, [r for r in rows if r["target"] == t]) for t in args.targets)
    slowest = [r for r in rows if r["name"] == "ds_cnn" and r["target"] == "cortex-m4"]
    kernels = "\n\n".join(f"`--emit {r['emit']}`:\n\n{kernel_table(r)}" for r in slowest)
    text = (
        "# Cortex-M: int8 firmware size, RAM and instructions per inference (QEMU)\n\n"
        f"Machine: {cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"run {datetime.date.today().isoformat()}; `python benchmarks/cortex_m.py`.\n\n"
        f"{sections}\n\n"
        "## DS-CNN against MLPerf Tiny\n\n"
        f"{mlperf_paragraph(rows)}\n\n"
        + (f"Most expensive kernels of the DS-CNN on cortex-m4:\n\n{kernels}\n\n" if slowest else "")
        + "## Notes\n\n"
        f"{NOTES.format(calib=args.calib_samples, runs=BENCH_RUNS, samples=VERIFY_SAMPLES)}"
        f"{stack_check(rows)}"
    )
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(text)
    print(text)
    broken = [f"{r['name']} on {r['target']} (--emit {r['emit']})" for r in rows if not r["bit_exact"]]
    if broken:
        sys.exit(f"Not bit-exact with the integer reference: {', '.join(broken)}.")


if __name__ == "__main__":
    main()
