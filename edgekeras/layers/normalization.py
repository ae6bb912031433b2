"""BatchNormalization and LayerNormalization with Keras 3's arguments, weights and configs."""

import numpy as np

from edgekeras import initializers, ops
from edgekeras.backend.symbolic import is_symbolic
from edgekeras.layers.common import (add_prefixed_weight, base_config, check_axis, get_initializer, set_weight_args,
                                     weight_config)
from edgekeras.layers.layer import Layer


def _param(layer, weight, shape, fill):
    """A weight's value, or a constant when center/scale is off (the ops always take gamma and beta)."""
    return weight.value if weight is not None else np.full(shape, fill, layer.dtype)


class BatchNormalization(Layer):
    """Inference: moving statistics. Training (and trainable): batch statistics, and the moving ones
    become moving * momentum + batch * (1 - momentum) (Keras's update, biased batch variance)."""

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 renorm=False, renorm_clipping=None, renorm_momentum=0.99, synchronized=False, **kwargs):
        super().__init__(**kwargs)
        if renorm:
            raise ValueError("BatchNormalization: renorm=True is not supported by edgekeras.")
        self.axis = int(axis)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center, self.scale = center, scale
        self.synchronized, self.renorm, self.renorm_clipping = synchronized, renorm, renorm_clipping
        self.renorm_momentum = renorm_momentum
        set_weight_args(self, "gamma", gamma_initializer, gamma_regularizer, gamma_constraint)
        set_weight_args(self, "beta", beta_initializer, beta_regularizer, beta_constraint)
        self.moving_mean_initializer = get_initializer(moving_mean_initializer)
        self.moving_variance_initializer = get_initializer(moving_variance_initializer)

    def build(self, input_shape):
        size = input_shape[check_axis(self, input_shape, self.axis)]
        if size is None:
            raise ValueError(f"Layer '{self.name}': axis {self.axis} of input {tuple(input_shape)} must be known.")
        self.gamma = add_prefixed_weight(self, "gamma", (size,), "gamma") if self.scale else None
        self.beta = add_prefixed_weight(self, "beta", (size,), "beta") if self.center else None
        self.moving_mean = self.add_weight((size,), self.moving_mean_initializer, trainable=False, name="moving_mean")
        self.moving_variance = self.add_weight((size,), self.moving_variance_initializer, trainable=False,
                                               name="moving_variance")
        self.built = True

    def call(self, inputs, training=None, mask=None):
        training = bool(training)
        axis = check_axis(self, inputs.shape, self.axis)
        mean, variance = self.moving_mean.value, self.moving_variance.value
        if training and self.trainable and not is_symbolic(inputs):  # symbolic: same shape as inference
            import jax.numpy as jnp

            stats_axes = tuple(i for i in range(inputs.ndim) if i != axis)
            mean, variance = jnp.mean(inputs, axis=stats_axes), jnp.var(inputs, axis=stats_axes)
            self.moving_mean.assign(self.moving_mean.value * self.momentum + mean * (1.0 - self.momentum))
            self.moving_variance.assign(self.moving_variance.value * self.momentum + variance * (1.0 - self.momentum))
        shape = self.moving_mean.shape
        return ops.batch_norm(inputs, mean, variance, _param(self, self.gamma, shape, 1.0),
                              _param(self, self.beta, shape, 0.0), axis=axis, epsilon=self.epsilon)

    def get_config(self):
        return {**base_config(self), "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale, **weight_config(self, ("beta", "gamma")),
                "moving_mean_initializer": initializers.serialize_initializer(self.moving_mean_initializer),
                "moving_variance_initializer": initializers.serialize_initializer(self.moving_variance_initializer),
                "synchronized": self.synchronized, "renorm": self.renorm, "renorm_clipping": self.renorm_clipping,
                "renorm_momentum": self.renorm_momentum}


class LayerNormalization(Layer):
    """Normalize each sample over `axis` (int or list). Like Keras, building turns `axis` into a sorted list."""

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, rms_scaling=False, **kwargs):
        super().__init__(**kwargs)
        if rms_scaling:
            raise ValueError("LayerNormalization: rms_scaling=True (deprecated in Keras) is not supported.")
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else int(axis)
        self.epsilon = epsilon
        self.center, self.scale, self.rms_scaling = center, scale, rms_scaling
        set_weight_args(self, "gamma", gamma_initializer, gamma_regularizer, gamma_constraint)
        set_weight_args(self, "beta", beta_initializer, beta_regularizer, beta_constraint)

    def build(self, input_shape):
        self.axis = sorted(self.axis) if isinstance(self.axis, list) else [self.axis]
        shape = tuple(input_shape[check_axis(self, input_shape, a)] for a in self.axis)
        if None in shape:
            raise ValueError(f"Layer '{self.name}': axes {self.axis} of input {tuple(input_shape)} must be known.")
        self.gamma = add_prefixed_weight(self, "gamma", shape, "gamma") if self.scale else None
        self.beta = add_prefixed_weight(self, "beta", shape, "beta") if self.center else None
        self._param_shape = shape
        self.built = True

    def call(self, inputs):
        shape = self._param_shape
        return ops.layer_norm(inputs, _param(self, self.gamma, shape, 1.0), _param(self, self.beta, shape, 0.0),
                              axes=tuple(self.axis), epsilon=self.epsilon)

    def get_config(self):
        return {**base_config(self), "axis": self.axis, "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale, "rms_scaling": self.rms_scaling, **weight_config(self, ("beta", "gamma"))}
