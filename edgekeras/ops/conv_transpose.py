"""Transposed convolution, channels-last, Keras kernel layout (*window, out_channels, in_channels).

Attrs follow Keras's Conv2DTranspose: strides, padding "valid"/"same", output_padding (None or one
int per axis), dilation. They fix (lo, hi) paddings of the equivalent stride-dilated convolution
independently of the input size (Keras's own conversion), from which the output size follows.
"""

import numpy as np

from edgekeras.ops.conv import output_spec
from edgekeras.ops.registry import define, known
from edgekeras.ops.windows import as_tuple, check_rank, effective, lax_dimension_numbers, numel


def _geometry(shape, kernel, strides, padding, output_padding, dilation):
    """(strides, dilation, pairs, output sizes); output sizes are None where the input's is."""
    rank = check_rank("conv_transpose", shape, len(kernel))
    strides, dilation = as_tuple(strides, rank), as_tuple(dilation, rank)
    extra = (None,) * rank if output_padding is None else as_tuple(output_padding, rank)
    if padding not in ("valid", "same"):
        raise ValueError(f"conv_transpose: padding must be 'valid' or 'same', got {padding!r}.")
    pairs, out = [], []
    for n, k, s, d, op in zip(shape[1:-1], kernel, strides, dilation, extra):
        e = effective(k, d)
        if padding == "valid":
            lo, hi = e - 1, e - 1 + (max(e, s) - e if op is None else op)
        else:
            total = s + e - 2 if op is None else e + e % 2 - 2 + op
            lo = min(total // 2 + total % 2, e - 1)
            hi = total - lo
        pairs.append((lo, hi))
        out.append(None if n is None else (n - 1) * s + 1 + lo + hi - e + 1)
    return strides, dilation, tuple(pairs), tuple(out)


def _infer(specs, strides=1, padding="valid", output_padding=None, dilation=1):
    x, k = specs[0], specs[1]
    out = _geometry(x.shape, k.shape[:-2], strides, padding, output_padding, dilation)[3]
    if not known(x.shape[-1], k.shape[-1]):
        raise ValueError(
            f"conv_transpose: input has {x.shape[-1]} channels but kernel {k.shape} expects {k.shape[-1]}."
        )
    return output_spec("conv_transpose", specs, x, out, k.shape[-2])


def _numpy(x, kernel, bias=None, strides=1, padding="valid", output_padding=None, dilation=1):
    """Scatter form: every input pixel adds its kernel-weighted copy at stride offsets, then crop."""
    window = kernel.shape[:-2]
    s, d, pairs, out = _geometry(x.shape, window, strides, padding, output_padding, dilation)
    starts = [effective(k, dd) - 1 - lo for k, dd, (lo, _) in zip(window, d, pairs)]
    sizes = [max(st + o, (n - 1) * ss + effective(k, dd))
             for st, o, n, ss, k, dd in zip(starts, out, x.shape[1:-1], s, window, d)]
    full = np.zeros((x.shape[0],) + tuple(sizes) + (kernel.shape[-2],))
    x64, k64 = x.astype(np.float64), kernel.astype(np.float64)
    for tap in np.ndindex(*window):
        region = tuple(slice(t * dd, t * dd + (n - 1) * ss + 1, ss)
                       for t, dd, ss, n in zip(tap, d, s, x.shape[1:-1]))
        full[(slice(None),) + region] += x64 @ k64[tap].T
    y = full[(slice(None),) + tuple(slice(st, st + n) for st, n in zip(starts, out))]
    return (y if bias is None else y + bias).astype(x.dtype)


def _jax(x, kernel, bias=None, strides=1, padding="valid", output_padding=None, dilation=1):
    from jax import lax

    s, d, pairs, _ = _geometry(x.shape, kernel.shape[:-2], strides, padding, output_padding, dilation)
    y = lax.conv_transpose(x, kernel, s, pairs, rhs_dilation=d, transpose_kernel=True,
                           dimension_numbers=lax_dimension_numbers(kernel.ndim - 2))
    return y if bias is None else y + bias


conv_transpose = define("conv_transpose", _infer, _numpy, _jax,
                        lambda ins, outs, **_: numel(ins[0].shape[:-1]) * int(np.prod(ins[1].shape)))
