"""Losses with Keras 3 names, math (probabilities clipped to [1e-7, 1 - 1e-7]), reductions and configs.

Function forms (`mean_squared_error(y_true, y_pred)`) return one value per sample; `Loss` objects
weight and reduce them ("sum_over_batch_size" by default: the weighted sum divided by the number of
values). Everything is jax.numpy, so losses run inside the jit-compiled train step.
"""

import jax
import jax.numpy as jnp

from edgekeras.backend.config import epsilon, floatx
from edgekeras.backend.variables import unique_name
from edgekeras.layers.layer import to_snake_case
from edgekeras.serialization import serialize as _serialize

REDUCTIONS = ("sum_over_batch_size", "sum", None, "none", "mean", "mean_with_sample_weight")


# ---- shapes and reductions (shared with metrics) -------------------------------------------------
def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Align ranks that differ by one trailing dimension of size 1, as Keras does."""
    if x1.ndim == x2.ndim + 1 and x1.shape[-1] == 1:
        return (x1, jnp.expand_dims(x2, -1)) if x2.ndim == 1 and expand_rank_1 else (jnp.squeeze(x1, -1), x2)
    if x2.ndim == x1.ndim + 1 and x2.shape[-1] == 1:
        return (jnp.expand_dims(x1, -1), x2) if x1.ndim == 1 and expand_rank_1 else (x1, jnp.squeeze(x2, -1))
    return x1, x2


def divide_no_nan(a, b):
    return jnp.where(b == 0, jnp.zeros_like(a), a / jnp.where(b == 0, jnp.ones_like(b), b))


def reduce_weighted_values(values, sample_weight=None, mask=None, reduction="sum_over_batch_size"):
    """Keras's `reduce_weighted_values`: weight (and mask) per-sample values, then reduce them."""
    values = jnp.asarray(values)
    if mask is not None:
        mask = mask.astype(values.dtype)
        if reduction in ("mean", "sum_over_batch_size"):
            # Masked-out entries get weight 0, the rest total/valid: the mean is then over valid entries.
            mask = mask * divide_no_nan(jnp.asarray(mask.size, values.dtype), jnp.sum(mask))
        if sample_weight is not None:
            mask, sample_weight = squeeze_or_expand_to_same_rank(mask, jnp.asarray(sample_weight, values.dtype))
            sample_weight = sample_weight * mask
        else:
            sample_weight = mask
    if sample_weight is not None:
        values, sample_weight = squeeze_or_expand_to_same_rank(values, jnp.asarray(sample_weight, values.dtype))
        values = values * sample_weight
    if reduction in (None, "none") or values.ndim == 0 or values.shape == (0,):
        return values
    loss = jnp.sum(values)
    if reduction == "sum":
        return loss
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return divide_no_nan(loss, jnp.sum(sample_weight))
    return divide_no_nan(loss, jnp.asarray(values.size, loss.dtype))


def _prepare(y_true, y_pred):
    y_pred = jnp.asarray(y_pred)
    return squeeze_or_expand_to_same_rank(jnp.asarray(y_true, y_pred.dtype), y_pred)


# ---- function forms ------------------------------------------------------------------------------
def mean_squared_error(y_true, y_pred):
    y_true, y_pred = _prepare(y_true, y_pred)
    return jnp.mean(jnp.square(y_true - y_pred), axis=-1)


def mean_absolute_error(y_true, y_pred):
    y_true, y_pred = _prepare(y_true, y_pred)
    return jnp.mean(jnp.abs(y_true - y_pred), axis=-1)


def huber(y_true, y_pred, delta=1.0):
    y_true, y_pred = _prepare(y_true, y_pred)
    error = y_pred - y_true
    abs_error = jnp.abs(error)
    delta = jnp.asarray(delta, y_pred.dtype)
    quadratic = 0.5 * jnp.square(error)
    linear = delta * abs_error - 0.5 * jnp.square(delta)
    return jnp.mean(jnp.where(abs_error <= delta, quadratic, linear), axis=-1)


