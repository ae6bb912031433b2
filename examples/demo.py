"""`make demo`: train a small CNN on scikit-learn's digits with edgekeras, save model.keras, then
compile it for the host (x86-64) and for `arm` (AArch64, run under QEMU), in float and in int8
(calibrated on 200 training digits), verify every artifact against the model on the held-out
digits (int8 ones bit-exact with the integer reference too) and print parity, float vs int8
accuracy and the memory figures. It ends on a microcontroller: the int8 model as a Cortex-M4
firmware bundle, run on the emulated core (QEMU mps2-an386), with its flash, RAM and instructions
per inference."""

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import edgekeras as keras  # noqa: E402
from edgekeras.compiler import compile_model  # noqa: E402
from edgekeras.harness.verify import verify  # noqa: E402
from digits_data import load_digits_split  # noqa: E402
from model_zoo import ARCHITECTURES  # noqa: E402

OUT_DIR = os.environ.get("EDGEKERAS_DEMO_OUT", "out")


def main():
    keras.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = load_digits_split()
    model = ARCHITECTURES["digits_cnn"](keras)
    model.summary()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=64, epochs=30, validation_split=0.1, verbose=2)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print("\nHistory (last epoch):", {k: round(v[-1], 4) for k, v in history.history.items()})
    print(f"Test accuracy: {accuracy:.4f} (loss {loss:.4f}) on {len(x_test)} held-out digits")
    os.makedirs(OUT_DIR, exist_ok=True)
    path = os.path.join(OUT_DIR, "model.keras")
    model.save(path)
    print(f"Saved {path}")
    if accuracy < 0.95:
        sys.exit(f"Demo accuracy {accuracy:.4f} is below the 0.95 bar.")
    data = os.path.join(OUT_DIR, "digits_test.npz")
    np.savez(data, x=x_test, y=y_test)
    calib = os.path.join(OUT_DIR, "digits_calib.npz")
    np.savez(calib, x=x_train[:200])
    results = [compile_and_verify(path, target, data, quantize) for quantize in (None, calib)
               for target in ("host", "arm")]
    print_float_vs_int8(results)
    results.append(cortex_m4(path, data, calib))
    if not all(report["passed"] for report, _ in results):
        sys.exit("An artifact does not match the model.")


def compile_and_verify(model_path, target, data, calib=None):
    """`edgekeras compile` (+ `--quantize int8 --calib` when `calib`) and `edgekeras verify`, as
    functions; returns (verify report, manifest)."""
    kind = "int8" if calib else "float"
    start = time.perf_counter()
    result = compile_model(model_path, target=target, output_dir=os.path.join(OUT_DIR, f"digits_cnn-{target}-{kind}"),
                           quantize="int8" if calib else "float", calib=calib)
    seconds = time.perf_counter() - start
    m = result.manifest
    report = verify(model_path, result.path, data=data)
    out = report["outputs"][0]
    tag = f"[{m['target']} {kind}]"
    print(f"\n{tag} {result.path}: compiled in {seconds:.1f} s, {m['kernels']} kernels, "
          f"arena {m['arena_bytes']:,} B (lower bound {m['arena_lower_bound_bytes']:,} B), "
          f"weights {m['weight_bytes']:,} B, {m['macs']:,} MACs")
    exact = f", int8 outputs {'bit-exact' if out['bit_exact'] else 'NOT bit-exact'} with the integer reference" \
        if calib else ""
    print(f"{tag} parity on {report['samples']} digits: max_abs_error {out['max_abs_error']:.2e}, "
          f"rmse {out['rmse']:.2e}, top-1 agreement {out['top1_agreement']:.2%}, "
          f"accuracy model {out['accuracy_reference']:.4f} / artifact {out['accuracy_artifact']:.4f}{exact} -> "
          f"{'PASS' if report['passed'] else 'FAIL'}")
    return report, m


def cortex_m4(model_path, data, calib):
    """The int8 model as a Cortex-M4 bundle: verified on the emulated core, then benchmarked there."""
    from edgekeras.harness.bench import bench

    report, m = compile_and_verify(model_path, "cortex-m4", data, calib)
    memory, cost = m["memory"], bench(os.path.join(OUT_DIR, "digits_cnn-cortex-m4-int8"), runs=4)
    print(f"[cortex-m4 int8] firmware bundle for {memory['board']}: flash {memory['flash_bytes']:,} of "
          f"{memory['flash_budget']:,} B, RAM {memory['ram_bytes']:,} of {memory['ram_budget']:,} B (arena "
          f"{memory['ram']['arena']:,}, static {memory['ram']['static']:,}, stack {memory['ram']['stack']:,} bound / "
          f"{cost['stack_bytes_measured']:,} measured)")
    print(f"[cortex-m4 int8] {cost['instructions_per_inference']:,.0f} instructions per inference "
          f"({cost['instructions_per_mac']:.2f} per MAC), counted on QEMU, which counts instructions, not cycles")
    return report, m


def print_float_vs_int8(results):
    print(f"\n{'artifact':<16} {'accuracy':>9} {'weights B':>10} {'arena B':>9}")
    for report, m in results:
        kind = "int8" if "quantize" in m else "float"
        print(f"{m['target'] + ' ' + kind:<16} {report['outputs'][0]['accuracy_artifact']:>9.4f} "
              f"{m['weight_bytes']:>10,} {m['arena_bytes']:>9,}")


if __name__ == "__main__":
    main()
