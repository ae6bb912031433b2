"""The layers `quantize_model` builds a quantization-aware model from.

- `FakeQuant`: a point where the int8 model holds an int8 tensor. Its range (non-trainable `lo`, `hi`)
  follows the batch min/max by an exponential moving average while training (the first batch sets
  it) and is frozen otherwise; the forward pass rounds to that range's int8 grid (`fake_quant` op).
  Until it has seen a training batch it passes values through and traces to nothing, so the
  compiler then needs calibration data for that tensor.
- `QuantizeWrapper`: runs a layer as the int8 model will: a Conv2D / DepthwiseConv2D / Dense kernel
  fake-quantized per output channel, the activation applied by the wrapper (with a FakeQuant before
  it unless it is a clamp the int8 kernel fuses: none, ReLU, ReLU6) and a FakeQuant on the output.

Both are registered for `.keras` files as "edgekeras>FakeQuant" / "edgekeras>QuantizeWrapper"
(importing `edgekeras.quantize` registers them).
"""

import numpy as np

from edgekeras import activations, initializers, ops
from edgekeras.backend.symbolic import is_symbolic
from edgekeras.backend.variables import ValueScope
from edgekeras.layers.common import base_config
from edgekeras.layers.layer import Layer
from edgekeras.ops.fake_quant import fake_quant_weights
from edgekeras.quantize import arith
from edgekeras.saving.registry import register_keras_serializable

# TFLite fixes int8 softmax outputs at scale 1/256, zero point -128: this range gives exactly that grid.
SOFTMAX_RANGE = (0.0, (arith.QMAX - arith.QMIN) * arith.SOFTMAX_SCALE)


def is_clamp(activation):
    """Activations an int8 kernel applies as an output clamp (no table, no range of its own before it)."""
    return activation in (activations.linear, activations.relu, activations.relu6)


@register_keras_serializable(package="edgekeras")
class FakeQuant(Layer):
    """Rounds its input to an int8 grid; `fixed_range=(lo, hi)` pins the range (softmax outputs)."""

    def __init__(self, momentum=0.99, fixed_range=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= float(momentum) < 1.0:
            raise ValueError(f"FakeQuant: momentum must be in [0, 1), got {momentum}.")
        self.momentum = float(momentum)
        self.fixed_range = None if fixed_range is None else tuple(float(v) for v in fixed_range)

    def build(self, input_shape):
        if self.fixed_range is None:  # lo > hi marks "no batch seen yet"
            self.lo = self.add_weight((), initializers.Constant(np.inf), trainable=False, name="lo")
            self.hi = self.add_weight((), initializers.Constant(-np.inf), trainable=False, name="hi")
        self.built = True

    def range(self):
        """(lo, hi) as floats, or None before the first training batch."""
        if self.fixed_range is not None:
            return self.fixed_range
        lo, hi = float(self.lo.numpy()), float(self.hi.numpy())
        return None if lo > hi else (lo, hi)

    def call(self, inputs, training=None):
        if is_symbolic(inputs):
            span = self.range()
            return inputs if span is None else ops.fake_quant(inputs, lo=span[0], hi=span[1])
        if self.fixed_range is not None:
            return ops.fake_quant(inputs, lo=self.fixed_range[0], hi=self.fixed_range[1])
        import jax
        import jax.numpy as jnp

        lo, hi = self.lo.value, self.hi.value
        if training and self.trainable:
            batch_lo, batch_hi = (jax.lax.stop_gradient(f(inputs)).astype(jnp.float32) for f in (jnp.min, jnp.max))
            fresh = lo > hi
            lo = jnp.where(fresh, batch_lo, lo * self.momentum + batch_lo * (1.0 - self.momentum))
            hi = jnp.where(fresh, batch_hi, hi * self.momentum + batch_hi * (1.0 - self.momentum))
            self.lo.assign(lo)
            self.hi.assign(hi)
        return jnp.where(lo > hi, inputs, ops.fake_quant(inputs, lo=lo, hi=hi))

    def get_config(self):
        return {**base_config(self), "momentum": self.momentum,
                "fixed_range": None if self.fixed_range is None else list(self.fixed_range)}


@register_keras_serializable(package="edgekeras")
class QuantizeWrapper(Layer):
    """`layer` (built with no activation) under int8 simulation; see the module docstring."""

    def __init__(self, layer, activation=None, quantize_output=True, output_range=None, momentum=0.99, **kwargs):
        if isinstance(layer, dict):
            from edgekeras.saving.serialize import deserialize

            layer = deserialize(layer)
        kwargs.setdefault("name", layer.name)
        super().__init__(**kwargs)
        self.layer = layer
        self.activation = activations.get(activation)
        self.quantize_output = bool(quantize_output)
        self.output_range = None if output_range is None else tuple(float(v) for v in output_range)
        self.momentum = float(momentum)
        if not is_clamp(self.activation):
            self.pre_quant = FakeQuant(momentum, name=f"{self.name}_pre_quant")
        if self.quantize_output:
            self.output_quant = FakeQuant(momentum, self.output_range, name=f"{self.name}_quant")

    def call(self, inputs, training=None):
        kernel = getattr(self.layer, "kernel", None)
        if kernel is None or is_symbolic(inputs):  # traces keep float weights: the compiler quantizes them
            y = self.layer(inputs, training=training)
        else:
            y = _with_value(kernel, fake_quant_weights(_output_channels_last(self.layer, kernel.value)),
                            lambda: self.layer(inputs, training=training))
        if not is_clamp(self.activation):
            y = self.pre_quant(y, training=training)
        y = self.activation(y)
        return self.output_quant(y, training=training) if self.quantize_output else y

    def get_config(self):
        from edgekeras.saving.serialize import serialize_layer

        return {**base_config(self), "layer": serialize_layer(self.layer),
                "activation": activations.serialize(self.activation), "quantize_output": self.quantize_output,
                "output_range": None if self.output_range is None else list(self.output_range),
                "momentum": self.momentum}


def _output_channels_last(layer, kernel):
    """The kernel with its output channels on one last axis (depthwise: channel * multiplier)."""
    from edgekeras.layers.convolutional import DepthwiseConv2D

    return kernel.reshape(kernel.shape[:-2] + (-1,)) if isinstance(layer, DepthwiseConv2D) else kernel


def _with_value(variable, value, fn):
    """Run fn() with `variable` reading `value` (reshaped back to the variable's shape)."""
    outer = ValueScope.current()
    values = dict(outer.values) if outer is not None else {}
    values[id(variable)] = value.reshape(variable.shape)
    with ValueScope(values):
        return fn()
