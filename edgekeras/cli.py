"""The `edgekeras` command line: compile | verify | bench | inspect | targets.

Every error is one clear line on stderr with exit code 2, never a traceback; `verify` exits 1 when
the artifact does not match its model. `--json` prints exactly one JSON object on stdout.
"""

import argparse
import contextlib
import json
import os
import shutil
import sys
from pathlib import Path

from edgekeras import __version__

MANIFEST = "manifest.json"


# ---- compile -------------------------------------------------------------------------------------
def _compile(args):
    from edgekeras.compiler import compile_model

    dump = (lambda phase, text: print(f"// ---- IR after phase '{phase}' ----\n{text}")) if args.dump_ir else None
    result = compile_model(args.model, target=args.target, output_dir=args.output, dump_ir=dump,
                           stop_after=args.stop_after, quantize=args.quantize, calib=args.calib,
                           calib_samples=args.calib_samples, io=args.io, observer=args.observer,
                           observers=dict(_observer_override(o) for o in args.observe), keep_float=args.keep_float,
                           emit=args.emit, flash_budget=_bytes(args.flash_budget), ram_budget=_bytes(args.ram_budget),
                           threads=args.threads, tune=args.tune, tuning_records=args.tuning_records)
    if result.path is None:
        if not args.dump_ir:
            print(result.graph)
        print(f"Stopped after phase '{args.stop_after}': no artifact written.")
        return 0
    m = result.manifest
    print(result.path)
    print(f"  target {m['target']}: {len(m['ops'])} kernels, {sum(op['macs'] for op in m['ops']):,} MACs")
    print(f"  arena {m['arena_bytes']:,} B (lower bound {m['arena_lower_bound_bytes']:,} B), "
          f"weights {m['weight_bytes']:,} B")
    if "memory" in m:
        _print_memory(m["memory"], m["bundle"]["emit"])
    if "device_code" in m:
        code = m["device_code"]
        built = f"{code['format']} by {code['compiler']} ({', '.join(a for a in code['sass'] + [code['ptx']] if a)})" \
            if code["format"] == "fatbin" else f"{code['format']}: {code['note']}"
        print(f"  {m['precision']} for {m['arch']}; device code {built}")
    if "quantize" in m:
        q = m["quantize"]
        print(f"  int8 ({q['scheme']}, io {q['io']}): {q['calib_samples']} calibration samples, observer "
              f"{q['observer']}" + (f", {q['qat_ranges']} ranges from QAT" if q["qat_ranges"] else ""))
        if q["layers"]:
            worst = q["layers"][0]
            print(f"  worst layer on calibration data: {worst['layer']} ({worst['op']}), SNR "
                  f"{_db(worst['snr_db'])}, cosine {worst['cosine']:.4f}  (details: edgekeras inspect {result.path})")
    return 0


def _bytes(text):
    from edgekeras.codegen.mcu_memory import parse_bytes

    return None if text is None else parse_bytes(text)


def _print_memory(memory, emit):
    flash, ram = memory["flash"], memory["ram"]
    print(f"  bundle (--emit {emit}) for {memory['board']}:")
    print(f"    flash {memory['flash_bytes']:,} of {memory['flash_budget']:,} B "
          f"({100 * memory['flash_bytes'] / memory['flash_budget']:.1f} %): "
          + ", ".join(f"{part} {size:,}" for part, size in flash.items()))
    print(f"    RAM   {memory['ram_bytes']:,} of {memory['ram_budget']:,} B "
          f"({100 * memory['ram_bytes'] / memory['ram_budget']:.1f} %): "
          + ", ".join(f"{part} {size:,}" for part, size in ram.items()))


def _observer_override(text):
    """'NAME=OBSERVER' from --observe."""
    name, sep, spec = text.partition("=")
    if not sep or not name or not spec:
        raise ValueError(f"--observe takes TENSOR_OR_LAYER=OBSERVER, got {text!r}.")
    return name, spec


def _db(value):
    return "exact" if value is None else f"{value:.1f} dB"


# ---- verify --------------------------------------------------------------------------------------
def _verify_atol(args):
    from edgekeras.harness.verify import default_atol

    return default_atol(json.loads((Path(args.artifact) / MANIFEST).read_text())) if args.atol is None else args.atol


