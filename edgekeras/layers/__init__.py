"""Keras layers. Every layer's `call` is written with edgekeras.ops."""

from edgekeras.layers.activation_layers import LeakyReLU, ReLU, Softmax
from edgekeras.layers.convolutional import Conv1D, Conv2D, Conv2DTranspose, DepthwiseConv2D, SeparableConv2D
from edgekeras.layers.core import Activation, Dense, Dropout, Embedding
from edgekeras.layers.input_layer import Input, InputLayer
from edgekeras.layers.layer import Layer
from edgekeras.layers.merging import Add, Average, Concatenate, Multiply, Subtract
from edgekeras.layers.normalization import BatchNormalization, LayerNormalization
from edgekeras.layers.pooling import (AveragePooling1D, AveragePooling2D, GlobalAveragePooling1D,
                                      GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D, MaxPooling1D,
                                      MaxPooling2D)
from edgekeras.layers.preprocessing import Rescaling
from edgekeras.layers.reshaping import Flatten, Permute, Reshape, UpSampling2D, ZeroPadding2D
