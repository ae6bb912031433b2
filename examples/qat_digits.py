"""Quantization-aware training recovers what post-training int8 quantization loses.

The case: scikit-learn's digits (8x8 images, pixels scaled to [0, 1]) plus one extra input channel, a
"sensor" with rare huge spikes (Cauchy noise, |x| up to ~1000). The float model learns to ignore the
channel. Post-training quantization with min/max calibration sizes the int8 input scale to the
spikes, so every pixel rounds to the same int8 value and the int8 model guesses. QAT trains through
the int8 rounding with ranges that follow the batch min/max by a moving average, so the input range
covers what batches usually hold, the rare spikes are clipped, and the pixels keep their resolution.

Run: .venv/bin/python examples/qat_digits.py   (prints float / PTQ int8 / QAT int8 accuracy)
"""

import tempfile

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import edgekeras as keras
from edgekeras import runtime
from edgekeras.compiler import compile_model
from edgekeras.quantize import quantize_model

SEED = 0


def dataset():
    x, y = load_digits(return_X_y=True)
    spikes = np.random.default_rng(SEED).standard_cauchy(len(x))
    x = np.concatenate([x / 16.0, spikes[:, None]], axis=1).astype(np.float32)
    return train_test_split(x, y, test_size=0.3, random_state=SEED, stratify=y)


def mlp(features):
    keras.backend.random.set_random_seed(SEED)
    return keras.Sequential([keras.Input((features,))] + [keras.layers.Dense(16, activation="relu") for _ in range(3)]
                            + [keras.layers.Dense(10, activation="softmax")])


def int8_accuracy(model, x, y, calib=None):
    """Accuracy of the compiled int8 artifact (host) on x."""
    with tempfile.TemporaryDirectory() as out:
        result = compile_model(model, "host", out, quantize="int8", calib=calib)
        return accuracy(runtime.load(result.path).predict(x), y)


def accuracy(probabilities, y):
    return float((np.argmax(probabilities, axis=1) == y).mean())


def main():
    x_train, x_test, y_train, y_test = dataset()
    model = mlp(x_train.shape[1])
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(x_train, y_train, epochs=60, batch_size=32, verbose=0)
    float_acc = accuracy(model.predict(x_test, verbose=0), y_test)
    ptq_acc = int8_accuracy(model, x_test, y_test, calib=[x_train])

    qat = quantize_model(model)
    qat.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    qat.fit(x_train, y_train, epochs=10, batch_size=32, verbose=0)
    qat_acc = int8_accuracy(qat, x_test, y_test)

    print(f"float accuracy      {float_acc:.4f}")
    print(f"PTQ int8 (min/max)  {ptq_acc:.4f}  ({100 * (ptq_acc - float_acc):+.2f} points)")
    print(f"QAT int8            {qat_acc:.4f}  ({100 * (qat_acc - float_acc):+.2f} points)")
    return float_acc, ptq_acc, qat_acc


if __name__ == "__main__":
    main()