def _verify(args):
    from edgekeras.harness.verify import verify

    with _stdout_to_stderr() if args.json else contextlib.nullcontext():
        report = verify(args.model, args.artifact, data=args.data, reference=args.reference,
                        per_layer=args.per_layer, atol=args.atol, min_agreement=args.min_agreement)
    if args.json:
        print(json.dumps(report))
    else:
        _print_verify(report, _verify_atol(args))
    return 0 if report["passed"] else 1


def _print_verify(report, atol):
    print(f"{report['artifact']} ({report['target']}) vs {report['model']} ({report['reference']}), "
          f"{report['samples']} samples, atol {atol:g}")
    columns = {"max_abs_error": "max abs err", "rmse": "rmse", "rel_l2": "rel L2", "cosine": "cosine",
               "top1_agreement": "top-1 agree", "accuracy_reference": "acc (ref)", "accuracy_artifact": "acc (art)"}
    print(f"  {'output':<24}" + "".join(f"{title:>12}" for title in columns.values()) + "  result")
    for out in report["outputs"]:
        cells = "".join(f"{out[c]:>12.4g}" if c in out else f"{'-':>12}" for c in columns)
        print(f"  {out['name']:<24}{cells}  {'ok' if out['passed'] else 'FAIL'}")
        if "bit_exact" in out:
            print(f"  {'':<24}int8 vs integer reference: " + ("bit-exact" if out["bit_exact"] else
                  f"{out['integer_reference_mismatches']} values differ"))
    if "stack_bytes_measured" in report:
        print(f"  firmware ran on the emulated core; deepest stack of one inference: {report['stack_bytes_measured']:,} B")
    if "quantization" in report:
        _print_quantization(report["quantization"])
    if "per_layer" in report:
        layers = report["per_layer"]
        print(f"  per layer ({len(layers['layers'])} values):")
        for row in layers["layers"]:
            print(f"    {row['layer'] or '-':<32} {row['op']:<16} {row['value']:<28} max_abs_error "
                  f"{row['max_abs_error']:.3g}{'' if row['passed'] else '  FAIL'}")
        first = layers["first_failing_layer"]
        print(f"  first layer over atol: {first}" if first else "  every layer within atol")
    print("PASSED" if report["passed"] else "FAILED")


def _print_quantization(rows):
    from edgekeras.quantize.report import format_rows

    print("  per-layer quantization error (float model vs int8 integer reference), worst first:")
    print("    " + format_rows(rows).replace("\n", "\n    "))


