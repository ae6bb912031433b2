"""What EarlyStopping, ModelCheckpoint and ReduceLROnPlateau share, as in Keras: one monitored log
entry, the direction in which it improves, and the `min_delta` rule for what counts as better."""

import warnings

import numpy as np

from edgekeras.callbacks.callback import Callback

# For metrics that do not declare Keras's `_direction`: name fragments of the built-in metrics that
# improve upwards, and of those that improve downwards (besides anything named "...loss").
_UP = ("acc", "auc", "precision", "recall", "iou", "f1_score", "fbeta_score", "r2_score",
       "cosine_similarity", "correlation")
_DOWN = ("loss", "error", "crossentropy", "hinge", "divergence", "poisson", "log_cosh", "mse", "mae", "mape", "msle")


def _direction(model, metric_name):
    for metric in getattr(model, "metrics", None) or []:
        if metric.name == metric_name and getattr(metric, "_direction", None) in ("up", "down"):
            return metric._direction
    if metric_name == "loss" or metric_name.endswith("_loss"):
        return "down"
    if any(word in metric_name for word in _UP):
        return "up"
    if any(word in metric_name for word in _DOWN):
        return "down"
    return None


class MonitorCallback(Callback):
    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{type(self).__name__} mode '{mode}' is unknown, fallback to auto mode.", stacklevel=2)
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op = None

    def _set_monitor_op(self):
        """Called on the first epoch end, once the model's metrics exist (as Keras does)."""
        direction = {"min": "down", "max": "up"}.get(self.mode)
        direction = direction or _direction(self.model, self.monitor.removeprefix("val_"))
        if direction is None:
            raise ValueError(
                f"{type(self).__name__} callback received monitor={self.monitor}, but edgekeras isn't able to "
                "automatically determine whether that metric should be maximized or minimized. Pass `mode='max'` "
                "in order to monitor based on the highest metric value, or pass `mode='min'` in order to use the "
                "lowest value.")
        self.monitor_op = np.less if direction == "down" else np.greater
        if direction == "down":
            self.min_delta = -self.min_delta

    def _is_improvement(self, monitor_value, reference_value):
        if reference_value is None:
            return True
        return bool(self.monitor_op(monitor_value - self.min_delta, reference_value))
