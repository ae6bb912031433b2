"""Pooling layers (window and global), Keras 3 arguments and configs, on the pool/reduce ops."""

from edgekeras import ops
from edgekeras.layers.common import base_config, channels_last_only, check_ndim, standardize_tuple
from edgekeras.layers.layer import Layer


class _Pooling(Layer):
    """Window pooling; strides default to pool_size. `padding` is stored as given, as Keras does."""

    rank, op = 2, None

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.pool_size = standardize_tuple(pool_size, self.rank, "pool_size")
        self.strides = standardize_tuple(pool_size if strides is None else strides, self.rank, "strides")
        self.padding = padding
        if str(padding).lower() not in ("valid", "same"):
            raise ValueError(f"{type(self).__name__}: padding must be 'valid' or 'same', got {padding!r}.")
        self.data_format = channels_last_only(data_format)
        self.built = True  # no weights: built at init, as Keras's pooling layers (so no build_config)

    def call(self, inputs):
        check_ndim(self, inputs.shape, self.rank + 2)
        return self.op(inputs, pool_size=self.pool_size, strides=self.strides, padding=self.padding.lower())

    def get_config(self):
        return {**base_config(self), "pool_size": self.pool_size, "padding": self.padding, "strides": self.strides,
                "data_format": self.data_format}


class MaxPooling1D(_Pooling):
    rank, op = 1, ops.max_pool

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)


class MaxPooling2D(_Pooling):
    rank, op = 2, ops.max_pool

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)


class AveragePooling1D(_Pooling):
    rank, op = 1, ops.avg_pool


class AveragePooling2D(_Pooling):
    rank, op = 2, ops.avg_pool


class _GlobalPooling(Layer):
    """Reduce every spatial axis; keepdims leaves them as size 1."""

    rank, op = 2, None

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = channels_last_only(data_format)
        self.keepdims = keepdims
        self.built = True  # as Keras's global pooling layers

    def call(self, inputs):
        check_ndim(self, inputs.shape, self.rank + 2)
        return self.op(inputs, axes=tuple(range(1, self.rank + 1)), keepdims=self.keepdims)

    def get_config(self):
        return {**base_config(self), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalAveragePooling1D(_GlobalPooling):
    rank, op = 1, ops.reduce_mean

    def call(self, inputs, mask=None):  # Keras's signature (it records `mask` in saved call args)
        return super().call(inputs)


class GlobalAveragePooling2D(_GlobalPooling):
    rank, op = 2, ops.reduce_mean


class GlobalMaxPooling1D(_GlobalPooling):
    rank, op = 1, ops.reduce_max


class GlobalMaxPooling2D(_GlobalPooling):
    rank, op = 2, ops.reduce_max
