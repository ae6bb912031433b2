"""edgekeras: a Keras-compatible library (`import edgekeras as keras`) whose models compile to edge targets."""

__version__ = "0.1.0"

from edgekeras import activations, backend, callbacks, initializers, layers, losses, metrics, models, ops, optimizers, regularizers, utils
from edgekeras.layers import Input
from edgekeras.models import Model, Sequential
from edgekeras.models import load_model  # noqa: F401
