"""Convolution layers with Keras 3's arguments, weight names/order and configs, on the conv ops."""

from edgekeras import activations, ops, regularizers
from edgekeras.layers.common import (add_prefixed_weight, base_config, channels_last_only, check_ndim, positive_int,
                                     set_weight_args, standardize_tuple, to_config, weight_config)
from edgekeras.layers.layer import Layer


class _BaseConv(Layer):
    """What every convolution layer shares: window arguments, activation, bias, build and config.

    `weight_args` maps Keras's config prefixes (kernel, depthwise, pointwise, bias) to
    (initializer, regularizer, constraint). Subclasses give, in Keras's creation order, each weight's
    name, config prefix and shape (`_weights`), and the op calls (`_convolve`).
    """

    rank = 2
    paddings = ("valid", "same")

    def __init__(self, kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                 weight_args, activity_regularizer, **kwargs):
        super().__init__(**kwargs)
        self.kernel_size = standardize_tuple(kernel_size, self.rank, "kernel_size")
        self.strides = standardize_tuple(strides, self.rank, "strides")
        self.dilation_rate = standardize_tuple(dilation_rate, self.rank, "dilation_rate")
        self.padding = str(padding).lower()
        if self.padding not in self.paddings:
            raise ValueError(f"{type(self).__name__}: padding must be one of {self.paddings}, got {padding!r}.")
        self.data_format = channels_last_only(data_format)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self._prefixes = tuple(weight_args)
        for prefix, args in weight_args.items():
            set_weight_args(self, prefix, *args)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{type(self).__name__}: strides > 1 is not supported with dilation_rate > 1 "
                             f"(strides={self.strides}, dilation_rate={self.dilation_rate}).")

    def build(self, input_shape):
        check_ndim(self, input_shape, self.rank + 2)
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"Layer '{self.name}': the channel axis must be known, got shape {tuple(input_shape)}.")
        for name, (prefix, shape) in self._weights(channels).items():
            use = prefix != "bias" or self.use_bias
            setattr(self, name, add_prefixed_weight(self, prefix, shape, name) if use else None)
        self.built = True

    def call(self, inputs):
        bias = (self.bias.value,) if self.use_bias else ()
        return self.activation(self._convolve(inputs, bias))

    def _window(self):
        return dict(strides=self.strides, padding=self.padding, dilation=self.dilation_rate)

    def get_config(self):
        return {**base_config(self), "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format, "dilation_rate": self.dilation_rate,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                **weight_config(self, self._prefixes),
                "activity_regularizer": to_config(self.activity_regularizer, "keras.regularizers")}


class _Conv(_BaseConv):
    """Conv1D / Conv2D: kernel (*kernel_size, channels // groups, filters)."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1, groups=1,
                 activation=None, use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        weights = {"kernel": (kernel_initializer, kernel_regularizer, kernel_constraint),
                   "bias": (bias_initializer, bias_regularizer, bias_constraint)}
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias, weights,
                         activity_regularizer, **kwargs)
        self.filters = positive_int(filters, "filters")
        self.groups = positive_int(groups, "groups")
        if self.filters % self.groups:
            raise ValueError(f"{type(self).__name__}: filters={filters} must be divisible by groups={groups}.")

    def _weights(self, channels):
        if channels % self.groups:
            raise ValueError(f"Layer '{self.name}': {channels} input channels are not divisible by "
                             f"groups={self.groups}.")
        return {"kernel": ("kernel", self.kernel_size + (channels // self.groups, self.filters)),
                "bias": ("bias", (self.filters,))}

    def _convolve(self, x, bias):
        window = self._window()
        if self.padding == "causal":  # left-pad so output t only sees inputs <= t
            window["padding"] = ((self.dilation_rate[0] * (self.kernel_size[0] - 1), 0),)
        return ops.conv(x, self.kernel.value, *bias, groups=self.groups, **window)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "groups": self.groups}


class Conv1D(_Conv):
    rank = 1
    paddings = ("valid", "same", "causal")


class Conv2D(_Conv):
    rank = 2


class DepthwiseConv2D(_BaseConv):
    """kernel (*kernel_size, channels, depth_multiplier), configured by depthwise_*; output channel
    c * depth_multiplier + m."""

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, data_format=None, dilation_rate=1,
                 activation=None, use_bias=True, depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        weights = {"depthwise": (depthwise_initializer, depthwise_regularizer, depthwise_constraint),
                   "bias": (bias_initializer, bias_regularizer, bias_constraint)}
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias, weights,
                         activity_regularizer, **kwargs)
        self.depth_multiplier = positive_int(depth_multiplier, "depth_multiplier")

    def _weights(self, channels):
        return {"kernel": ("depthwise", self.kernel_size + (channels, self.depth_multiplier)),
                "bias": ("bias", (channels * self.depth_multiplier,))}

    def _convolve(self, x, bias):
        return ops.depthwise_conv(x, self.kernel.value, *bias, **self._window())

    def get_config(self):
        return {**super().get_config(), "depth_multiplier": self.depth_multiplier}


class SeparableConv2D(_BaseConv):
    """A depthwise conv (strides, padding, dilation) then a 1x1 pointwise conv with the bias, as Keras."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 depth_multiplier=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None, **kwargs):
        weights = {"depthwise": (depthwise_initializer, depthwise_regularizer, depthwise_constraint),
                   "pointwise": (pointwise_initializer, pointwise_regularizer, pointwise_constraint),
                   "bias": (bias_initializer, bias_regularizer, bias_constraint)}
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias, weights,
                         activity_regularizer, **kwargs)
        self.filters = positive_int(filters, "filters")
        self.depth_multiplier = positive_int(depth_multiplier, "depth_multiplier")

    def _weights(self, channels):
        return {"depthwise_kernel": ("depthwise", self.kernel_size + (channels, self.depth_multiplier)),
                "pointwise_kernel": ("pointwise", (1,) * self.rank + (channels * self.depth_multiplier, self.filters)),
                "bias": ("bias", (self.filters,))}

    def _convolve(self, x, bias):
        x = ops.depthwise_conv(x, self.depthwise_kernel.value, **self._window())
        return ops.conv(x, self.pointwise_kernel.value, *bias)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "depth_multiplier": self.depth_multiplier}


class Conv2DTranspose(_BaseConv):
    """kernel (*kernel_size, filters, channels); output size from padding/output_padding as Keras."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        weights = {"kernel": (kernel_initializer, kernel_regularizer, kernel_constraint),
                   "bias": (bias_initializer, bias_regularizer, bias_constraint)}
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias, weights,
                         activity_regularizer, **kwargs)
        self.filters = positive_int(filters, "filters")
        self.output_padding = None if output_padding is None else standardize_tuple(
            output_padding, self.rank, "output_padding", allow_zero=True)
        if self.output_padding is not None and any(p >= s for p, s in zip(self.output_padding, self.strides)):
            raise ValueError(f"Conv2DTranspose: output_padding {self.output_padding} must be smaller than "
                             f"strides {self.strides} on every axis.")

    def _weights(self, channels):
        return {"kernel": ("kernel", self.kernel_size + (self.filters, channels)), "bias": ("bias", (self.filters,))}

    def _convolve(self, x, bias):
        return ops.conv_transpose(x, self.kernel.value, *bias, output_padding=self.output_padding, **self._window())

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "output_padding": self.output_padding}
