"""int8 quantization benchmark on the proof model set: float vs int8 edgekeras artifacts (accuracy
drop, weight bytes, arena bytes) and edgekeras int8 vs LiteRT int8 (the TFLite converter's
full-integer model from the same .keras file and the same calibration samples) side by side:
accuracy, top-1 agreement between the two, single-thread host latency (p50).
Writes benchmarks/results/quantization.md.

Accuracy is the held-out digits accuracy for the two trained digit models, top-1 agreement with the
float Keras model for the seeded random classifiers, and relative L2 error / cosine similarity for
the autoencoder's reconstruction. Both int8 models keep float inputs/outputs (`io="float"`).
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
from compile_latency import cpu_name, ms  # noqa: E402

RESULTS = HERE / "results" / "quantization.md"
CALIB_SAMPLES = 100
# Held-out inputs per model: every held-out digit; fewer for the big nets, whose float reference runs are slow.
EVAL_SAMPLES = {"digits_cnn": 360, "mlp": 360, "mobilenet_v1_025": 100, "resnet8": 100}
DEFAULT_EVAL = 200


def calibration_set(name, n):
    """`n` calibration inputs: training digits for the trained models (never the held-out ones the
    accuracy is measured on), and a seed unused by the evaluation data for the others."""
    if name in zoo.TRAINED:
        from digits_data import load_digits_split

        (x_train, _), _ = load_digits_split()
        return x_train[:n].reshape((n,) + zoo.INPUT_SHAPES[name]).astype("float32")
    return zoo.data(name, n, seed=7)[0]


def score(name, out, reference, labels):
    """The model's quality figure: accuracy on held-out labels (classifiers), or (relative L2,
    cosine) against float (autoencoder)."""
    if labels is not None:
        return float((out.argmax(axis=1) == labels).mean())
    if name in zoo.CLASSIFIERS:
        return top1_agreement(out, reference)
    return relative_l2(out, reference), cosine(out, reference)


def top1_agreement(a, b):
    return float((a.argmax(axis=1) == b.argmax(axis=1)).mean())


def relative_l2(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def cosine(a, b):
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def measure(name, folder, calib_samples):
    import keras

    from edgekeras import runtime
    from edgekeras.compiler import compile_model

    keras_path, _ = zoo.save_keras_variants(name, folder / "models")
    calib = calibration_set(name, calib_samples)
    x, labels = zoo.data(name, EVAL_SAMPLES.get(name, DEFAULT_EVAL), seed=1)
    reference = np.asarray(zoo.build(name, keras).predict(x, verbose=0))

    row = {"name": name}
    results = {}
    for kind in ("float", "int8"):
        options = {"quantize": "int8", "calib": calib} if kind == "int8" else {}
        start = time.perf_counter()
        result = compile_model(keras_path, "host", folder / f"{name}-{kind}", **options)
        row[f"{kind}_compile_s"] = time.perf_counter() - start
        artifact = runtime.load(result.path)
        results[kind] = np.asarray(artifact.predict(x))
        row[f"{kind}_weights"] = result.manifest["weight_bytes"]
        row[f"{kind}_arena"] = result.manifest["arena_bytes"]
        row[f"{kind}_ms"] = float(np.median(artifact.time_runs(x[:1])))

    tflite = litert_int8.convert_int8(keras_path, calib, io="float", output=folder / f"{name}-int8.tflite")
    results["litert"] = litert_int8.run_litert(tflite, x)
    row["litert_bytes"] = tflite.stat().st_size
    run, _ = peers.litert_runner(tflite, x[:1])
    row["litert_ms"] = float(np.median(peers.time_calls(run)))

    for kind, out in (("reference", reference), *results.items()):
        row[f"{kind}_score"] = score(name, out, reference, labels)
    row["ek_vs_litert"] = (top1_agreement(results["int8"], results["litert"]) if name in zoo.CLASSIFIERS
                           else relative_l2(results["int8"], results["litert"]))
    row["int8_agreement"] = top1_agreement(results["int8"], reference) if name in zoo.CLASSIFIERS else None
    row["samples"] = len(x)
    return row


def fmt_score(value):
    if isinstance(value, tuple):
        return f"L2 {value[0]:.3f}, cos {value[1]:.4f}"
    return f"{100 * value:.1f} %"


def fmt_drop(name, row, kind):
    if name not in zoo.CLASSIFIERS:
        return "—"
    base = row["reference_score"]
    return f"{100 * (base - row[f'{kind}_score']):+.1f}"


def tables(rows):
    size_head = ("| model | float acc. | edgekeras int8 acc. (drop in pts, + = worse) | int8 vs float top-1 | "
                 "weights B float → int8 | arena B float → int8 | .tflite int8 B |")
    peer_head = ("| model | samples | edgekeras int8 | LiteRT int8 | agreement edgekeras vs LiteRT | "
                 "edgekeras float C run ms | edgekeras int8 C run ms | LiteRT int8 ms |")
    size = [size_head, "|" + "---|" * (size_head.count("|") - 1)]
    peer = [peer_head, "|" + "---|" * (peer_head.count("|") - 1)]
    for r in rows:
        name = r["name"]
        float_acc = fmt_score(r["reference_score"]) if name in zoo.CLASSIFIERS else "(reference)"
        agree = "—" if r["int8_agreement"] is None else f"{100 * r['int8_agreement']:.1f} %"
        size.append(
            f"| {name} | {float_acc} | {fmt_score(r['int8_score'])} ({fmt_drop(name, r, 'int8')}) | {agree} "
            f"| {r['float_weights']} → {r['int8_weights']} ({r['float_weights'] / r['int8_weights']:.1f}x) "
            f"| {r['float_arena']} → {r['int8_arena']} ({r['float_arena'] / r['int8_arena']:.1f}x) "
            f"| {r['litert_bytes']} |")
        agreement = (f"{100 * r['ek_vs_litert']:.1f} % top-1" if name in zoo.CLASSIFIERS
                     else f"rel. L2 {r['ek_vs_litert']:.3f}")
        peer.append(
            f"| {name} | {r['samples']} | {fmt_score(r['int8_score'])} | {fmt_score(r['litert_score'])} "
            f"| {agreement} | {ms(r['float_ms'])} | {ms(r['int8_ms'])} | {ms(r['litert_ms'])} |")
    return "\n".join(size), "\n".join(peer)


NOTES = """\
- Accuracy: held-out accuracy (digits for digits_cnn and mlp, the zoo's synthetic keyword/image
  tasks for ds_cnn, mobilenet_v1_025 and resnet8, see examples/model_zoo.py), and top-1 agreement
  of int8 with the float model; relative L2 error and cosine similarity against the float
  reconstruction for the autoencoder. Drop = float minus int8, in points.
