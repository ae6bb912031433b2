"""The Metric base class, `Mean`, and `MeanMetricWrapper` (a per-sample function averaged over batches).

State lives in Variables updated with `assign` on jax.numpy values, and `result()` is pure
jax.numpy, so the trainer can run metrics inside a `ValueScope` under `jax.jit` (eagerly they
update the variables in place).
"""

import jax.numpy as jnp

from edgekeras import initializers
from edgekeras.backend.config import floatx
from edgekeras.backend.variables import Variable, unique_name
from edgekeras.layers.layer import to_snake_case
from edgekeras.losses import FunctionArguments, divide_no_nan, serialize, squeeze_or_expand_to_same_rank


class Metric:
    def __init__(self, name=None, dtype=None):
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self.dtype = dtype or floatx()
        self._variables = []

    def add_variable(self, shape, initializer="zeros", dtype=None, name=None):
        dtype = dtype or self.dtype
        value = initializers.get(initializer)(tuple(shape), dtype=dtype)
        variable = Variable(value, trainable=False, name=name, dtype=dtype, path=f"{self.name}/{name}")
        self._variables.append(variable)
        return variable

    add_weight = add_variable

    @property
    def variables(self):
        return list(self._variables)

    def reset_state(self):
        for v in self._variables:
            v.assign(jnp.zeros(v.shape, v.dtype))

    def update_state(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement update_state().")

    def result(self):
        raise NotImplementedError(f"{type(self).__name__} must implement result().")

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def reduce_to_samplewise_values(values, sample_weight, dtype):
    """Keras's reduction of values (and weights) to one weighted value per sample, by mean."""
    values = jnp.asarray(values).astype(dtype)
    if sample_weight is not None:
        values, sample_weight = squeeze_or_expand_to_same_rank(values, jnp.asarray(sample_weight, dtype))
        if values.ndim > sample_weight.ndim:
            values = jnp.mean(values, axis=tuple(range(sample_weight.ndim, values.ndim)))
        sample_weight = jnp.broadcast_to(sample_weight, values.shape)
        values = values * sample_weight
        if sample_weight.ndim > 1:
            sample_weight = jnp.mean(sample_weight, axis=tuple(range(1, sample_weight.ndim)))
    if values.ndim > 1:
        values = jnp.mean(values, axis=tuple(range(1, values.ndim)))
    return values, sample_weight


class Mean(Metric):
    """The (weighted) mean of all values seen; the trainer's loss tracker."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), name="total")
        self.count = self.add_variable((), name="count")

    def update_state(self, values, sample_weight=None):
        values, sample_weight = reduce_to_samplewise_values(values, sample_weight, self.dtype)
        self.total.assign(self.total.value + jnp.sum(values))
        if sample_weight is not None:
            count = jnp.sum(sample_weight)
        else:
            count = values.shape[0] if values.ndim >= 1 else 1
        self.count.assign(self.count.value + jnp.asarray(count, self.dtype))

    def result(self):
        return divide_no_nan(self.total.value, self.count.value)


class MeanMetricWrapper(Mean):
    """Averages `fn(y_true, y_pred, **kwargs)` over samples and batches."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or fn.__name__, dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        super().update_state(self._fn(y_true, y_pred, **self._fn_kwargs), sample_weight=sample_weight)

    def get_config(self):
        return {**super().get_config(), "fn": serialize(self._fn), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config):
        from edgekeras.metrics import get_function  # the package registry (metric and loss functions)

        config = dict(config)
        return cls(get_function(config.pop("fn")), **config)


class _BuiltinMeanMetric(FunctionArguments, MeanMetricWrapper):
    """A built-in wrapper class: its config lists its own arguments, not `fn`."""

    def get_config(self):
        return {**Metric.get_config(self), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
