"""Sliding-window geometry shared by the conv and pooling families (not an op family itself).

One definition of output sizes and padding, used by every shape rule, NumPy reference and JAX
implementation, so they cannot disagree. `padding` is "valid", "same" (TensorFlow's split: the odd
cell goes after) or explicit ((lo, hi), ...) pairs per spatial axis (causal Conv1D uses these).
"""

import numpy as np


def as_tuple(value, rank):
    """Ops accept an int for every spatial axis or one value per axis."""
    return (int(value),) * rank if np.isscalar(value) else tuple(int(v) for v in value)


def effective(kernel, dilation):
    return (kernel - 1) * dilation + 1


def pad_pairs(sizes, kernel, strides, dilation, padding):
    """(lo, hi) padding per spatial axis; None for "same" on an axis of unknown size."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * len(kernel)
        if padding != "same":
            raise ValueError(f"padding must be 'valid', 'same' or (lo, hi) pairs, got {padding!r}.")
        pairs = []
        for n, k, s, d in zip(sizes, kernel, strides, dilation):
            total = None if n is None else max((-(-n // s) - 1) * s + effective(k, d) - n, 0)
            pairs.append(None if total is None else (total // 2, total - total // 2))
        return tuple(pairs)
    pairs = tuple((int(lo), int(hi)) for lo, hi in padding)
    if len(pairs) != len(kernel):
        raise ValueError(f"padding {padding} needs one (lo, hi) pair per spatial axis ({len(kernel)}).")
    return pairs


def check_rank(op, shape, rank):
    if len(shape) != rank + 2:
        raise ValueError(
            f"{op}: expected a {rank + 2}-D input (batch, {rank} spatial axes, channels), got shape {tuple(shape)}."
        )
    return rank


def window_geometry(op, shape, kernel, strides=1, padding="valid", dilation=1):
    """Validate an NHWC-style input shape and return (strides, dilation, pad pairs, output sizes)."""
    rank = check_rank(op, shape, len(kernel))
    strides, dilation = as_tuple(strides, rank), as_tuple(dilation, rank)
    if min(strides + dilation + tuple(kernel)) < 1:
        raise ValueError(f"{op}: window {kernel}, strides {strides} and dilation {dilation} must be positive.")
    pairs = pad_pairs(shape[1:-1], kernel, strides, dilation, padding)
    out = []
    for axis, (n, k, s, d, p) in enumerate(zip(shape[1:-1], kernel, strides, dilation, pairs)):
        if n is None:
            out.append(None)
            continue
        span = n + p[0] + p[1] - effective(k, d)
        if span < 0:
            raise ValueError(
                f"{op}: window of size {k} (dilation {d}) does not fit spatial axis {axis + 1} of size {n} "
                f"(padding {p}) in input shape {tuple(shape)}."
            )
        out.append(span // s + 1)
    return strides, dilation, pairs, tuple(out)


def np_windows(x, kernel, strides, dilation, pairs, fill):
    """Windows of a (N, *spatial, C) array as (N, *out, C, prod(kernel)), after padding with `fill`."""
    rank = len(kernel)
    x = np.pad(x, ((0, 0),) + tuple(pairs) + ((0, 0),), constant_values=fill)
    spans = tuple(effective(k, d) for k, d in zip(kernel, dilation))
    w = np.lib.stride_tricks.sliding_window_view(x, spans, axis=tuple(range(1, rank + 1)))
    w = w[(slice(None),) + tuple(slice(None, None, s) for s in strides) + (slice(None),)
          + tuple(slice(None, None, d) for d in dilation)]
    return w.reshape(w.shape[: rank + 2] + (-1,))


def lax_dimension_numbers(rank):
    """Channels-last input/output and Keras's (*spatial, in, out) kernel layout, 1-D to 3-D."""
    if not 1 <= rank <= 3:
        raise ValueError(f"Only 1-D, 2-D and 3-D windows are supported, got rank {rank}.")
    spatial = "DHW"[-rank:]
    return ("N" + spatial + "C", spatial + "IO", "N" + spatial + "C")


def numel(shape):
    """Product of known dims (None counts as 1), for MAC counts of unknown-batch graphs."""
    return int(np.prod([d or 1 for d in shape]))


def begin_end_padding(pairs):
    """(lo, hi) pairs as TVM's flat padding: every axis's lo, then every axis's hi."""
    return tuple(lo for lo, _ in pairs) + tuple(hi for _, hi in pairs)


RELAX_LAYOUTS = {1: ("NWC", "WIO"), 2: ("NHWC", "HWIO"), 3: ("NDHWC", "DHWIO")}
