"""Reshaping layers: Flatten, Reshape, Permute, ZeroPadding2D, UpSampling2D (Keras 3 configs)."""

from edgekeras import ops
from edgekeras.layers.common import base_config, channels_last_only, check_ndim, standardize_tuple
from edgekeras.layers.layer import Layer


class Flatten(Layer):
    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = channels_last_only(data_format)

    def build(self, input_shape):  # defined because Keras defines it: it decides `build_config` in saved files
        self.built = True

    def call(self, inputs):
        return ops.reshape(inputs, shape=(-1,))

    def get_config(self):
        return {**base_config(self), "data_format": self.data_format}


class Reshape(Layer):
    """`target_shape` excludes the batch axis and may hold one -1."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)
        if any(d < -1 or d == 0 for d in self.target_shape) or self.target_shape.count(-1) > 1:
            raise ValueError(f"Reshape: target_shape must hold positive sizes and at most one -1, got {target_shape}.")
        self.built = True  # as Keras (no build_config)

    def call(self, inputs):
        return ops.reshape(inputs, shape=self.target_shape)

    def get_config(self):
        return {**base_config(self), "target_shape": self.target_shape}


class Permute(Layer):
    """`dims` permutes the non-batch axes, numbered from 1."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        self.dims = tuple(int(d) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(f"Permute: dims must be a permutation of 1..{len(self.dims)}, got {dims}.")

    def build(self, input_shape):
        check_ndim(self, input_shape, len(self.dims) + 1)
        self.built = True

    def call(self, inputs):
        return ops.transpose(inputs, perm=(0,) + self.dims)

    def get_config(self):
        return {**base_config(self), "dims": self.dims}


class ZeroPadding2D(Layer):
    """`padding`: an int, (symmetric_h, symmetric_w), or ((top, bottom), (left, right))."""

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = channels_last_only(data_format)
        if isinstance(padding, int):
            padding = (padding, padding)
        if not hasattr(padding, "__len__") or len(padding) != 2:
            raise ValueError(f"ZeroPadding2D: padding must be an int, 2 ints or 2 pairs of ints, got {padding}.")
        self.padding = tuple(standardize_tuple(p, 2, "padding", allow_zero=True) for p in padding)

    def build(self, input_shape):
        check_ndim(self, input_shape, 4)
        self.built = True

    def call(self, inputs):
        return ops.pad(inputs, pads=((0, 0),) + self.padding + ((0, 0),))

    def get_config(self):
        return {**base_config(self), "padding": self.padding, "data_format": self.data_format}


class UpSampling2D(Layer):
    """Repeat rows/columns by `size` ("nearest") or interpolate ("bilinear", half-pixel centres)."""

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.data_format = channels_last_only(data_format)
        self.size = standardize_tuple(size, 2, "size")
        self.interpolation = interpolation.lower()
        if self.interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"UpSampling2D: interpolation must be 'nearest' or 'bilinear', got {interpolation!r}.")

    def build(self, input_shape):
        check_ndim(self, input_shape, 4)
        self.built = True

    def call(self, inputs):
        return ops.upsample(inputs, scale=self.size, method=self.interpolation)

    def get_config(self):
        return {**base_config(self), "size": self.size, "data_format": self.data_format,
                "interpolation": self.interpolation}
