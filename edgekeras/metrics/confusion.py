"""Metrics built on weighted confusion-matrix counts at thresholds: Precision, Recall, AUC.

A prediction counts as positive at a threshold when it is strictly greater than it; labels are
positive when non-zero. Counts follow Keras's `update_confusion_matrix_variables`, including its
bucketed form for evenly spaced thresholds (one scatter-add instead of one comparison per threshold).
"""

import jax
import jax.numpy as jnp
import numpy as np

from edgekeras.backend.config import epsilon
from edgekeras.losses import divide_no_nan, squeeze_or_expand_to_same_rank
from edgekeras.metrics.base import Metric

NEG_INF = -1e10


def _parse_thresholds(thresholds, default):
    if thresholds is None:
        return [default]
    thresholds = list(thresholds) if isinstance(thresholds, (list, tuple, np.ndarray)) else [thresholds]
    invalid = [t for t in thresholds if t is None or t < 0 or t > 1]
    if invalid:
        raise ValueError(f"Threshold values must be in [0, 1]. Received: {invalid}")
    return thresholds


def _evenly_spaced(thresholds):
    n = len(thresholds)
    return n >= 3 and np.allclose(thresholds, np.arange(n, dtype=np.float32) / (n - 1), atol=epsilon())


def _aligned(y_true, y_pred, sample_weight, top_k=None, class_id=None):
    """Labels, predictions and per-prediction weights, aligned as Keras aligns them."""
    y_pred, y_true = squeeze_or_expand_to_same_rank(jnp.asarray(y_pred, jnp.float32),
                                                    jnp.asarray(y_true, jnp.float32))
    weights = None
    if sample_weight is not None:
        weights = jnp.expand_dims(jnp.asarray(sample_weight, jnp.float32), -1)
        _, weights = squeeze_or_expand_to_same_rank(y_true, weights, expand_rank_1=False)
    if top_k is not None:
        # Predictions outside the top k drop to NEG_INF, below every threshold.
        in_top = jnp.sum(jax.nn.one_hot(jax.lax.top_k(y_pred, top_k)[1], y_pred.shape[-1]), axis=-2)
        y_pred = y_pred * in_top + NEG_INF * (1 - in_top)
    if class_id is not None:
        if y_pred.ndim == 1:
            raise ValueError("When class_id is provided, y_pred must be a 2D array with shape "
                             f"(num_samples, num_classes), found shape: {y_pred.shape}")
        y_true, y_pred = y_true[..., class_id, None], y_pred[..., class_id, None]
    weights = jnp.ones_like(y_pred) if weights is None else jnp.broadcast_to(weights, y_pred.shape)
    return y_true, y_pred, weights


def confusion_counts(y_true, y_pred, weights, thresholds, evenly_spaced):
    """Weighted (tp, fp, tn, fn) at each threshold; [N, L] inputs give [T, L] counts."""
    positive = (y_true != 0).astype(jnp.float32)
    true_w, false_w = positive * weights, (1.0 - positive) * weights
    if evenly_spaced:
        n = len(thresholds)
        # A prediction p lies above thresholds 0 .. ceil(p * (n - 1)) - 1: add it to that bucket, then
        # accumulate buckets from the top. Thresholds padded by epsilon (AUC's) catch p = 0 in bucket 0.
        bucket = jnp.ceil(jnp.clip(y_pred, 0.0, 1.0) * (n - 1)) - 1
        if thresholds[0] < 0.0 or thresholds[-1] > 1.0:
            bucket = jnp.maximum(bucket, 0)
        bucket = jnp.where(bucket < 0, n, bucket).astype(jnp.int32)  # index n is dropped: above none
        columns = jnp.broadcast_to(jnp.arange(y_pred.shape[1]), bucket.shape)

        def above(w):
            per_bucket = jnp.zeros((n, y_pred.shape[1]), jnp.float32).at[bucket, columns].add(w, mode="drop")
            return jnp.cumsum(per_bucket[::-1], axis=0)[::-1]

        tp, fp = above(true_w), above(false_w)
    else:
        is_above = y_pred[None] > jnp.asarray(thresholds, jnp.float32)[:, None, None]
        tp = jnp.sum(jnp.where(is_above, true_w, 0.0), axis=1)
        fp = jnp.sum(jnp.where(is_above, false_w, 0.0), axis=1)
    return tp, fp, jnp.sum(false_w, axis=0) - fp, jnp.sum(true_w, axis=0) - tp


class _ThresholdRatio(Metric):
    """tp / (tp + other) at each threshold, `other` being false positives (precision) or negatives (recall)."""

    other = None

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        self.thresholds = _parse_thresholds(thresholds, 0.5 if top_k is None else NEG_INF)
        self._evenly_spaced = _evenly_spaced(self.thresholds)
        self.true_positives = self.add_variable((len(self.thresholds),), name="true_positives")
        setattr(self, self.other, self.add_variable((len(self.thresholds),), name=self.other))

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred, weights = _aligned(y_true, y_pred, sample_weight, self.top_k, self.class_id)
        tp, fp, _, fn = confusion_counts(y_true.reshape(-1, 1), y_pred.reshape(-1, 1), weights.reshape(-1, 1),
                                         self.thresholds, self._evenly_spaced)
        other = getattr(self, self.other)
        self.true_positives.assign(self.true_positives.value + tp[:, 0])
        other.assign(other.value + (fp if self.other == "false_positives" else fn)[:, 0])

    def result(self):
        tp = self.true_positives.value
        ratio = divide_no_nan(tp, tp + getattr(self, self.other).value)
        return ratio[0] if len(self.thresholds) == 1 else ratio

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds, "top_k": self.top_k,
                "class_id": self.class_id}


