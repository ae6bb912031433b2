"""Regression metrics: the loss functions' per-sample values, averaged over samples and batches."""

from edgekeras.losses import mean_absolute_error, mean_squared_error
from edgekeras.metrics.base import _BuiltinMeanMetric


class MeanSquaredError(_BuiltinMeanMetric):
    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(_BuiltinMeanMetric):
    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, dtype=dtype)