def _clip_probabilities(p):
    return jnp.clip(p, epsilon(), 1.0 - epsilon())


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    y_pred = jnp.asarray(y_pred)
    y_true = jnp.asarray(y_true).astype(y_pred.dtype)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        bce = -y_true * jax.nn.log_sigmoid(y_pred) - (1.0 - y_true) * jax.nn.log_sigmoid(-y_pred)
    else:
        p = _clip_probabilities(y_pred)
        bce = -(y_true * jnp.log(p) + (1.0 - y_true) * jnp.log(1.0 - p))
    return jnp.mean(bce, axis=axis)


def _log_probabilities(y_pred, from_logits, axis):
    """Log-softmax of logits, or log of probabilities renormalized to sum 1 and clipped."""
    if from_logits:
        return jax.nn.log_softmax(y_pred, axis=axis)
    return jnp.log(_clip_probabilities(y_pred / jnp.sum(y_pred, axis=axis, keepdims=True)))


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    y_pred = jnp.asarray(y_pred)
    y_true = jnp.asarray(y_true).astype(y_pred.dtype)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[-1]
    return -jnp.sum(y_true * _log_probabilities(y_pred, from_logits, axis), axis=axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Ignored labels (`ignore_class`) give 0 here; `SparseCategoricalCrossentropy` also excludes
    them from the mean."""
    y_pred = jnp.asarray(y_pred)
    y_true = jnp.asarray(y_true)
    if y_true.ndim == y_pred.ndim and y_true.shape[axis] == 1:
        y_true = jnp.squeeze(y_true, axis)
    valid = None
    if ignore_class is not None:
        valid = y_true != ignore_class
        y_true = jnp.where(valid, y_true, 0)
    log_prob = _log_probabilities(y_pred, from_logits, axis)
    one_hot = jax.nn.one_hot(y_true.astype(jnp.int32), y_pred.shape[axis], axis=axis, dtype=y_pred.dtype)
    result = -jnp.sum(one_hot * log_prob, axis=axis)
    return result if valid is None else jnp.where(valid, result, 0.0)


# ---- loss objects --------------------------------------------------------------------------------
class Loss:
    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in REDUCTIONS:
            raise ValueError(f"Invalid value for argument `reduction`. Expected one of {REDUCTIONS}. "
                             f"Received: reduction={reduction}")
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self.reduction = reduction
        self.dtype = dtype or floatx()

    def __call__(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = jnp.asarray(y_true, self.dtype), jnp.asarray(y_pred, self.dtype)
        return reduce_weighted_values(self.call(y_true, y_pred), sample_weight, self.mask(y_true, y_pred),
                                      self.reduction)

    def call(self, y_true, y_pred):
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred).")

    def mask(self, y_true, y_pred):
        """Per-value mask of `call`'s output, or None (entries masked out leave the mean)."""
        return None

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class LossFunctionWrapper(Loss):
    """A function form turned into a `Loss` (what Keras's compile does with "mse" and friends)."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name or fn.__name__, reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        return {**super().get_config(), "fn": serialize(self.fn), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(get_function(config.pop("fn")), **config)


class FunctionArguments:
    """Exposes a wrapper's function arguments as attributes, as Keras's classes do (`loss.from_logits`)."""

    def __getattr__(self, name):
        kwargs = self.__dict__.get("_fn_kwargs", {})
        if name in kwargs:
            return kwargs[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")


class _BuiltinLoss(FunctionArguments, LossFunctionWrapper):
    """A built-in class: its config lists its own arguments, not `fn`.

    Keras's config leaves out Huber's `delta` and SparseCategoricalCrossentropy's `axis`; ours keeps
    them (Keras reads them back) so that a round trip loses nothing.
    """

    def get_config(self):
        return {**Loss.get_config(self), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class MeanSquaredError(_BuiltinLoss):
    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, reduction=reduction, name=name, dtype=dtype)


class MeanAbsoluteError(_BuiltinLoss):
    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, reduction=reduction, name=name, dtype=dtype)


class Huber(_BuiltinLoss):
    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(huber, reduction=reduction, name=name, dtype=dtype, delta=delta)


class BinaryCrossentropy(_BuiltinLoss):
    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_crossentropy", dtype=None):
        super().__init__(binary_crossentropy, reduction=reduction, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


class CategoricalCrossentropy(_BuiltinLoss):
    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="categorical_crossentropy", dtype=None):
        super().__init__(categorical_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(_BuiltinLoss):
    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size", axis=-1,
                 name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(sparse_categorical_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=from_logits, ignore_class=ignore_class, axis=axis)

    def mask(self, y_true, y_pred):
        ignore_class, axis = self._fn_kwargs["ignore_class"], self._fn_kwargs["axis"]
        if ignore_class is None:
            return None
        if y_true.ndim == y_pred.ndim and y_true.shape[axis] == 1:
            y_true = jnp.squeeze(y_true, axis)
        return y_true != ignore_class


# ---- lookup and serialization --------------------------------------------------------------------
_CLASSES = {cls.__name__: cls for cls in (MeanSquaredError, MeanAbsoluteError, Huber, BinaryCrossentropy,
                                          CategoricalCrossentropy, SparseCategoricalCrossentropy,
                                          LossFunctionWrapper)}
_FUNCTIONS = {fn.__name__: fn for fn in (mean_squared_error, mean_absolute_error, huber, binary_crossentropy,
                                         categorical_crossentropy, sparse_categorical_crossentropy)}
_FUNCTIONS.update({"mse": mean_squared_error, "mae": mean_absolute_error, "bce": binary_crossentropy})


def _known():
    return ", ".join(sorted(set(_CLASSES) | set(_FUNCTIONS)))


def get_function(identifier):
    """The function form named by a string ("mse", case-insensitive) or a serialized function dict."""
    name = identifier.get("config") if isinstance(identifier, dict) else identifier
    fn = _FUNCTIONS.get(name) or _FUNCTIONS.get(str(name).lower())
    if fn is None:
        raise ValueError(f"Unknown loss function '{name}'. Known losses: {_known()}.")
    return fn


def get(identifier):
    """A `Loss` from a name, a serialized dict, a `Loss` or a function; None stays None.

    Function names ("mse", "categorical_crossentropy") and plain callables are wrapped in a
    `LossFunctionWrapper` named as given, as Keras's `compile` does, so the result is always
    `loss(y_true, y_pred, sample_weight=None) -> scalar`.
    """
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type):
        return identifier()
    if isinstance(identifier, str):
        if identifier in _CLASSES and identifier != "LossFunctionWrapper":
            return _CLASSES[identifier]()
        return LossFunctionWrapper(get_function(identifier), name=identifier)
    if isinstance(identifier, dict):
        name = identifier.get("class_name")
        if name == "function":
            return LossFunctionWrapper(get_function(identifier))
        if name not in _CLASSES:
            raise ValueError(f"Unknown loss class '{name}' in config {identifier}. Known losses: {_known()}.")
        return _CLASSES[name].from_config(identifier.get("config") or {})
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}")


def serialize(loss):
    """The dict Keras writes: classes under "keras.losses", functions as builtins "function"."""
    if isinstance(loss, Loss):
        if type(loss) is LossFunctionWrapper:
            return {"module": "keras.src.losses.losses", "class_name": "LossFunctionWrapper",
                    "config": loss.get_config(), "registered_name": "LossFunctionWrapper"}
        return _serialize(loss, "keras.losses")
    return {"module": "builtins", "class_name": "function", "config": loss.__name__, "registered_name": "function"}


def deserialize(config):
    return get(config)


def label_kind(y_true_shape, y_pred_shape):
    """Keras's reading of label/output shapes: (is_binary, is_sparse_categorical)."""
    is_binary = y_pred_shape[-1] == 1
    is_sparse = len(y_true_shape) < len(y_pred_shape) or (y_true_shape[-1] == 1 and y_pred_shape[-1] > 1)
    return is_binary, is_sparse


def compile_loss(identifier, y_true_shape=None, y_pred_shape=None):
    """`get`, plus Keras's "crossentropy"/"ce", which picks binary, sparse or categorical by shapes."""
    if isinstance(identifier, str) and identifier.lower() in ("crossentropy", "ce"):
        is_binary, is_sparse = label_kind(y_true_shape, y_pred_shape)
        fn = binary_crossentropy if is_binary else sparse_categorical_crossentropy if is_sparse \
            else categorical_crossentropy
        return LossFunctionWrapper(fn, name=identifier)
    return get(identifier)