@contextlib.contextmanager
def _stdout_to_stderr():
    """Keep stdout for the one JSON object: anything libraries print (Python or C) goes to stderr."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:
        saved = None
    try:
        if saved is not None:
            os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        if saved is not None:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


# ---- bench ---------------------------------------------------------------------------------------
def _bench(args):
    from edgekeras.harness.bench import bench

    with _stdout_to_stderr() if args.json else contextlib.nullcontext():
        report = bench(args.artifact, runs=args.runs, warmup=args.warmup, threads=args.threads)
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{report['artifact']} ({report['target']}, {report['precision']}): {report['macs']:,} MACs, "
          f"arena {report['arena_bytes']:,} B, weights {report['weight_bytes']:,} B")
    if "memory" in report:
        memory = report["memory"]
        print(f"  flash {memory['flash_bytes']:,} B, RAM {memory['ram_bytes']:,} B on {memory['board']}")
    if "latency_ms" in report:
        lat = report["latency_ms"]
        print(f"  latency over {report['runs']} runs: p50 {lat['p50']:.4f} ms, p90 {lat['p90']:.4f} ms, "
              f"p99 {lat['p99']:.4f} ms; {report['throughput_per_s']:,.0f} inferences/s"
              + (f" ({report['threads']} thread{'s' if report['threads'] > 1 else ''})" if "threads" in report else ""))
    if "instructions_per_inference" in report:
        per_mac = report["instructions_per_mac"]
        print(f"  {report['instructions_per_inference']:,.0f} instructions per inference"
              + (f", {per_mac:.2f} per MAC" if per_mac else "")
              + f" (mean of {report['runs']} runs; {report['note']}); stack {report['stack_bytes_measured']:,} B")
        print(f"  {'kernel':<48} {'MACs':>12} {'instructions':>14} {'per MAC':>8}")
        for row in report["kernels"]:
            ratio = f"{row['instructions_per_mac']:.2f}" if row["instructions_per_mac"] else "-"
            print(f"  {row['kernel'][:48]:<48} {row['macs']:>12,} {row['instructions']:>14,.0f} {ratio:>8}")
    if "note" in report and "latency_ms" not in report and "instructions_per_inference" not in report:
        print(f"  {report['note']}")
    return 0


# ---- inspect -------------------------------------------------------------------------------------
def _inspect(args):
    if Path(args.model).is_dir():
        report, model = _inspect_artifact(Path(args.model)), None
    else:
        report, model = _inspect_model(args.model)
    if args.json:
        print(json.dumps(report, indent=2))
    elif "artifact" in report:
        _print_artifact(report)
    else:
        _print_model(report, model)
    return 0


def _inspect_artifact(folder):
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text())
        ops = manifest["ops"]
        report = {"artifact": str(folder), "target": manifest["target"], "inputs": manifest["inputs"],
                  "outputs": manifest["outputs"], "ops": ops, "macs": sum(op["macs"] for op in ops),
                  "arena_bytes": manifest["arena_bytes"],
                  "arena_lower_bound_bytes": manifest["arena_lower_bound_bytes"],
                  "weight_bytes": manifest["weight_bytes"]}
        for section in ("quantize", "memory", "bundle"):
            if section in manifest:
                report[section] = manifest[section]
    except FileNotFoundError:
        raise ValueError(f"{folder} is a folder without {MANIFEST}: not an edgekeras artifact.") from None
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise ValueError(f"{path} is not a valid edgekeras manifest ({type(err).__name__}: {err}).") from None
    return report


def _print_artifact(report):
    print(f"Artifact {report['artifact']} for target {report['target']}")
    for kind in ("inputs", "outputs"):
        for spec in report[kind]:
            print(f"  {kind[:-1]:<7} {spec['name']:<28} {spec['dtype']}{list(spec['shape'])}")
    print(f"  {'kernel':<32} {'op':<18} {'layer':<32} {'MACs':>14}")
    for op in report["ops"]:
        print(f"  {op['name']:<32} {op['op']:<18} {op['layer'] or '-':<32} {op['macs']:>14,}")
    print(f" Total MACs: {report['macs']:,}")
    print(f" Arena bytes: {report['arena_bytes']:,} (lower bound {report['arena_lower_bound_bytes']:,})")
    print(f" Weight bytes: {report['weight_bytes']:,}")
    if "memory" in report:
        _print_memory(report["memory"], report["bundle"]["emit"])
    if "quantize" in report:
        _print_quantize_section(report["quantize"])


def _print_quantize_section(q):
    print(f" Quantization: {q['scheme']}, io {q['io']}, {q['calib_samples']} calibration samples, observer "
          f"{q['observer']}" + (f", per tensor {q['observers']}" if q["observers"] else "")
          + (f", kept in float: {', '.join(q['keep_float'])}" if q["keep_float"] else ""))
    if q["layers"]:
        _print_quantization(q["layers"])


def _inspect_model(path):
    from edgekeras.frontend import ModelImportError, import_model

    if Path(path).suffix.lower() == ".onnx":
        graph = import_model(path)
        ops = [{"name": n.name, "op": n.op, "macs": _node_macs(n)} for n in graph.nodes]
        return {"model": graph.name, "ops": ops, "ir_ops": len(ops), "macs": sum(o["macs"] for o in ops),
                "weight_bytes": sum(v.type.nbytes for v in graph.constants())}, None
    from edgekeras.frontend import from_keras_model
    from edgekeras.frontend.files import load_keras_file
    from edgekeras.models.summary import layer_macs, weight_bytes

    model = load_keras_file(path)
    rows = [{"name": layer.name, "class_name": type(layer).__name__, "params": layer.count_params(),
             "macs": layer_macs(model, layer)} for layer in model.layers]
    report = {"model": model.name, "layers": rows, "params": model.count_params(),
              "weight_bytes": weight_bytes(model), "macs": sum(r["macs"] for r in rows)}
    try:
        report["ir_ops"] = len(from_keras_model(model).nodes)
    except ModelImportError as err:
        report.update(ir_ops=None, ir_error=str(err))
    return report, model


def _print_model(report, model):
    """Keras's summary for Keras files, the IR op table for ONNX files; then bytes and IR op count."""
    if model is not None:
        model.summary()
    else:
        print(f"Model {report['model']} (ONNX, as edgekeras IR)")
        for op in report["ops"]:
            print(f"  {op['name']:<32} {op['op']:<18} {op['macs']:>14,} MACs")
        print(f" Total MACs: {report['macs']:,}")
    print(f" Weight bytes: {report['weight_bytes']:,}")
    print(f" IR ops: {report['ir_ops']}" if report["ir_ops"] is not None else f" IR ops: none ({report['ir_error']})")


