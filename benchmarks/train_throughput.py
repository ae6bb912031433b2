"""Train-step throughput (steps/s at batch 64): edgekeras vs Keras 3 (TensorFlow) vs Keras 3 (JAX).

Each framework runs in its own subprocess (Keras picks its backend at import), on the same
model code and the same synthetic data; the timed region is whole epochs of `fit` after a warm-up
epoch, so compilation is excluded. Writes benchmarks/results/train_throughput.md.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
import model_zoo  # noqa: E402

BATCH = 64
STEPS = 200
FRAMEWORKS = {
    "edgekeras": {},
    "keras-jax": {"KERAS_BACKEND": "jax"},
    "keras-tensorflow": {"KERAS_BACKEND": "tensorflow"},
}


def build(keras, name):
    """The demo CNN, or a wider MLP than the proof set's, so the step loop carries real work."""
    if name == "digits_cnn":
        return model_zoo.ARCHITECTURES["digits_cnn"](keras), model_zoo.INPUT_SHAPES["digits_cnn"]
    return model_zoo.ARCHITECTURES["mlp"](keras, units=(256, 256)), model_zoo.INPUT_SHAPES["mlp"]


def worker(framework, model_name):
    if framework == "edgekeras":
        import edgekeras as keras
    else:
        import keras
    keras.utils.set_random_seed(0)
    model, shape = build(keras, model_name)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x = rng.random((BATCH * STEPS,) + shape, dtype=np.float32)
    y = rng.integers(0, 10, BATCH * STEPS)
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)  # warm-up: compilation
    start = time.perf_counter()
    model.fit(x, y, batch_size=BATCH, epochs=2, verbose=0, shuffle=False)
    elapsed = time.perf_counter() - start
    print(json.dumps({"steps_per_s": 2 * STEPS / elapsed}))


def run(framework, model_name):
    env = {**os.environ, **FRAMEWORKS[framework], "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES", "")}
    out = subprocess.run([sys.executable, __file__, "--worker", framework, model_name], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["steps_per_s"]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worker", nargs=2, metavar=("FRAMEWORK", "MODEL"))
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    rows = []
    for model_name in ("digits_cnn", "mlp"):
        rates = {fw: run(fw, model_name) for fw in FRAMEWORKS}
        rows.append((model_name, rates))
    lines = [
        f"Train-step throughput, batch {BATCH}, {os.cpu_count()} CPU cores, steps/s (higher is better)",
        "",
        "| model | edgekeras | Keras 3 JAX | Keras 3 TF | edgekeras / Keras-JAX | edgekeras / Keras-TF |",
        "|---|---|---|---|---|---|",
    ]
    for model_name, r in rows:
        lines.append(
            f"| {model_name} | {r['edgekeras']:.0f} | {r['keras-jax']:.0f} | {r['keras-tensorflow']:.0f} | "
            f"{r['edgekeras'] / r['keras-jax']:.2f}x | {r['edgekeras'] / r['keras-tensorflow']:.2f}x |"
        )
    table = "\n".join(lines)
    print(table)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "train_throughput.md")
    with open(path, "w") as f:
        f.write(table + "\n")


if __name__ == "__main__":
    main()
