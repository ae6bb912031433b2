"""Core layers: Dense, Activation, Dropout, Embedding."""

from edgekeras import activations, ops, regularizers
from edgekeras.backend.random import next_key
from edgekeras.backend.symbolic import is_symbolic
from edgekeras.layers.common import (add_prefixed_weight, base_config, positive_int, set_weight_args, to_config,
                                     weight_config)
from edgekeras.layers.layer import Layer


def _no_quantization(layer, quantization_config):
    """Keras's in-layer quantization is not supported: edgekeras quantizes when it compiles."""
    if quantization_config is not None:
        raise ValueError(f"{layer}: quantization_config is not supported; quantize with the edgekeras compiler.")


class Dense(Layer):
    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, quantization_config=None,
                 **kwargs):
        kwargs.pop("lora_rank", None)
        kwargs.pop("lora_alpha", None)
        super().__init__(**kwargs)
        _no_quantization("Dense", quantization_config)
        self.units = positive_int(units, "units")
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        set_weight_args(self, "kernel", kernel_initializer, kernel_regularizer, kernel_constraint)
        set_weight_args(self, "bias", bias_initializer, bias_regularizer, bias_constraint)
        self.activity_regularizer = regularizers.get(activity_regularizer)

    def build(self, input_shape):
        in_features = input_shape[-1]
        if in_features is None:
            raise ValueError(f"Dense '{self.name}': the last axis of the input must be known, got shape {input_shape}.")
        self.kernel = add_prefixed_weight(self, "kernel", (in_features, self.units), "kernel")
        self.bias = add_prefixed_weight(self, "bias", (self.units,), "bias") if self.use_bias else None
        self.built = True

    def call(self, inputs):
        if self.use_bias:
            y = ops.dense(inputs, self.kernel.value, self.bias.value)
        else:
            y = ops.dense(inputs, self.kernel.value)
        return self.activation(y)

    def get_config(self):
        return {**base_config(self), "units": self.units, "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias, **weight_config(self, ("kernel", "bias")), "quantization_config": None}


class Activation(Layer):
    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self.built = True  # weightless layers Keras builds at init (they get no build_config)

    def call(self, inputs):
        return self.activation(inputs)

    def get_config(self):
        return {**base_config(self), "activation": activations.serialize(self.activation)}


class Dropout(Layer):
    """Drops inputs at `rate` during training (scaled by 1/(1-rate)); identity at inference.

    `noise_shape` entries of None take the input's size, so a mask can be shared along axes.
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate <= 1:
            raise ValueError(f"Dropout: rate must be in [0, 1], got {rate}.")
        self.rate = float(rate)
        self.noise_shape = noise_shape
        self.seed = seed
        self.built = True

    def call(self, inputs, training=False):
        if not training or self.rate == 0 or is_symbolic(inputs):  # symbolic: same shape as inference
            return inputs
        import jax

        keep = 1.0 - self.rate
        shape = inputs.shape if self.noise_shape is None else tuple(
            d if n is None else n for n, d in zip(self.noise_shape, inputs.shape))
        mask = jax.random.bernoulli(next_key(), keep, shape)
        return jax.numpy.where(mask, inputs / keep, 0.0).astype(inputs.dtype)

    def get_config(self):
        return {**base_config(self), "rate": self.rate, "seed": self.seed, "noise_shape": self.noise_shape}


class Embedding(Layer):
    """Rows of an (input_dim, output_dim) table at integer indices. `mask_zero=True` is refused:
    there is no mask machinery yet."""

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, weights=None, activity_regularizer=None,
                 quantization_config=None, **kwargs):
        for legacy in ("input_length", "lora_rank", "lora_alpha"):
            kwargs.pop(legacy, None)
        super().__init__(**kwargs)
        _no_quantization("Embedding", quantization_config)
        self.input_dim = positive_int(input_dim, "input_dim")
        self.output_dim = positive_int(output_dim, "output_dim")
        set_weight_args(self, "embeddings", embeddings_initializer, embeddings_regularizer, embeddings_constraint)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        if mask_zero:
            raise ValueError(f"Embedding '{self.name}': mask_zero=True is not supported yet (edgekeras has no masking); "
                             "models that rely on masks would compute different results.")
        self.mask_zero = mask_zero
        if weights is not None:
            self.build(None)
            self.set_weights(weights if isinstance(weights, list) and len(weights) == 1 else [weights])

    def build(self, input_shape):
        self.embeddings = add_prefixed_weight(self, "embeddings", (self.input_dim, self.output_dim), "embeddings")
        self.built = True

    def call(self, inputs):
        if str(inputs.dtype) not in ("int32", "int64"):
            inputs = ops.cast(inputs, dtype="int32")
        return ops.embedding(inputs, self.embeddings.value)

    def get_config(self):
        return {**base_config(self), "input_dim": self.input_dim, "output_dim": self.output_dim,
                **weight_config(self, ("embeddings",)),
                "activity_regularizer": to_config(self.activity_regularizer, "keras.regularizers"),
                "mask_zero": self.mask_zero, "quantization_config": None}
