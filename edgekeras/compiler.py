"""`edgekeras compile` as a function: import → optimize → quantize → lower → emit.

The graph phases live in `edgekeras.passes.pipeline`; `quantize` (only with `quantize="int8"`)
turns the float graph into an int8 one (`edgekeras.quantize.phase`); `lower` turns the graph into
TIR kernels and a memory plan (`edgekeras.codegen.build`), `emit` writes the artifact folder.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from edgekeras.codegen.artifact import BuildError, write_artifact
from edgekeras.codegen.build import build_model
from edgekeras.codegen.bundle import write_bundle
from edgekeras.codegen.relax_kernels import LoweringError
from edgekeras.codegen.schedules import ScheduleOptions
from edgekeras.targets import get_target


class CompileError(ValueError):
    pass


@dataclass
class CompileResult:
    path: Optional[Path]
    manifest: Optional[dict]
    graph: object
    compiled: object = None


def _version():
    from edgekeras import __version__

    return __version__


def format_plan(compiled):
    """Text of the `lower` phase: kernels per node and where each tensor sits in the arena."""
    lines = [f"lowered {compiled.name} for {compiled.target.name}: {len(compiled.kernels.funcs)} kernels, "
             f"arena {compiled.arena_bytes} B (lower bound {compiled.lower_bound_bytes} B), "
             f"weights {len(compiled.weights)} B"]
    for call in compiled.calls:
        args = ", ".join(f"{compiled.tensors[i].key}@{'w' if compiled.tensors[i].in_weights else 'a'}"
                         f"{compiled.tensors[i].offset}" for i in call.args)
        workspace = f" workspace {call.workspace_bytes} B @a{call.workspace_offset}" if call.workspace_bytes else ""
        lines.append(f"  {call.symbol}({args}){workspace}   # {call.node}")
    return "\n".join(lines)


def _expose_intermediates(graph):
    """Every node output becomes a graph output too (after the real ones), for per-layer checks."""
    seen = {id(v) for v in graph.outputs}
    for node in graph.nodes:
        for value in node.outputs:
            if id(value) not in seen:
                graph.outputs.append(value)
                seen.add(id(value))


def _precision(quantize, target, graph, calib):
    """"int8", "float" or "fp16" (CUDA): what the user asked for, else the target's default (int8 on
    microcontrollers, float elsewhere)."""
    if quantize not in (None, "int8", "float", "fp16"):
        raise CompileError(f"Unknown quantization {quantize!r}; supported: int8, float, fp16 (CUDA targets).")
    if target.is_cuda:
        if quantize == "int8":
            raise CompileError(f"Target '{target.name}' (CUDA) builds float and fp16 models; int8 is not supported "
                               "on CUDA targets: use --quantize fp16 or float.")
        return quantize or "float"
    if quantize == "fp16":
        raise CompileError(f"fp16 is built for CUDA targets only; '{target.name}' takes int8 or float.")
    if not target.is_mcu:
        return quantize or "float"
    has_fpu = target.extra.get("fpu", True)
    if quantize == "float" and not has_fpu:
        raise CompileError(f"Target '{target.name}' has no floating-point unit, so edgekeras builds int8 models only "
                           "for it: --quantize int8 --calib FILE.npz.")
    if quantize is None and calib is None and not any(n.op == "fake_quant" for n in graph.nodes):
        hint = " For float kernels pass --quantize float (the core has an FPU)." if has_fpu else ""
        raise CompileError(f"Microcontroller targets compile to int8 by default, which needs calibration samples: "
                           f"--calib FILE.npz (or a model trained with edgekeras.quantize.quantize_model).{hint}")
    return quantize or "int8"


def compile_model(source, target="host", output_dir=None, dump_ir=None, stop_after=None, debug_outputs=False,
                  quantize=None, calib=None, calib_samples=None, io="float", observer="minmax", observers=None,
                  keep_float=(), emit=None, flash_budget=None, ram_budget=None, threads=1, tune=0,
                  tuning_records=None):
    """Compile an edgekeras model or a .keras/.h5/.onnx file for `target`; returns a CompileResult.

    `quantize="int8"` quantizes with calibration samples `calib` (an .npz path or arrays; the first
    `calib_samples` are used), range observer `observer` (per tensor or layer: `observers`), float or
    int8 model inputs/outputs (`io`), and the layers in `keep_float` left in float. The default is
    float, except on microcontroller targets (int8); CUDA targets also take `quantize="fp16"` and build
    one TVM Relax VM library for the whole graph (`edgekeras.codegen.cuda`). Microcontroller targets
    write a firmware bundle with kernels as C (`emit="c"`, default) or Thumb objects (`"obj"`) and fail
    when it does not fit the reference board's flash/RAM (or `flash_budget`/`ram_budget` bytes). Kernels
    use up to `threads` threads by default at run time; `tune` > 0 runs that many MetaSchedule trials
    per kernel and keeps the records in `tuning_records` (default: the user's cache), reused by later
    compiles."""
    from edgekeras.frontend import import_model, source_digest
    from edgekeras.passes.pipeline import check_phase, run_graph_phases

    target = get_target(target)
    if stop_after is not None:
        check_phase(stop_after)
    if not target.is_mcu and (emit is not None or flash_budget is not None or ram_budget is not None):
        raise CompileError(f"--emit, --flash-budget and --ram-budget apply to microcontroller targets; "
                           f"'{target.name}' builds a shared library.")
    if not 1 <= threads <= 64:
        raise CompileError(f"threads must be from 1 to 64, got {threads}.")
    if target.is_mcu and threads > 1:
        raise CompileError(f"Target '{target.name}' is a microcontroller: its kernels run on one core (--threads 1).")
    if target.is_cuda and tune:
        raise CompileError(f"Tuning needs kernels measured on the target; '{target.name}' is a GPU, which this "
                           "compile does not run on: its kernels use dlight's default GPU schedules (--tune 0).")
    if target.is_cuda and threads != 1:
        raise CompileError(f"--threads applies to CPU targets; '{target.name}' runs its kernels on the GPU.")
    graph = import_model(source)
    precision = _precision(quantize, target, graph, calib)
    quantize = precision == "int8"
    graph = run_graph_phases(graph, stop_after=stop_after, on_phase=(lambda p, g: dump_ir(p, str(g))) if dump_ir else None)
    if stop_after in ("import", "optimize"):
        return CompileResult(None, None, graph)
    quantization = None
    if quantize:
        from edgekeras.quantize.phase import QuantizeOptions, quantize_phase

        options = QuantizeOptions(calib, calib_samples, io, observer, dict(observers or {}), tuple(keep_float))
        graph, quantization = quantize_phase(graph, target, options)
    if dump_ir:
        dump_ir("quantize", str(graph))
    if stop_after == "quantize":
        return CompileResult(None, None, graph)
    if debug_outputs:
        _expose_intermediates(graph)
    if target.is_cuda:
        return _compile_cuda(graph, target, precision, source, output_dir, dump_ir, stop_after)
    try:
        compiled = build_model(graph, target, _version(), ScheduleOptions(threads, tune, tuning_records))
    except LoweringError as err:
        raise CompileError(str(err)) from None
    if dump_ir:
        dump_ir("lower", format_plan(compiled))
    if stop_after == "lower":
        return CompileResult(None, None, graph, compiled)
    output_dir = Path(output_dir or f"{graph.name}-{target.name}")
    try:
        if target.is_mcu:
            info = write_bundle(compiled, output_dir, source_digest(source), quantization, emit or "c",
                                flash_budget, ram_budget)
        else:
            info = write_artifact(compiled, output_dir, source_digest(source), quantization)
    except BuildError as err:
        raise CompileError(f"Building for {target.name} failed: {err}") from None
    if dump_ir:
        dump_ir("emit", "\n".join(sorted(p.name for p in output_dir.iterdir())))
    return CompileResult(output_dir, info, graph, compiled)


def _compile_cuda(graph, target, precision, source, output_dir, dump_ir, stop_after):
    """lower: the whole graph as one Relax module compiled for the GPU; emit: the CUDA artifact folder."""
    from edgekeras.codegen.cuda import CudaBuildError, build_cuda, write_cuda_artifact
    from edgekeras.frontend import source_digest

    try:
        build = build_cuda(graph, target, precision)
        if dump_ir:
            dump_ir("lower", build.module["main"].script())
        if stop_after == "lower":
            return CompileResult(None, None, graph, build)
        output_dir = Path(output_dir or f"{graph.name}-{target.name}")
        info = write_cuda_artifact(build, output_dir, source_digest(source), _version())
    except LoweringError as err:
        raise CompileError(str(err)) from None
    except CudaBuildError as err:
        raise CompileError(f"Building for {target.name} failed: {err}") from None
    if dump_ir:
        dump_ir("emit", "\n".join(sorted(p.name for p in output_dir.iterdir())))
    return CompileResult(output_dir, info, graph, build)
