"""`edgekeras bench`: what one inference of an artifact costs, on the machine that can tell.

Host artifacts: wall-clock latency of bare `ek_model_run` calls (p50/p90/p99) and throughput, on
the thread count asked for (default: the one the artifact was compiled for);
CUDA artifacts the same for VM calls on the GPU (inputs already there, timed to the device's finish).
Cortex-M bundles: instructions executed per inference on the emulated core, in total and per
kernel, against the model's MACs (QEMU counts instructions, not cycles), with the measured stack.
Artifacts for other CPUs run under qemu-user, whose timings mean nothing: only sizes are given.
Every report carries the manifest's memory figures. Keys are documented in the README.
"""

import numpy as np

from edgekeras.harness.int8 import to_edge
from edgekeras.harness.verify import random_inputs

DEFAULT_RUNS = {"host": 100, "mcu": 4}


def _inputs(manifest, samples):
    float_specs = [dict(s, dtype="float32") if s["dtype"] == "int8" else s for s in manifest["inputs"]]
    return to_edge(random_inputs(float_specs, batch=samples), manifest["inputs"])


def _sizes(manifest):
    sizes = {"macs": manifest["macs"], "arena_bytes": manifest["arena_bytes"],
             "arena_lower_bound_bytes": manifest["arena_lower_bound_bytes"], "weight_bytes": manifest["weight_bytes"]}
    if "memory" in manifest:
        sizes["memory"] = manifest["memory"]
    return sizes


def _latency(artifact, runs, warmup):
    times_ms = np.asarray(artifact.time_runs(_inputs(artifact.manifest, 1), runs=runs, warmup=warmup)) * 1e3
    p50, p90, p99 = (float(np.percentile(times_ms, q)) for q in (50, 90, 99))
    return {"runs": runs, "warmup": warmup, "latency_ms": {"p50": p50, "p90": p90, "p99": p99,
                                                           "mean": float(times_ms.mean())},
            "throughput_per_s": 1e3 / p50}


def kernel_costs(manifest, ranges, windows):
    """Per kernel: the nodes it runs for, the instructions it executed per inference, and the MACs of
    the nodes whose busiest kernel it is (a conv's padding kernel does not claim the conv's MACs; a
    kernel shared by identical layers claims all of theirs)."""
    macs = dict.fromkeys(ranges, 0)
    for op in manifest["ops"]:
        own = [k for k in op["kernels"] if k in ranges]
        if own:
            macs[max(own, key=ranges.get)] += op["macs"]
    rows = []
    for symbol, count in ranges.items():
        ops = [op for op in manifest["ops"] if symbol in op["kernels"]]
        per_inference = count / windows
        rows.append({"kernel": symbol, "nodes": [op["name"] for op in ops], "layers": [op["layer"] for op in ops],
                     "macs": macs[symbol], "instructions": per_inference,
                     "instructions_per_mac": per_inference / macs[symbol] if macs[symbol] else None})
    return sorted(rows, key=lambda row: -row["instructions"])


def _instructions(artifact, runs):
    artifact.count_instructions = True
    artifact.predict(_inputs(artifact.manifest, runs))
    counts = artifact.last_run.instructions
    per_inference = counts.per_window
    macs = artifact.manifest["macs"]
    return {"runs": counts.windows, "instructions_per_inference": per_inference,
            "instructions_per_mac": per_inference / macs if macs else None,
            "stack_bytes_measured": artifact.last_run.stack_bytes,
            "kernels": kernel_costs(artifact.manifest, counts.ranges, counts.windows),
            "note": "QEMU counts executed instructions; it has no cycle model"}


def bench(artifact_path, runs=None, warmup=10, threads=None):
    """The cost report (a JSON-ready dict) of the artifact folder at `artifact_path`; host artifacts
    run their parallel loops on `threads` threads (default: the compile-time --threads)."""
    from edgekeras.runtime import FirmwareArtifact, HostArtifact, load
    from edgekeras.runtime_cuda import CudaArtifact

    artifact = load(artifact_path)
    if runs is not None and runs < 1:
        raise ValueError(f"--runs must be at least 1, got {runs}.")
    if warmup < 0:
        raise ValueError(f"--warmup must be >= 0, got {warmup}.")
    manifest = artifact.manifest
    report = {"artifact": str(artifact_path), "target": manifest["target"], "target_kind": manifest["target_kind"],
              "precision": manifest.get("precision", "int8" if "quantize" in manifest else "float"),
              **_sizes(manifest)}
    if threads is not None and not isinstance(artifact, HostArtifact):
        raise ValueError(f"--threads applies to artifacts that run on this CPU; {manifest['target']} "
                         f"({manifest['target_kind']}) does not.")
    if isinstance(artifact, HostArtifact):
        report["threads_compiled"] = manifest.get("threads", 1)
        report["threads"] = threads or report["threads_compiled"]
        if threads is not None or "threads" in manifest:  # artifacts from before --threads have no pool
            artifact.set_threads(report["threads"])
    if isinstance(artifact, (HostArtifact, CudaArtifact)):
        report.update(_latency(artifact, runs or DEFAULT_RUNS["host"], warmup))
    elif isinstance(artifact, FirmwareArtifact):
        report.update(_instructions(artifact, runs or DEFAULT_RUNS["mcu"]))
    else:
        report["note"] = f"{manifest['target']} runs under qemu-user here: no timing is meaningful, sizes only"
    return report
