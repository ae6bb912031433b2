"""Convolution family, channels-last with Keras kernel layouts; the rank (1-D/2-D/3-D) is the kernel's.

conv: kernel (*window, in_channels // groups, out_channels); `groups` splits the channels as Keras
does. depthwise_conv: kernel (*window, in_channels, multiplier), output channel c * multiplier + m,
as Keras's DepthwiseConv2D; a separate op so compilers see the depthwise kernel directly.
Attrs: strides, padding ("valid" / "same" / (lo, hi) pairs), dilation. Bias is an optional trailing
input, as for dense.
"""

import numpy as np

from edgekeras.ops.registry import TensorSpec, define, known, lowering
from edgekeras.ops.windows import (RELAX_LAYOUTS, begin_end_padding, lax_dimension_numbers, np_windows, numel,
                                   window_geometry)


def output_spec(op, specs, x, out, channels):
    """(batch, *out, channels), after checking the optional trailing bias input (conv-like ops)."""
    if len(specs) > 2 and tuple(specs[2].shape) != (channels,):
        raise ValueError(f"{op}: bias shape {specs[2].shape} does not match {channels} output channels.")
    return TensorSpec((x.shape[0],) + out + (channels,), x.dtype)


def _conv_infer(specs, strides=1, padding="valid", dilation=1, groups=1):
    x, k = specs[0], specs[1]
    out = window_geometry("conv", x.shape, k.shape[:-2], strides, padding, dilation)[3]
    if not known(x.shape[-1], k.shape[-2] * groups):
        raise ValueError(
            f"conv: input has {x.shape[-1]} channels but kernel {k.shape} with groups={groups} expects "
            f"{k.shape[-2] * groups}."
        )
    if k.shape[-1] % groups:
        raise ValueError(f"conv: {k.shape[-1]} output channels are not divisible by groups={groups}.")
    return output_spec("conv", specs, x, out, k.shape[-1])


def _depthwise_infer(specs, strides=1, padding="valid", dilation=1):
    x, k = specs[0], specs[1]
    out = window_geometry("depthwise_conv", x.shape, k.shape[:-2], strides, padding, dilation)[3]
    if not known(x.shape[-1], k.shape[-2]):
        raise ValueError(
            f"depthwise_conv: input has {x.shape[-1]} channels but kernel {k.shape} expects {k.shape[-2]}."
        )
    return output_spec("depthwise_conv", specs, x, out, k.shape[-2] * k.shape[-1])


def _np_windows_of(op, x, kernel, strides, padding, dilation):
    s, d, pairs, _ = window_geometry(op, x.shape, kernel.shape[:-2], strides, padding, dilation)
    return np_windows(x.astype(np.float64), kernel.shape[:-2], s, d, pairs, 0.0)  # (N, *out, C, K)


def _np_finish(y, bias, dtype):
    return (y if bias is None else y + bias).astype(dtype)


def _np_conv(x, kernel, bias=None, strides=1, padding="valid", dilation=1, groups=1):
    win = _np_windows_of("conv", x, kernel, strides, padding, dilation)
    per_group, channels = kernel.shape[-2], kernel.shape[-1]
    win = win.reshape(win.shape[:-2] + (groups, per_group, win.shape[-1]))
    w = kernel.astype(np.float64).reshape(-1, per_group, groups, channels // groups)
    y = np.einsum("...gck,kcgo->...go", win, w).reshape(win.shape[:-3] + (channels,))
    return _np_finish(y, bias, x.dtype)


def _np_depthwise(x, kernel, bias=None, strides=1, padding="valid", dilation=1):
    win = _np_windows_of("depthwise_conv", x, kernel, strides, padding, dilation)
    w = kernel.astype(np.float64).reshape((-1,) + kernel.shape[-2:])
    y = np.einsum("...ck,kcm->...cm", win, w).reshape(win.shape[:-2] + (w.shape[1] * w.shape[2],))
    return _np_finish(y, bias, x.dtype)


def _jax_grouped(op, x, kernel, bias, strides, padding, dilation, groups):
    from jax import lax

    s, d, pairs, _ = window_geometry(op, x.shape, kernel.shape[:-2], strides, padding, dilation)
    y = lax.conv_general_dilated(x, kernel, s, pairs, rhs_dilation=d, feature_group_count=groups,
                                 dimension_numbers=lax_dimension_numbers(kernel.ndim - 2))
    return y if bias is None else y + bias


def _jax_conv(x, kernel, bias=None, strides=1, padding="valid", dilation=1, groups=1):
    return _jax_grouped("conv", x, kernel, bias, strides, padding, dilation, groups)


def _jax_depthwise(x, kernel, bias=None, strides=1, padding="valid", dilation=1):
    """A grouped conv with one group per input channel; (c, m) flatten to c * multiplier + m."""
    channels = kernel.shape[-2]
    kernel = kernel.reshape(kernel.shape[:-2] + (1, channels * kernel.shape[-1]))
    return _jax_grouped("depthwise_conv", x, kernel, bias, strides, padding, dilation, channels)


conv = define("conv", _conv_infer, _np_conv, _jax_conv,
              lambda ins, outs, **_: numel(outs[0].shape) * int(np.prod(ins[1].shape[:-1])))
depthwise_conv = define("depthwise_conv", _depthwise_infer, _np_depthwise, _jax_depthwise,
                        lambda ins, outs, **_: numel(outs[0].shape) * int(np.prod(ins[1].shape[:-2])))


def _relax_conv(ctx, x, kernel, bias=None, groups=1, **window):
    from tvm import relax

    rank = len(ctx.in_types[0].shape) - 2
    s, d, pairs, _ = window_geometry("conv", ctx.in_types[0].shape, ctx.in_types[1].shape[:-2], **window)
    data_layout, kernel_layout = RELAX_LAYOUTS[rank]
    conv = getattr(relax.op.nn, f"conv{rank}d")
    y = conv(x, kernel, strides=s, padding=begin_end_padding(pairs), dilation=d, groups=groups,
             data_layout=data_layout, kernel_layout=kernel_layout)
    return y if bias is None else relax.op.add(y, bias)


@lowering("conv")
def _lower_conv(ctx, x, kernel, bias=None, strides=1, padding="valid", dilation=1, groups=1):
    return _relax_conv(ctx, x, kernel, bias, groups, strides=strides, padding=padding, dilation=dilation)


def _grouped_kernel_view(in_types, attrs):
    """A depthwise kernel (*window, C, M) holds the bytes of a grouped kernel (*window, 1, C * M)."""
    shape = in_types[1].shape
    return {1: tuple(shape[:-2]) + (1, shape[-2] * shape[-1])}


@lowering("depthwise_conv", views=_grouped_kernel_view)
def _lower_depthwise(ctx, x, kernel, bias=None, strides=1, padding="valid", dilation=1):
    return _relax_conv(ctx, x, kernel, bias, ctx.in_types[0].shape[-1], strides=strides, padding=padding,
                       dilation=dilation)
