"""Core layers: Dense, Activation, Dropout."""

from edgekeras import activations, initializers, ops, regularizers
from edgekeras.backend.random import next_key
from edgekeras.layers.layer import Layer


class Dense(Layer):
    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        kwargs.pop("lora_rank", None)
        kwargs.pop("lora_alpha", None)
        super().__init__(**kwargs)
        self.units = int(units)
        if self.units <= 0:
            raise ValueError(f"Dense: units must be a positive integer, got {units}.")
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)

    def build(self, input_shape):
        in_features = input_shape[-1]
        if in_features is None:
            raise ValueError(f"Dense '{self.name}': the last axis of the input must be known, got shape {input_shape}.")
        self.kernel = self.add_weight((in_features, self.units), self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, name="kernel")
        self.bias = (self.add_weight((self.units,), self.bias_initializer, regularizer=self.bias_regularizer,
                                     name="bias") if self.use_bias else None)
        self.built = True

    def call(self, inputs):
        if self.use_bias:
            y = ops.dense(inputs, self.kernel.value, self.bias.value)
        else:
            y = ops.dense(inputs, self.kernel.value)
        return self.activation(y)


class Activation(Layer):
    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs):
        return self.activation(inputs)


class Dropout(Layer):
    """Drops inputs at `rate` during training (scaled by 1/(1-rate)); identity at inference."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate <= 1:
            raise ValueError(f"Dropout: rate must be in [0, 1], got {rate}.")
        self.rate = float(rate)
        self.noise_shape = noise_shape
        self.seed = seed

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        import jax

        keep = 1.0 - self.rate
        mask = jax.random.bernoulli(next_key(), keep, inputs.shape)
        return jax.numpy.where(mask, inputs / keep, 0.0).astype(inputs.dtype)
