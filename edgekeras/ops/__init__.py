"""The edgekeras op set. Each module defines one op family (see registry.py for what an op holds).

Layers call these functions; they run the JAX implementation on arrays and the shape rule on
symbolic tensors.
"""

from edgekeras.ops.activation import elu, gelu, hard_sigmoid, hard_swish, relu, sigmoid, softmax, swish, tanh
from edgekeras.ops.cast import cast
from edgekeras.ops.conv import conv, depthwise_conv
from edgekeras.ops.conv_transpose import conv_transpose
from edgekeras.ops.elementwise import add, maximum, minimum, multiply, subtract
from edgekeras.ops.embedding import embedding
from edgekeras.ops.fake_quant import fake_quant
from edgekeras.ops.linear import dense
from edgekeras.ops.normalization import batch_norm, layer_norm
from edgekeras.ops.pool import avg_pool, max_pool
from edgekeras.ops.quantized import dequantize, qadd, qavg_pool, qlut, qmean, qsoftmax, quantize, requantize
from edgekeras.ops.quantized_linear import qconv, qdense, qdepthwise_conv
from edgekeras.ops.reduce import reduce_max, reduce_mean
from edgekeras.ops.registry import OpDef, OpRecorder, TensorSpec, all_ops, get
from edgekeras.ops.resize import upsample
from edgekeras.ops.shape import concatenate, identity, pad, reshape, transpose
