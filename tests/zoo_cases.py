"""The benchmark-set models as test cases: calibration samples and held-out inputs with the float
model's predictions, shared by the int8 proofs on every target."""

import functools
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))

import edgekeras as keras  # noqa: E402
import model_zoo as zoo  # noqa: E402
from digits_data import load_digits_split  # noqa: E402

MODELS = ("digits_cnn", "ds_cnn", "mobilenet_v1_025", "resnet8", "dense_autoencoder")
HELD_OUT = {"digits_cnn": 360, "ds_cnn": 200, "mobilenet_v1_025": 200, "resnet8": 200, "dense_autoencoder": 200}


def calibration(name):
    """Training digits for the digit models; seeded generator samples, disjoint from the test ones, otherwise."""
    if name in zoo.TRAINED:
        x = load_digits_split()[0][0][:200]
        return x.reshape((len(x),) + zoo.INPUT_SHAPES[name]).astype(np.float32)
    return zoo.data(name, 128, seed=5)[0]


@functools.lru_cache(maxsize=None)
def held_out(name):
    """(x, labels or None, the float model's outputs) on held-out inputs."""
    x, y = zoo.data(name, HELD_OUT[name], seed=1)
    return x, y, np.asarray(zoo.build(name, keras).predict(x, verbose=0))