def _node_macs(node):
    from edgekeras.ops.registry import get

    return get(node.op).count_macs([v.type for v in node.inputs], [v.type for v in node.outputs], node.attrs)


# ---- targets -------------------------------------------------------------------------------------
def _targets(args):
    from edgekeras.targets import all_targets

    rows = [_target_row(t) for t in all_targets()]
    if args.json:
        print(json.dumps({"targets": rows}, indent=2))
        return 0
    print(f"{'target':<14} {'aliases':<14} {'kind':<7} {'compiler':<28} {'emulator':<28} description")
    for row in rows:
        cc, emu = row["compiler"], row["emulator"]
        cc_text = f"{cc['command']} ({'ok' if cc['installed'] else 'apt-get install ' + cc['package']})"
        emu_text = ("GPU" if row["kind"] == "cuda" else "native" if emu is None else
                    f"{emu['command']} ({'ok' if emu['installed'] else 'apt-get install ' + emu['package']})")
        print(f"{row['name']:<14} {', '.join(row['aliases']) or '-':<14} {row['kind']:<7} {cc_text:<28} "
              f"{emu_text:<28} {row['description']}")
        if "board" in row:
            board = row["board"]
            print(f"{'':<14} board {board['name']}: flash {board['flash_bytes'] // 1024:,} KB, "
                  f"RAM {board['ram_bytes'] // 1024:,} KB")
        if "nvcc" in row:
            print(f"{'':<14} device code: " + (f"nvcc {row['nvcc']}" if row["nvcc"] else
                                               "no nvcc found: kernels stay CUDA source, compiled at load"))
    return 0


def _target_row(target):
    def tool(command, package):
        return {"command": command, "package": package, "installed": shutil.which(command) is not None}

    row = {"name": target.name, "aliases": list(target.aliases), "description": target.description,
           "kind": target.kind, "compiler": tool(target.cc, target.cc_package),
           "emulator": tool(target.emulator[0], target.emulator_package) if target.emulator else None}
    if target.board is not None:
        row["board"] = {"name": target.board.name, "flash_bytes": target.board.flash_bytes,
                        "ram_bytes": target.board.ram_bytes}
    if target.is_cuda:
        from edgekeras.codegen.cuda_device_code import find_nvcc

        row["nvcc"] = find_nvcc()
    return row


