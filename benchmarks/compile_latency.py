"""Host speed benchmark on the proof model set, float and int8, untuned and tuned: single-thread
latency (batch 1, p50) of the edgekeras artifact against ONNX Runtime and LiteRT running the same
weights, with compile time, arena and weight bytes. Writes benchmarks/results/compile_latency.md
and the chart benchmarks/results/compile_latency.png.

Peers: float = Keras's own ONNX export and TFLite conversion of the model; int8 = ONNX Runtime's
static QDQ quantization of that ONNX file and the TFLite converter's full-integer model, both
calibrated with min/max on the same samples as edgekeras's int8 compile (float inputs/outputs
everywhere). "Tuned" = compiled with `tune=N` (MetaSchedule, N trials per kernel); its records stay
in a benchmark-local folder, so a rerun reuses them (the compile time then has no tuning in it).
The untuned compile reads an empty records folder, so no earlier tuning leaks into it.

Latency: edgekeras `predict` (Python call into the C runtime) against the peers' Python calls, so
all three carry a Python call; `C run` is `ek_model_run` alone.
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

import litert_int8  # noqa: E402
import model_zoo as zoo  # noqa: E402
import peers  # noqa: E402

RESULTS = HERE / "results" / "compile_latency.md"
RECORDS = HERE / "tuning_records"
# Trials per kernel. Measured on the 2-core machine while loaded (load ~5): 8 s per kernel at 3 trials;
# the set has ~110 unique kernels (float and int8), so 8 trials should take ~10-15 min unloaded.
TUNE_TRIALS = 8
CALIB_SAMPLES = 100
PRECISIONS = ("float", "int8")
VARIANTS = ("untuned", "tuned")


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


def calibration_set(name, n):
    """`n` calibration inputs (benchmarks/quantization.py's choice: training digits, or an unused seed)."""
    from quantization import calibration_set as pick

    return pick(name, n)


def peer_models(name, precision, keras_path, calib, folder):
    """{peer: model file} of ONNX Runtime and LiteRT for `precision`."""
    onnx = zoo.export_onnx(name, folder)
    if precision == "float":
        return {"onnxruntime": onnx, "litert": zoo.export_tflite(name, folder)}
    folder = Path(folder)
    return {"onnxruntime": peers.onnx_int8(onnx, calib, folder / f"{name}-int8.onnx"),
            "litert": litert_int8.convert_int8(keras_path, calib, io="float", output=folder / f"{name}-int8.tflite")}


def measure(name, folder, precision, trials, records):
    """One table row: edgekeras untuned (and tuned when `trials`) vs ONNX Runtime and LiteRT."""
    from edgekeras import runtime
    from edgekeras.compiler import compile_model

    keras_path, _ = zoo.save_keras_variants(name, folder / "models")
    x, _ = zoo.data(name, 1, seed=1)
    calib = calibration_set(name, CALIB_SAMPLES) if precision == "int8" else None
    options = {"quantize": "int8", "calib": calib} if precision == "int8" else {}
    row, outputs = {"name": name, "precision": precision}, {}
    for variant in VARIANTS if trials else VARIANTS[:1]:
        records_folder = records if variant == "tuned" else folder / "no-records"
        start = time.perf_counter()
        result = compile_model(keras_path, "x86_64", folder / f"{name}-{precision}-{variant}",
                               tune=trials if variant == "tuned" else 0, tuning_records=str(records_folder), **options)
        row[f"{variant}_compile_s"] = time.perf_counter() - start
        artifact = runtime.load(result.path)
        outputs[variant] = np.asarray(artifact.predict(x))
        row[f"{variant}_predict"] = peers.steady_latency(lambda: artifact.predict(x))
        row[f"{variant}_c_run"] = min(float(np.median(artifact.time_runs(x))) for _ in range(3))
        row.update(arena_bytes=result.manifest["arena_bytes"], weight_bytes=result.manifest["weight_bytes"])
    if "tuned" in outputs:
        row["tuned_max_abs_diff"] = float(np.abs(outputs["tuned"] - outputs["untuned"]).max())
    for peer, path in peer_models(name, precision, keras_path, calib, folder / "peers").items():
        run, out = (peers.onnxruntime_runner if peer == "onnxruntime" else peers.litert_runner)(path, x)
        row[peer] = peers.steady_latency(run)
        row[f"{peer}_max_abs_diff"] = float(np.abs(np.asarray(out) - outputs["untuned"]).max())
    return row


def ratio(row, ours, peer):
    return "n/a" if row.get(ours) is None else f"{row[ours] / row[peer]:.2f}x"


def table(rows, tuned):
    head = ["model", "compile s" + (" (tuned)" if tuned else ""), "arena B", "weights B", "edgekeras ms"]
    head += ["tuned ms"] if tuned else []
    head += ["C run ms" + (" (tuned)" if tuned else ""), "ORT ms", "LiteRT ms", "edgekeras / ORT", "edgekeras / LiteRT"]
    head += ["tuned / ORT", "tuned / LiteRT", "max abs diff tuned vs untuned"] if tuned else []
    head += ["max abs diff vs ORT, LiteRT"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        def both(key, fmt, r=r):
            return fmt(r[f"untuned_{key}"]) + (f" ({fmt(r[f'tuned_{key}'])})" if tuned else "")
        cells = [r["name"], both("compile_s", lambda s: f"{s:.1f}"), str(r["arena_bytes"]), str(r["weight_bytes"]),
                 ms(r["untuned_predict"])]
        cells += [ms(r["tuned_predict"])] if tuned else []
        cells += [both("c_run", ms), ms(r["onnxruntime"]), ms(r["litert"]), ratio(r, "untuned_predict", "onnxruntime"),
                  ratio(r, "untuned_predict", "litert")]
        if tuned:
            cells += [ratio(r, "tuned_predict", "onnxruntime"), ratio(r, "tuned_predict", "litert"),
                      f"{r['tuned_max_abs_diff']:.1e}"]
        cells += [f"{r['onnxruntime_max_abs_diff']:.1e}, {r['litert_max_abs_diff']:.1e}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def chart(rows_by_precision, tuned, path):
    """Grouped bars of p50 latency per model (log scale), one panel per precision."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = [("untuned_predict", "edgekeras")] + ([("tuned_predict", "edgekeras tuned")] if tuned else []) \
        + [("onnxruntime", "ONNX Runtime"), ("litert", "LiteRT")]
    panels = [(p, rows) for p, rows in rows_by_precision.items() if rows]
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.2), squeeze=False)
    width = 0.8 / len(series)
    for ax, (precision, rows) in zip(axes[0], panels):
        positions = np.arange(len(rows))
        for i, (key, label) in enumerate(series):
            ax.bar(positions + (i - (len(series) - 1) / 2) * width, [r[key] * 1e3 for r in rows], width, label=label)
        ax.set_xticks(positions, [r["name"] for r in rows], rotation=25, ha="right")
        ax.set_yscale("log")
        ax.set_ylabel("ms per inference (p50, batch 1, 1 thread)")
        ax.set_title(f"{precision}: lower is better")
        ax.grid(axis="y", which="both", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(rows_by_precision, trials, records):
    tuned = bool(trials)
    sections = []
    for precision, rows in rows_by_precision.items():
        if rows:
            sections.append(f"## {precision}\n\n{table(rows, tuned)}\n")
    tuning = (f"Tuned: `tune={trials}` MetaSchedule trials per kernel, records in `{records}` "
              "(compile s in parentheses includes tuning only for kernels the records lacked)."
              if tuned else "No tuned columns (`--tune 0`).")
    return (
        "# Host latency vs ONNX Runtime and LiteRT (batch 1, one thread)\n\n"
        f"Machine: {cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"run {datetime.date.today().isoformat()}; `python benchmarks/compile_latency.py`. "
        "Lowest of three p50s of >= 20 runs each (the same for every runtime), one thread everywhere.\n\n"
        f"{tuning} Chart: `compile_latency.png`.\n\n" + "\n".join(sections) + "\n"
        "- edgekeras ms = `predict` (Python call into the C runtime), like the peers' Python calls; "
        "`C run` = `ek_model_run` alone.\n"
        "- Ratios > 1x: edgekeras is slower. max abs diff: outputs against edgekeras untuned on the same input "
        "(int8: each tool picks its own scales, so int8 differences are quantization, not arithmetic; "
        "tuned vs untuned int8 must be 0).\n"
        "- int8 peers: ORT = static QDQ (per-channel int8 weights, int8 activations, min/max) of Keras's ONNX "
        "export; LiteRT = the TFLite converter's full-integer model. Same calibration samples for all three.\n"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(zoo.MODELS), choices=zoo.MODELS)
    parser.add_argument("--precisions", nargs="+", default=list(PRECISIONS), choices=PRECISIONS)
    parser.add_argument("--tune", type=int, default=TUNE_TRIALS, metavar="N",
                        help=f"MetaSchedule trials per kernel for the tuned columns (default {TUNE_TRIALS}; 0: none)")
    parser.add_argument("--records", default=str(RECORDS), help="tuning records folder (kept between runs)")
    parser.add_argument("--output", default=str(RESULTS), help="the Markdown file; the chart goes next to it (.png)")
    args = parser.parse_args()
    rows = {p: [] for p in args.precisions}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            for precision in args.precisions:
                start = time.perf_counter()
                rows[precision].append(measure(name, Path(tmp), precision, args.tune, Path(args.records)))
                print(f"{name} {precision}: done in {time.perf_counter() - start:.0f} s", flush=True)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    text = report(rows, args.tune, args.records)
    output.write_text(text)
    chart(rows, bool(args.tune), output.with_suffix(".png"))
    print(text)


if __name__ == "__main__":
    main()
