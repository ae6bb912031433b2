"""Keras's `utils` helpers that training scripts use."""

import numpy as np

from edgekeras.backend.random import set_random_seed  # noqa: F401  (public API)
from edgekeras.saving import register_keras_serializable  # noqa: F401  (public API)


def to_categorical(y, num_classes=None, dtype="float32"):
    y = np.asarray(y, dtype="int64").reshape(-1) if np.ndim(y) <= 1 else np.asarray(y, dtype="int64")
    if np.ndim(y) > 1 and y.shape[-1] == 1:
        y = y[..., 0]
    num_classes = int(num_classes or y.max() + 1)
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"Labels must lie in [0, {num_classes}), got values from {y.min()} to {y.max()}.")
    return np.eye(num_classes, dtype=dtype)[y]
