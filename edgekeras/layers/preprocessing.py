"""Rescaling: y = x * scale + offset in the layer's dtype (e.g. uint8 pixels to [0, 1] floats)."""

import numpy as np

from edgekeras import ops
from edgekeras.layers.common import base_config
from edgekeras.layers.layer import Layer


class Rescaling(Layer):
    """`scale` and `offset` are scalars or per-channel lists (broadcast on the last axis)."""

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale, self.offset = scale, offset

    def build(self, input_shape):  # defined because Keras defines it: it decides `build_config` in saved files
        self.built = True

    def call(self, inputs):
        if str(inputs.dtype) != self.dtype:
            inputs = ops.cast(inputs, dtype=self.dtype)
        y = ops.multiply(inputs, np.asarray(self.scale, self.dtype))
        return ops.add(y, np.asarray(self.offset, self.dtype))

    def get_config(self):
        return {**base_config(self), "scale": self.scale, "offset": self.offset}
