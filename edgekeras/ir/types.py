"""Tensor types of the IR: shape, dtype, layout and (for int8) quantization parameters."""

from dataclasses import dataclass, replace
from typing import Optional

import numpy as np


@dataclass(frozen=True)
class QuantParams:
    """Affine quantization real = scale * (q - zero_point); per-tensor, or per-channel along `axis`."""

    scale: tuple
    zero_point: tuple
    axis: Optional[int] = None


@dataclass(frozen=True)
class TensorType:
    shape: tuple
    dtype: str
    layout: Optional[str] = None  # e.g. "NHWC", "NC"; None where no axis has a channel meaning
    quant: Optional[QuantParams] = None

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self):
        return self.size * np.dtype(self.dtype).itemsize

    def with_(self, **changes):
        return replace(self, **changes)

    def __str__(self):
        short = {"float32": "f32", "float16": "f16", "int8": "i8", "int32": "i32", "int64": "i64", "uint8": "u8"}
        text = f"{short.get(self.dtype, self.dtype)}[{','.join(str(d) for d in self.shape)}]"
        if self.layout:
            text += f" {self.layout}"
        if self.quant:
            text += f" q(scale={_fmt(self.quant.scale)}, zp={_fmt(self.quant.zero_point)})"
        return text


def _fmt(values):
    return f"{values[0]:.6g}" if len(values) == 1 else f"<{len(values)} per-channel>"


def default_layout(rank):
    """edgekeras is channels-last: the layout a rank implies for its activations."""
    return {2: "NC", 3: "NWC", 4: "NHWC", 5: "NDHWC"}.get(rank)
