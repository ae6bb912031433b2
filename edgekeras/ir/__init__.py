"""The edgekeras IR: typed graph, verifier, printer and NumPy reference interpreter."""

from edgekeras.ir.graph import Graph, Node, Value
from edgekeras.ir.types import QuantParams, TensorType
