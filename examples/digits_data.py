"""scikit-learn's bundled digits (1797 8x8 grey images, 10 classes): offline data for examples."""

import numpy as np


def load_digits_split(test_fraction=0.2, seed=0):
    """((x_train, y_train), (x_test, y_test)) with x as float32 (N, 8, 8, 1) in [0, 1], y as int labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]
    y = digits.target.astype("int64")
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    cut = int(len(x) * (1 - test_fraction))
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])
