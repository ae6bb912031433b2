"""The op set: every op is defined once, with its shape rule, NumPy reference and JAX implementation.

Layers call ops through `OpDef.__call__`. On concrete arrays the JAX implementation runs (this is
what the trainer compiles); on symbolic tensors the shape rule runs and, when an `OpRecorder` is
active, the call is logged (this is how models are traced for MAC counts and for the compiler).
The NumPy reference is the independent definition that tests hold the JAX implementation against.
"""

import threading
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from edgekeras.backend.symbolic import KerasTensor, is_symbolic

_REGISTRY = {}
_state = threading.local()


@dataclass(frozen=True)
class TensorSpec:
    shape: tuple
    dtype: str


@dataclass
class OpDef:
    """One op. `infer(specs, **attrs)` returns a TensorSpec (or a tuple of them)."""

    name: str
    infer: Callable
    numpy: Callable
    jax: Callable
    macs: Optional[Callable] = None  # (in_specs, out_spec, **attrs) -> int, for cost reports
    extras: dict = field(default_factory=dict)  # later phases attach e.g. the TVM lowering here

    def __call__(self, *inputs, **attrs):
        for x in inputs:
            if not (is_symbolic(x) or hasattr(x, "shape")):
                raise TypeError(
                    f"{self.name}: inputs must be tensors, got {type(x).__name__} {x!r}; pass attributes by keyword."
                )
        if any(is_symbolic(x) for x in inputs):
            specs = [spec_of(x) for x in inputs]
            out = self.infer(specs, **attrs)
            outs = out if isinstance(out, tuple) else (out,)
            tensors = tuple(KerasTensor(s.shape, s.dtype) for s in outs)
            for recorder in getattr(_state, "recorders", ()):
                recorder.record(self, inputs, tensors, attrs, current_layer_path())
            return tensors if isinstance(out, tuple) else tensors[0]
        # The shape rule also guards concrete calls: a clear error instead of one from deep in JAX.
        # Under jit this runs once per trace, so it costs nothing per step.
        self.infer([spec_of(x) for x in inputs], **attrs)
        return self.jax(*inputs, **attrs)

    def count_macs(self, in_specs, out_specs, attrs):
        return int(self.macs(in_specs, out_specs, **attrs)) if self.macs else 0


def define(name, infer, numpy, jax, macs=None):
    if name in _REGISTRY:
        raise ValueError(f"Op '{name}' is defined twice.")
    op = OpDef(name, infer, numpy, jax, macs)
    _REGISTRY[name] = op
    return op


def lowering(name, views=None, prepare=None):
    """Attach the TVM Relax lowering of op `name` (a function `(ctx, *args, **attrs) -> relax.Expr`,
    `ctx.in_types` / `ctx.out_type` giving the IR types) where the op is defined.

    `views(in_types, attrs) -> {input index: shape}` asks for inputs in another shape with the same
    bytes (e.g. a kernel layout); weights are reshaped at compile time, activations in the kernel.
    `prepare(arrays, attrs) -> arrays` rewrites the constant inputs once at compile time (e.g. folds
    a zero point into the bias): it gets each input's array (None for activations) and returns the
    kernel's inputs the same way, None marking the activations in their original order."""

    def attach(fn):
        get(name).extras["relax"] = fn
        if views:
            get(name).extras["relax_views"] = views
        if prepare:
            get(name).extras["relax_prepare"] = prepare
        return fn

    return attach


def get(name):
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"Unknown op '{name}'. Known ops: {', '.join(sorted(_REGISTRY))}.") from None


def all_ops():
    return dict(_REGISTRY)


def spec_of(x):
    if isinstance(x, KerasTensor):
        return TensorSpec(x.shape, x.dtype)
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return TensorSpec(tuple(x.shape), str(np.dtype(x.dtype)) if not hasattr(x.dtype, "name") else x.dtype.name)
    arr = np.asarray(x)
    return TensorSpec(arr.shape, arr.dtype.name)


@dataclass
class OpCall:
    op: OpDef
    inputs: tuple
    outputs: tuple
    attrs: dict
    layer: str = ""  # "/"-joined names of the layers (outermost first) whose call made this op


class layer_scope:
    """Marks the ops recorded inside as belonging to `name` (nested layers give a path)."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        _state.layers = getattr(_state, "layers", ()) + (self.name,)

    def __exit__(self, *exc):
        _state.layers = _state.layers[:-1]


def current_layer_path():
    return "/".join(getattr(_state, "layers", ()))


class OpRecorder:
    """Collects the op calls made on symbolic tensors while it is active (recorders nest)."""

    def __init__(self):
        self.calls = []

    def record(self, op, inputs, outputs, attrs, layer=""):
        self.calls.append(OpCall(op, tuple(inputs), tuple(outputs), dict(attrs), layer))

    def total_macs(self):
        total = 0
        for call in self.calls:
            total += call.op.count_macs([spec_of(x) for x in call.inputs], [spec_of(y) for y in call.outputs], call.attrs)
        return total

    def __enter__(self):
        _state.recorders = getattr(_state, "recorders", ()) + (self,)
        return self

    def __exit__(self, *exc):
        _state.recorders = tuple(r for r in _state.recorders if r is not self)


def known(dim_a, dim_b):
    """Broadcast-free equality of two dims where None means unknown."""
    return dim_a is None or dim_b is None or dim_a == dim_b
