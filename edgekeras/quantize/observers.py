"""Activation range observers for post-training calibration.

An observer sees one activation tensor once per calibration batch (`update`) and then proposes the
float range (`range() -> (lo, hi)`) that `arith.activation_params` turns into a scale and zero
point. Ranges are returned raw: activation_params widens them to hold 0. The default, `minmax`, is
what the TFLite converter does; the others trade clipping of rare outliers for a finer step on the
bulk of the values. Histogram-based observers keep a fixed number of bins per tensor, so memory does
not grow with the calibration set.
"""

import numpy as np

from edgekeras.quantize import arith

DEFAULT = "minmax"


class MinMax:
    """The running min and max over all batches."""

    def __init__(self):
        self.lo, self.hi = np.inf, -np.inf

    def update(self, array):
        array = np.asarray(array)
        if array.size:
            self.lo = min(self.lo, float(array.min()))
            self.hi = max(self.hi, float(array.max()))

    def range(self):
        if self.lo > self.hi:
            raise ValueError(f"{type(self).__name__} observer has seen no values.")
        return self.lo, self.hi


class MovingAverage:
    """EMA of the per-batch min and max (TF's MovingAverageQuantize): the first batch sets the range,
    then range = momentum * range + (1 - momentum) * batch range."""

    def __init__(self, momentum=0.9):
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"moving_average momentum must lie in [0, 1), got {momentum}.")
        self.momentum = momentum
        self.lo = self.hi = None

    def update(self, array):
        array = np.asarray(array)
        if not array.size:
            return
        lo, hi = float(array.min()), float(array.max())
        if self.lo is None:
            self.lo, self.hi = lo, hi
        else:
            m = self.momentum
            self.lo = m * self.lo + (1.0 - m) * lo
            self.hi = m * self.hi + (1.0 - m) * hi

    def range(self):
        if self.lo is None:
            raise ValueError("MovingAverage observer has seen no values.")
        return self.lo, self.hi