class Precision(_ThresholdRatio):
    other = "false_positives"


class Recall(_ThresholdRatio):
    other = "false_negatives"


_CURVES = {"roc": "ROC", "pr": "PR"}
_SUMMATIONS = ("interpolation", "majoring", "minoring")


class AUC(Metric):
    """Area under the ROC or PR curve, by a Riemann sum over `num_thresholds` thresholds."""

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name=None, dtype=None,
                 thresholds=None, multi_label=False, num_labels=None, label_weights=None, from_logits=False):
        if str(curve).lower() not in _CURVES:
            raise ValueError(f'Invalid AUC curve value: "{curve}". Expected values are ["PR", "ROC"]')
        if str(summation_method).lower() not in _SUMMATIONS:
            raise ValueError(f'Invalid AUC summation method value: "{summation_method}". '
                             f"Expected values are {list(_SUMMATIONS)}")
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            thresholds = sorted(thresholds)
            self.num_thresholds = len(thresholds) + 2
            self._evenly_spaced = _evenly_spaced([0.0] + thresholds + [1.0])
        else:
            if num_thresholds <= 1:
                raise ValueError(f"Argument `num_thresholds` must be an integer > 1. "
                                 f"Received: num_thresholds={num_thresholds}")
            self.num_thresholds = num_thresholds
            thresholds = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self._evenly_spaced = True
        # Padded by epsilon so that predictions of exactly 0 and 1 fall inside the outer thresholds.
        self.thresholds = [0.0 - epsilon()] + list(thresholds) + [1.0 + epsilon()]
        if multi_label and not num_labels:
            raise ValueError("edgekeras AUC(multi_label=True) needs `num_labels`, so that its variables exist "
                             "before the compiled train step.")
        if num_labels and not multi_label:
            raise ValueError("`num_labels` is needed only when `multi_label` is True.")
        super().__init__(name=name, dtype=dtype)
        self.curve = _CURVES[str(curve).lower()]
        self.summation_method = str(summation_method).lower()
        self.multi_label = multi_label
        self.num_labels = num_labels
        self.label_weights = None if label_weights is None else list(np.asarray(label_weights, np.float32).tolist())
        self._from_logits = from_logits
        shape = (self.num_thresholds, num_labels) if multi_label else (self.num_thresholds,)
        self.true_positives = self.add_variable(shape, name="true_positives")
        self.false_positives = self.add_variable(shape, name="false_positives")
        self.true_negatives = self.add_variable(shape, name="true_negatives")
        self.false_negatives = self.add_variable(shape, name="false_negatives")

    def _counts(self):
        return (self.true_positives, self.false_positives, self.true_negatives, self.false_negatives)

    def update_state(self, y_true, y_pred, sample_weight=None):
        if self._from_logits:
            y_pred = jax.nn.sigmoid(jnp.asarray(y_pred, jnp.float32))
        y_true, y_pred, weights = _aligned(y_true, y_pred, sample_weight)
        if self.label_weights is not None and not self.multi_label:
            weights = weights * jnp.asarray(self.label_weights, jnp.float32)
        if not self.multi_label:
            y_true, y_pred, weights = (a.reshape(-1, 1) for a in (y_true, y_pred, weights))
        counts = confusion_counts(y_true, y_pred, weights, self.thresholds, self._evenly_spaced)
        for variable, count in zip(self._counts(), counts):
            variable.assign(variable.value + count.reshape(variable.shape))

    def _interpolated_pr_terms(self, tp, fp, fn):
        """Davis & Goadrich's interpolation of precision between thresholds, per interval."""
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = divide_no_nan(dtp, jnp.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        p_ratio = jnp.where((p[:-1] > 0) & (p[1:] > 0), divide_no_nan(p[:-1], jnp.maximum(p[1:], 0)),
                            jnp.ones_like(p[1:]))
        return divide_no_nan(slope * (dtp + intercept * jnp.log(p_ratio)), jnp.maximum(tp[1:] + fn[1:], 0))

    def result(self):
        tp, fp, tn, fn = (v.value for v in self._counts())
        if self.curve == "PR" and self.summation_method == "interpolation":
            terms = self._interpolated_pr_terms(tp, fp, fn)
        else:
            recall = divide_no_nan(tp, tp + fn)
            if self.curve == "ROC":
                x, y = divide_no_nan(fp, fp + tn), recall
            else:
                x, y = recall, divide_no_nan(tp, tp + fp)
            heights = {"interpolation": (y[:-1] + y[1:]) / 2.0, "minoring": jnp.minimum(y[:-1], y[1:]),
                       "majoring": jnp.maximum(y[:-1], y[1:])}[self.summation_method]
            terms = (x[:-1] - x[1:]) * heights
        if not self.multi_label:
            return jnp.sum(terms)
        by_label = jnp.sum(terms, axis=0)
        if self.label_weights is None:
            return jnp.mean(by_label)
        label_weights = jnp.asarray(self.label_weights, jnp.float32)
        return divide_no_nan(jnp.sum(by_label * label_weights), jnp.sum(label_weights))

    def get_config(self):
        config = {**super().get_config(), "num_thresholds": self.num_thresholds, "curve": self.curve,
                  "summation_method": self.summation_method, "multi_label": self.multi_label,
                  "num_labels": self.num_labels, "label_weights": self.label_weights,
                  "from_logits": self._from_logits}
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config
