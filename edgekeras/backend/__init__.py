"""Numeric defaults, random keys, variables and symbolic tensors shared by every module."""

from edgekeras.backend.config import epsilon, floatx, image_data_format, set_epsilon, set_floatx, standardize_dtype
from edgekeras.backend.symbolic import KerasTensor, is_symbolic
from edgekeras.backend.variables import Variable
