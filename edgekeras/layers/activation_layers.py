"""Activation layers with arguments: ReLU, LeakyReLU, Softmax (Keras 3 validation and configs)."""

from edgekeras import ops
from edgekeras.layers.common import base_config
from edgekeras.layers.layer import Layer


def _non_negative(layer, name, value, allow_none=False):
    if (value is None and not allow_none) or (value is not None and value < 0):
        raise ValueError(f"{layer}: {name} must be a number >= 0, got {name}={value}.")
    return value


class ReLU(Layer):
    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = _non_negative("ReLU", "max_value", max_value, allow_none=True)
        self.negative_slope = _non_negative("ReLU", "negative_slope", negative_slope)
        self.threshold = _non_negative("ReLU", "threshold", threshold)
        self.built = True  # weightless layers Keras builds at init (they get no build_config)

    def call(self, inputs):
        return ops.relu(inputs, negative_slope=self.negative_slope, max_value=self.max_value, threshold=self.threshold)

    def get_config(self):
        return {**base_config(self), "max_value": self.max_value, "negative_slope": self.negative_slope,
                "threshold": self.threshold}


class LeakyReLU(Layer):
    def __init__(self, negative_slope=0.3, **kwargs):
        negative_slope = kwargs.pop("alpha", negative_slope)  # Keras 2 name
        super().__init__(**kwargs)
        self.negative_slope = _non_negative("LeakyReLU", "negative_slope", negative_slope)
        self.built = True

    def call(self, inputs):
        return ops.relu(inputs, negative_slope=self.negative_slope)

    def get_config(self):
        return {**base_config(self), "negative_slope": self.negative_slope}


class Softmax(Layer):
    """`axis`: an int or a list of axes normalized together."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis
        self.built = True

    def call(self, inputs, mask=None):
        return ops.softmax(inputs, axis=tuple(self.axis) if isinstance(self.axis, (list, tuple)) else self.axis)

    def get_config(self):
        return {**base_config(self), "axis": self.axis}
