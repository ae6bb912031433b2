"""Keras layers. Every layer's `call` is written with edgekeras.ops."""

from edgekeras.layers.core import Activation, Dense, Dropout
from edgekeras.layers.input_layer import Input, InputLayer
from edgekeras.layers.layer import Layer