# ---- parser --------------------------------------------------------------------------------------
def _count(low, high):
    """argparse type: an integer in [low, high] (no upper bound when high is None)."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected an integer from {low}" + (f" to {high}" if high else " up")
                                             + f", got {text!r}")
        return value
    return parse


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (not the usage block) and exit code 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser():
    parser = _Parser(prog="edgekeras", description="Keras models to edge targets.")
    parser.add_argument("--version", action="version", version=f"edgekeras {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    cmd = sub.add_parser("compile", help="compile a model to a shared library + C runtime artifact")
    cmd.add_argument("model", help="a .keras, legacy .h5 or .onnx model file")
    cmd.add_argument("--target", required=True, help="target name or alias (see `edgekeras targets`), or a .toml")
    cmd.add_argument("-o", "--output", help="artifact folder (default: chosen by the compiler)")
    cmd.add_argument("--dump-ir", action="store_true", help="print the IR after each phase")
    cmd.add_argument("--stop-after", metavar="PHASE", help="stop after this phase (import, optimize, quantize, ...)")
    cmd.add_argument("--quantize", choices=("int8", "float", "fp16"),
                     help="int8 (TFLite int8 scheme), float, or fp16 (CUDA targets); default float, int8 on "
                          "microcontrollers")
    cmd.add_argument("--calib", metavar="FILE.npz", help="calibration samples: arrays named after the inputs, or one 'x'")
    cmd.add_argument("--calib-samples", type=int, metavar="N", help="use the first N calibration samples")
    cmd.add_argument("--io", choices=("float", "int8"), default="float",
                     help="float inputs/outputs with (de)quantization inside (default), or raw int8 tensors")
    cmd.add_argument("--observer", default="minmax",
                     help="range observer: minmax (default), moving_average[:M], percentile[:P], mse")
    cmd.add_argument("--observe", action="append", default=[], metavar="NAME=OBSERVER",
                     help="another observer for one tensor or layer (repeatable)")
    cmd.add_argument("--keep-float", action="append", default=[], metavar="LAYER",
                     help="leave this layer in float (targets with an FPU; repeatable)")
    cmd.add_argument("--emit", choices=("c", "obj"),
                     help="microcontrollers: kernels as C sources (default) or LLVM-optimized Thumb objects")
    cmd.add_argument("--flash-budget", metavar="BYTES", help="microcontrollers: flash to fit in (e.g. 512K), "
                     "instead of the reference board's")
    cmd.add_argument("--ram-budget", metavar="BYTES", help="microcontrollers: RAM to fit in (e.g. 128K)")
    cmd.add_argument("--threads", type=_count(1, 64), default=1, metavar="N",
                     help="threads the kernels' parallel loops use by default at run time (Linux targets; default 1)")
    cmd.add_argument("--tune", type=_count(0, None), default=0, metavar="N",
                     help="MetaSchedule trials per kernel not yet in the tuning records (host target; default 0)")
    cmd.add_argument("--tuning-records", metavar="PATH",
                     help="tuning records folder, read by every compile (default ~/.cache/edgekeras)")
    cmd.set_defaults(run=_compile)

    cmd = sub.add_parser("verify", help="check an artifact against its model on the same inputs")
    cmd.add_argument("model", help="the model file the artifact was compiled from")
    cmd.add_argument("artifact", help="the artifact folder written by `edgekeras compile`")
    cmd.add_argument("--data", help=".npz with arrays named after the inputs (or one 'x'), optional labels 'y'")
    cmd.add_argument("--reference", default="edgekeras", choices=("edgekeras", "keras", "onnxruntime"))
    cmd.add_argument("--per-layer", action="store_true", help="compare every intermediate value, name the first bad layer")
    cmd.add_argument("--atol", type=float, help="largest absolute error that passes (default 1e-4; 2e-2 for fp16)")
    cmd.add_argument("--min-agreement", type=float, default=None,
                     help="smallest top-1 agreement that passes, for classifier outputs (default 1.0; 0.99 for int8)")
    cmd.add_argument("--json", action="store_true", help="print one JSON object")
    cmd.set_defaults(run=_verify)

    cmd = sub.add_parser("bench", help="cost of one inference: latency (host) or instructions (Cortex-M)")
    cmd.add_argument("artifact", help="the artifact folder written by `edgekeras compile`")
    cmd.add_argument("--runs", type=int, help="timed runs (default 100 on the host, 4 samples on Cortex-M)")
    cmd.add_argument("--warmup", type=int, default=10, help="untimed runs first (host; default 10)")
    cmd.add_argument("--threads", type=_count(1, 64), metavar="N",
                     help="threads for the kernels' parallel loops (host; default: the compile-time --threads)")
    cmd.add_argument("--json", action="store_true", help="print one JSON object")
    cmd.set_defaults(run=_bench)

    cmd = sub.add_parser("inspect", help="layers, MACs and bytes of a model file or an artifact folder")
    cmd.add_argument("model", metavar="MODEL|ARTIFACT", help="a .keras, .h5 or .onnx file, or an artifact folder")
    cmd.add_argument("--json", action="store_true", help="print one JSON object")
    cmd.set_defaults(run=_inspect)

    cmd = sub.add_parser("targets", help="the compilation targets and whether their tools are installed")
    cmd.add_argument("--json", action="store_true", help="print one JSON object")
    cmd.set_defaults(run=_targets)
    return parser


def main(argv=None):
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:
        return exit_.code
    try:
        return args.run(args)
    except (ValueError, OSError, RuntimeError) as err:  # ToolMissingError and TVM errors are RuntimeErrors
        print(f"edgekeras {args.command}: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
