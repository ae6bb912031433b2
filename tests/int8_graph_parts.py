"""Parts of the hand-built int8 graphs the kernel tests share: int8 weights, and the per-channel
bias and requantization constants of a MAC op (realistic multipliers, drawn from `rng`)."""

import numpy as np

from edgekeras.quantize import arith


def int8_weights(g, rng, name, shape, low=-127):
    return g.constant(name, rng.integers(low, 128, shape).astype(np.int8))


def mac_params(g, rng, name, channels):
    """[bias, multiplier, shift] constants of a qconv / qdepthwise_conv / qdense with `channels` outputs."""
    bias = g.constant(f"{name}_b", rng.integers(-5000, 5000, channels).astype(np.int32))
    multiplier, shift = arith.quantize_multipliers(rng.uniform(1e-4, 0.02, channels))
    return [bias, g.constant(f"{name}_m", multiplier), g.constant(f"{name}_s", shift)]
