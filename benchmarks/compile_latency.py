"""Compiler benchmark on the proof model set: compile time (host), arena bytes against the planner's
lower bound, weight bytes, and single-thread host latency (p50, one sample) of the edgekeras
artifact against ONNX Runtime and LiteRT running Keras's own ONNX export and TFLite conversion of
the same model. Writes benchmarks/results/compile_latency.md.

`predict` latency includes the Python/ctypes call; the pure C `ek_model_run` time is reported too
when the loaded artifact exposes its library. The kernels are untuned TVM output: expect them to be
far slower than ORT and LiteRT's hand-tuned kernels (speed is later work).
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
import peers  # noqa: E402

RESULTS = HERE / "results" / "compile_latency.md"


def measure(name, folder):
    import edgekeras
    from edgekeras import runtime
    from edgekeras.compiler import compile_model

    model = zoo.build(name, edgekeras)
    start = time.perf_counter()
    result = compile_model(model, target="x86_64", output_dir=folder / name)
    compile_s = time.perf_counter() - start
    x, _ = zoo.data(name, 1, seed=1)
    artifact = runtime.load(result.path)
    ours = artifact.predict(x)
    row = {"name": name, "compile_s": compile_s, **{k: result.manifest[k] for k in
           ("arena_bytes", "arena_lower_bound_bytes", "weight_bytes")}}
    row["edgekeras"] = np.median(peers.time_calls(lambda: artifact.predict(x)))
    row["c_run"] = float(np.median(artifact.time_runs(x)))
    for peer, make, export in (("onnxruntime", peers.onnxruntime_runner, zoo.export_onnx),
                               ("litert", peers.litert_runner, zoo.export_tflite)):
        fn, out = make(export(name, folder / "peers"), x)
        row[f"{peer}_max_abs_diff"] = float(np.abs(np.asarray(out) - ours).max())
        row[peer] = np.median(peers.time_calls(fn))
    return row


def cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def ms(seconds):
    return "n/a" if seconds is None else f"{seconds * 1e3:.3f}"


def table(rows):
    head = ("| model | compile s | arena B (lower bound) | weights B | edgekeras predict ms | edgekeras C run ms "
            "| ORT ms | LiteRT ms | predict / ORT | predict / LiteRT | max abs diff vs ORT, LiteRT |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['compile_s']:.2f} | {r['arena_bytes']} ({r['arena_lower_bound_bytes']}) "
            f"| {r['weight_bytes']} | {ms(r['edgekeras'])} | {ms(r['c_run'])} | {ms(r['onnxruntime'])} "
            f"| {ms(r['litert'])} | {r['edgekeras'] / r['onnxruntime']:.1f}x | {r['edgekeras'] / r['litert']:.1f}x "
            f"| {r['onnxruntime_max_abs_diff']:.1e}, {r['litert_max_abs_diff']:.1e} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(zoo.MODELS), choices=zoo.MODELS)
    parser.add_argument("--output", default=str(RESULTS))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for name in args.models:
            rows.append(measure(name, Path(tmp)))
            print(f"{name}: done", flush=True)
    text = (
        "# Compile and single-thread latency (host, batch 1)\n\n"
        f"Machine: {cpu_name()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; run {datetime.date.today().isoformat()}; "
        "one thread everywhere; p50 of >= 20 runs.\n\n"
        f"{table(rows)}\n\n"
        "edgekeras kernels are untuned TVM output (no schedules yet); ORT and LiteRT use tuned kernels. "
        "`predict` includes the Python/ctypes call; `C run` is `ek_model_run` alone.\n"
    )
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