- Both int8 models are calibrated with min/max on the same {calib} samples (training digits for the
  digit models) and keep float inputs/outputs; scales may still differ slightly: LiteRT keeps an
  unfolded BatchNorm after a ReLU as int8 MUL+ADD with its own ranges, while edgekeras quantizes
  its optimized graph (BatchNorm folded where possible), so its tensors and ranges are not one to
  one with the converter's. Input scales agree; see tests/test_litert_compare.py.
- Latency: single thread, batch 1, p50. edgekeras = bare `ek_model_run` (its CPU schedules);
  LiteRT = `set_tensor` + `invoke` + `get_tensor` from Python with XNNPACK's tuned int8 kernels.
- Weights/arena bytes come from the artifacts' manifest.json; the .tflite size includes the graph.
  int8 weights include int32 biases and per-channel requantization constants, so small models
  shrink by less than 4x.
- Arithmetic: given the converter's own scales (the MLP maps op for op), edgekeras reproduces
  LiteRT's built-in int8 kernels layer by layer within one int8 step on < 1 % of values; the steps
  are rounding-mode differences among LiteRT's own kernel sets (reference kernels round once,
  optimized ones twice as edgekeras does; XNNPACK requantizes in float). See
  tests/test_litert_compare.py. Differences in the table above therefore come from the scales
  each tool chose, not from the arithmetic.
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(zoo.MODELS), choices=zoo.MODELS)
    parser.add_argument("--calib-samples", type=int, default=CALIB_SAMPLES)
    parser.add_argument("--output", default=str(RESULTS))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            start = time.perf_counter()
            rows.append(measure(name, Path(tmp), args.calib_samples))
            print(f"{name}: done in {time.perf_counter() - start:.1f} s", flush=True)
    size, peer = tables(rows)
    text = (
        "# int8 quantization: float vs int8, edgekeras vs LiteRT (host, batch 1)\n\n"
        f"Machine: {cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"run {datetime.date.today().isoformat()}; `python benchmarks/quantization.py`.\n\n"
        "## Float vs int8 (edgekeras)\n\n"
        f"{size}\n\n"
        "## edgekeras int8 vs LiteRT int8\n\n"
        f"{peer}\n\n"
        "## Notes\n\n"
        f"{NOTES.format(calib=args.calib_samples)}"
    )
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