class Histogram:
    """Counts of all observed values in fixed-size bins, one histogram per sign of the value.

    Each side spans [0, bins * width) of |x| and doubles its width (merging bin pairs, so counts
    stay exact) whenever a value falls beyond it; the two sides adapt independently, so a ReLU
    output keeps every bin for its positive values.
    """

    def __init__(self, bins=4096):
        if bins < 2 or bins % 2:
            raise ValueError(f"Histogram bins must be an even number >= 2, got {bins}.")
        self.bins = bins
        self.counts = {side: np.zeros(bins, np.int64) for side in (1, -1)}
        self.width = {1: None, -1: None}
        self.extremes = MinMax()

    def update(self, array):
        array = np.asarray(array, np.float64).ravel()
        if not np.all(np.isfinite(array)):
            raise ValueError("Histogram observer got NaN or infinite values.")
        self.extremes.update(array)
        for side, magnitudes in ((1, array[array >= 0]), (-1, -array[array < 0])):
            if magnitudes.size:
                self._add(side, magnitudes)

    def _add(self, side, magnitudes):
        peak = float(magnitudes.max())
        if self.width[side] is None:
            if peak == 0.0:  # only zeros so far: they land in bin 0 whatever the width becomes
                self.counts[side][0] += magnitudes.size
                return
            self.width[side] = peak / (self.bins - 1)  # the peak falls inside the top bin, not on its edge
        while peak >= self.width[side] * self.bins:
            merged = self.counts[side].reshape(-1, 2).sum(axis=1)
            self.counts[side] = np.concatenate([merged, np.zeros(self.bins // 2, np.int64)])
            self.width[side] *= 2.0
        index = np.minimum((magnitudes / self.width[side]).astype(np.int64), self.bins - 1)
        self.counts[side] += np.bincount(index, minlength=self.bins)

    def bins_and_counts(self):
        """(edges, counts) over the whole real line in increasing order, empty bins trimmed from both ends."""
        sides = []
        for side in (-1, 1):
            width = self.width[side] or 0.0
            edges = side * width * np.arange(self.bins + 1)
            counts = self.counts[side]
            sides.append((edges[::-1], counts[::-1]) if side < 0 else (edges, counts))
        (neg_edges, neg_counts), (pos_edges, pos_counts) = sides
        edges = np.concatenate([neg_edges, pos_edges[1:]])
        counts = np.concatenate([neg_counts, pos_counts])
        used = np.flatnonzero(counts)
        if not used.size:
            raise ValueError("Histogram observer has seen no values.")
        first, last = used[0], used[-1]
        return edges[first:last + 2], counts[first:last + 1]

    def quantile(self, q):
        """The q-quantile (0..1), interpolated linearly inside a bin and kept within the observed extremes."""
        edges, counts = self.bins_and_counts()
        cumulative = np.concatenate([[0], np.cumsum(counts)]).astype(np.float64)
        target = q * cumulative[-1]
        i = int(np.clip(np.searchsorted(cumulative, target, side="left") - 1, 0, len(counts) - 1))
        fraction = (target - cumulative[i]) / counts[i] if counts[i] else 0.0
        value = edges[i] + np.clip(fraction, 0.0, 1.0) * (edges[i + 1] - edges[i])
        lo, hi = self.extremes.range()
        return float(np.clip(value, lo, hi))


class Percentile:
    """Clip at the (100 - p)-th and p-th percentiles of all observed values."""

    def __init__(self, percentile=99.99, bins=4096):
        if not 50.0 < percentile <= 100.0:
            raise ValueError(f"percentile must lie in (50, 100], got {percentile}.")
        self.percentile = percentile
        self.histogram = Histogram(bins)

    def update(self, array):
        self.histogram.update(array)

    def range(self):
        q = self.percentile / 100.0
        return self.histogram.quantile(1.0 - q), self.histogram.quantile(q)


class MSE:
    """The range min/max * f, over a grid of shrink factors f in (0, 1], whose int8 quantize-dequantize
    has the least mean squared error on the observed values (clipping error included).

    The values are represented by `points` evenly spaced points per histogram bin, weighted by the
    bin's count, so the error estimate holds even where the int8 step is finer than a bin."""

    def __init__(self, grid=100, bins=4096, points=4):
        self.factors = np.linspace(1.0, 1.0 / grid, grid)
        self.points = points
        self.histogram = Histogram(bins)

    def update(self, array):
        self.histogram.update(array)

    def range(self):
        lo, hi = self.histogram.extremes.range()
        values, weights = self._samples()
        best, best_error = (lo, hi), np.inf
        for f in self.factors:
            error = self.error(values, weights, lo * f, hi * f)
            if error < best_error:
                best, best_error = (lo * f, hi * f), error
        return float(best[0]), float(best[1])

    def _samples(self):
        edges, counts = self.histogram.bins_and_counts()
        used = np.flatnonzero(counts)
        offsets = (np.arange(self.points) + 0.5) / self.points
        widths = (edges[used + 1] - edges[used])[:, None]
        values = edges[used][:, None] + offsets[None, :] * widths
        weights = np.repeat(counts[used] / self.points, self.points)
        return values.ravel(), weights

    @staticmethod
    def error(values, weights, lo, hi):
        """Weighted mean squared error of int8 quantize-dequantize of `values` with range (lo, hi)."""
        scale, zero_point = arith.activation_params(lo, hi)
        restored = arith.dequantize_int8(arith.quantize_float(values, scale, zero_point), scale, zero_point)
        return float(np.sum(weights * (values - restored.astype(np.float64)) ** 2) / np.sum(weights))


OBSERVERS = {"minmax": MinMax, "moving_average": MovingAverage, "percentile": Percentile, "mse": MSE}
# The one numeric parameter an observer spec "name:value" may carry.
_PARAMETER = {"moving_average": "momentum", "percentile": "percentile"}


def make_observer(spec=DEFAULT):
    """A new observer from a spec: "minmax", "mse", "percentile", "percentile:99.9", "moving_average:0.95"."""
    if not isinstance(spec, str):
        raise ValueError(f"An observer spec must be a string like 'percentile:99.9', got {spec!r}.")
    name, _, value = spec.strip().partition(":")
    if name not in OBSERVERS:
        raise ValueError(f"Unknown observer '{name}'; valid observers: {', '.join(OBSERVERS)}.")
    if not value:
        return OBSERVERS[name]()
    if name not in _PARAMETER:
        raise ValueError(f"Observer '{name}' takes no parameter, got '{spec}'.")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"Observer spec '{spec}': '{value}' is not a number.") from None
    return OBSERVERS[name](**{_PARAMETER[name]: number})
