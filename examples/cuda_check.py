"""Check a CUDA artifact on a GPU machine with nothing but NumPy and the TVM runtime.

On the build machine (edgekeras installed), write the inputs and the float model's outputs:

    python examples/cuda_check.py prepare model.keras ARTIFACT check.npz [--samples 32]

On the GPU machine (TVM with CUDA, NumPy; no edgekeras, no TensorFlow), load the artifact, run every
sample, and print parity against the expected outputs and the latency of one inference:

    python examples/cuda_check.py check ARTIFACT check.npz [--runs 200 --warmup 20]

`check` prints one JSON object and exits 1 when an output differs by more than the npz's `atol`
(the tolerance `edgekeras verify` applies: 1e-4 float, 2e-2 fp16) or top-1 class disagrees.

The GPU machine needs TVM 0.27's runtime, not its compiler: the `tvm` package of the
apache-tvm==0.27.0.post1 wheel (pure Python + ctypes) without lib/libtvm_compiler.so and 3rdparty/
(about 25 MB) imports in runtime-only mode, plus apache-tvm-ffi==0.1.14.post1 built for that
machine's Python (its extension is per Python version), and libcudart.so.13 on the library path
(libtvm_runtime_cuda.so links it). The artifact's fatbin needs a driver for CUDA 13 (nvcc 13.0 built it).
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def prepare(model_path, artifact, out, samples):
    from edgekeras.harness.references import as_list, predictor
    from edgekeras.harness.verify import default_atol, random_inputs

    manifest = json.loads((Path(artifact) / "manifest.json").read_text())
    inputs = random_inputs(manifest["inputs"], batch=samples)
    expected = as_list(predictor(model_path, "edgekeras")(inputs))
    arrays = {f"input_{i}": a for i, a in enumerate(inputs)}
    arrays.update({f"expected_{i}": np.asarray(e, np.float32) for i, e in enumerate(expected)})
    np.savez(out, atol=np.float64(default_atol(manifest)), **arrays)
    print(f"{out}: {samples} samples, {len(inputs)} input(s), {len(expected)} output(s), "
          f"atol {default_atol(manifest):g}")


def check(artifact, data, runs, warmup):
    import tvm
    from tvm.runtime.vm import VirtualMachine  # a runtime-only TVM (no libtvm_compiler.so) has this too

    folder = Path(artifact)
    manifest = json.loads((folder / "manifest.json").read_text())
    device = tvm.cuda(0)
    if not device.exist:
        sys.exit("check: the TVM runtime sees no CUDA GPU on this machine.")
    main = VirtualMachine(tvm.runtime.load_module(str(folder / manifest["library"])), device)["main"]
    arrays = np.load(data)
    inputs = [arrays[f"input_{i}"] for i in range(len(manifest["inputs"]))]
    expected = [arrays[f"expected_{i}"] for i in range(len(manifest["outputs"]))]

    def run(sample):
        result = main(*[tvm.runtime.tensor(np.ascontiguousarray(a[sample:sample + 1]), device) for a in inputs])
        return [o.numpy() for o in ([result] if len(expected) == 1 else result)]

    outputs = [np.concatenate(per_output) for per_output in zip(*[run(n) for n in range(len(inputs[0]))])]
    atol = float(arrays["atol"])
    report = {"artifact": str(folder), "gpu": device.device_name, "compute_version": device.compute_version,
              "precision": manifest["precision"], "device_code": manifest["device_code"]["format"],
              "samples": len(inputs[0]), "atol": atol, "outputs": []}
    for spec, got, want in zip(manifest["outputs"], outputs, expected):
        error = float(np.abs(got - want).max())
        top1 = float((got.argmax(-1) == want.argmax(-1)).mean())
        report["outputs"].append({"name": spec["name"], "max_abs_error": error, "top1_agreement": top1,
                                  "passed": error <= atol and top1 == 1.0})
    report["latency_ms"] = latency(main, [tvm.runtime.tensor(a[:1], device) for a in inputs], device, runs, warmup)
    report["passed"] = all(o["passed"] for o in report["outputs"])
    print(json.dumps(report, indent=2))
    return 0 if report["passed"] else 1


def latency(main, inputs, device, runs, warmup):
    """p50/p90 of one VM call with its inputs already on the GPU, timed until the GPU is done."""
    times = []
    for i in range(warmup + runs):
        start = time.perf_counter()
        main(*inputs)
        device.sync()
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1e3)
    return {"runs": runs, "p50": float(np.percentile(times, 50)), "p90": float(np.percentile(times, 90))}


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("prepare", help="write inputs and the float model's outputs (needs edgekeras)")
    cmd.add_argument("model")
    cmd.add_argument("artifact")
    cmd.add_argument("out")
    cmd.add_argument("--samples", type=int, default=32)
    cmd = sub.add_parser("check", help="run the artifact on the GPU: parity and latency (needs TVM only)")
    cmd.add_argument("artifact")
    cmd.add_argument("data")
    cmd.add_argument("--runs", type=int, default=200)
    cmd.add_argument("--warmup", type=int, default=20)
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = parse(sys.argv[1:])
    if args.command == "prepare":
        prepare(args.model, args.artifact, args.out, args.samples)
    else:
        sys.exit(check(args.artifact, args.data, args.runs, args.warmup))
