"""Turns what users pass to fit/evaluate/predict into batches of NumPy arrays.

Accepted, as in Keras: NumPy arrays (or lists/dicts of them), Python generators and other iterables
of batches `(x, y)` / `(x, y, sample_weight)`, and `tf.data.Dataset` when TensorFlow is installed.
"""

import math

import numpy as np

from edgekeras.backend.config import floatx
from edgekeras.layers.layer import flatten, map_structure


def _to_array(a):
    arr = np.asarray(a)
    if arr.dtype == np.float64:
        arr = arr.astype(floatx())
    return arr


def _num_samples(structure):
    lengths = {len(a) for a in flatten(structure) if a is not None}
    return lengths


def is_array_data(x):
    return all(isinstance(a, (np.ndarray, list, tuple)) or hasattr(a, "__array__") for a in flatten(x)) and not (
        _is_dataset(x) or _is_iterator(x)
    )


def _is_dataset(x):
    return type(x).__module__.startswith("tensorflow") and hasattr(x, "as_numpy_iterator")


def _is_iterator(x):
    return hasattr(x, "__next__") or (hasattr(x, "__iter__") and not isinstance(x, (np.ndarray, list, tuple, dict)))


class ArrayData:
    """In-memory arrays, cut into batches (shuffled per epoch when asked)."""

    def __init__(self, x, y=None, sample_weight=None, batch_size=32, shuffle=False, steps=None, rng=None):
        self.x = map_structure(_to_array, x)
        self.y = map_structure(_to_array, y) if y is not None else None
        self.sample_weight = _to_array(sample_weight) if sample_weight is not None else None
        sizes = _num_samples((self.x, self.y, self.sample_weight))
        if len(sizes) != 1:
            raise ValueError(
                f"x, y and sample_weight must have the same number of samples, got lengths {sorted(sizes)} "
                f"(x: {sorted(_num_samples(self.x))}, y: {sorted(_num_samples(self.y)) if y is not None else '-'})."
            )
        self.num_samples = sizes.pop()
        if self.num_samples == 0:
            raise ValueError("The data is empty: x has 0 samples.")
        self.batch_size = int(batch_size or 32)
        self.shuffle = shuffle
        self.steps = steps
        self.rng = rng or np.random.default_rng()

    @property
    def steps_per_epoch(self):
        return self.steps or math.ceil(self.num_samples / self.batch_size)

    def __iter__(self):
        order = self.rng.permutation(self.num_samples) if self.shuffle else np.arange(self.num_samples)
        for step in range(self.steps_per_epoch):
            start = (step * self.batch_size) % self.num_samples
            idx = order[start:start + self.batch_size]

            def take(a):
                return a[idx] if a is not None else None

            yield map_structure(take, self.x), map_structure(take, self.y), take(self.sample_weight)


class IterableData:
    """Generators, iterables of batches and tf.data datasets: batches come ready-made."""

    def __init__(self, source, steps=None):
        self.source = source
        self.steps = steps
        self._iterator = None

    @property
    def steps_per_epoch(self):
        if self.steps:
            return self.steps
        try:
            return len(self.source)
        except TypeError:
            return None

    def _fresh(self):
        if _is_dataset(self.source):
            return self.source.as_numpy_iterator()
        if hasattr(self.source, "__next__"):
            if self._iterator is None:
                self._iterator = self.source
            return self._iterator
        return iter(self.source)

    def __iter__(self):
        iterator = self._fresh()
        count = 0
        while self.steps is None or count < self.steps:
            try:
                batch = next(iterator)
            except StopIteration:
                return
            yield unpack_batch(batch)
            count += 1


def unpack_batch(batch):
    if isinstance(batch, tuple):
        if len(batch) == 1:
            return map_structure(_to_array, batch[0]), None, None
        if len(batch) == 2:
            return map_structure(_to_array, batch[0]), map_structure(_to_array, batch[1]), None
        if len(batch) == 3:
            sw = batch[2]
            return map_structure(_to_array, batch[0]), map_structure(_to_array, batch[1]), (
                _to_array(sw) if sw is not None else None)
        raise ValueError(f"A batch must be x, (x,), (x, y) or (x, y, sample_weight); got a tuple of {len(batch)}.")
    return map_structure(_to_array, batch), None, None


def make_data(x, y=None, sample_weight=None, batch_size=None, shuffle=False, steps=None, rng=None):
    if x is None:
        raise ValueError("No data given: pass x (arrays, a generator or a tf.data.Dataset).")
    if _is_dataset(x) or _is_iterator(x):
        if y is not None:
            raise ValueError("When x is a generator or dataset it must yield (x, y) batches itself; do not pass y.")
        if batch_size is not None and _is_dataset(x):
            raise ValueError("Do not pass batch_size with a tf.data.Dataset: batch the dataset instead.")
        return IterableData(x, steps=steps)
    return ArrayData(x, y, sample_weight, batch_size=batch_size, shuffle=shuffle, steps=steps, rng=rng)


def split_validation(x, y, sample_weight, validation_split):
    """Keras semantics: the last `validation_split` fraction of the samples, before any shuffling."""
    if not 0.0 < validation_split < 1.0:
        raise ValueError(f"validation_split must be in (0, 1), got {validation_split}.")
    if not is_array_data(x):
        raise ValueError("validation_split is only supported for NumPy array data, not generators or datasets.")
    n = _num_samples(map_structure(_to_array, x)).pop()
    cut = int(n * (1.0 - validation_split))
    if cut == 0 or cut == n:
        raise ValueError(f"validation_split={validation_split} leaves no training or no validation samples ({n} samples).")

    def head(a):
        return None if a is None else _to_array(a)[:cut]

    def tail(a):
        return None if a is None else _to_array(a)[cut:]

    return (
        (map_structure(head, x), map_structure(head, y), head(sample_weight)),
        (map_structure(tail, x), map_structure(tail, y), tail(sample_weight)),
    )


def class_weight_to_sample_weight(y, class_weight):
    """Per-sample weights from a {class index: weight} dict, for sparse or one-hot labels."""
    y = np.asarray(y)
    labels = y.argmax(axis=-1) if y.ndim > 1 and y.shape[-1] > 1 else y.reshape(len(y), -1)[:, 0]
    labels = np.rint(labels).astype(np.int64)
    unknown = sorted(set(np.unique(labels).tolist()) - set(int(k) for k in class_weight))
    if unknown:
        raise ValueError(f"class_weight has no entry for classes {unknown}.")
    lookup = {int(k): float(v) for k, v in class_weight.items()}
    return np.array([lookup[int(c)] for c in labels], dtype=floatx())
