"""Sequential: a plain stack of layers, built as soon as its input shape is known."""

from edgekeras.backend.symbolic import KerasTensor
from edgekeras.layers.input_layer import InputLayer
from edgekeras.layers.layer import Layer
from edgekeras.models.model import Model


class Sequential(Model):
    def __init__(self, layers=None, trainable=True, name=None, **kwargs):
        super().__init__(name=name, trainable=trainable, **kwargs)
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._build_if_input_known()

    def add(self, layer, rebuild=True):
        if isinstance(layer, KerasTensor) and layer._keras_history is not None:
            layer = layer._keras_history[0]
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add() takes a Layer, got {type(layer).__name__}: {layer!r}.")
        if isinstance(layer, InputLayer) and self._layers:
            raise ValueError("An InputLayer can only be the first layer of a Sequential model.")
        if any(layer is existing for existing in self._layers):
            raise ValueError(f"Layer '{layer.name}' is already in this Sequential model.")
        if not self._layers and not isinstance(layer, InputLayer) and layer._input_shape_arg is not None:
            self._layers.append(InputLayer(shape=layer._input_shape_arg, batch_size=layer._batch_size_arg))
        self._layers.append(layer)
        self.built = False
        if rebuild:
            self._build_if_input_known()

    def pop(self):
        if not self.layers:
            raise ValueError("There are no layers to pop.")
        layer = self._layers.pop()
        self.built = False
        self._build_if_input_known()
        return layer

    def _build_if_input_known(self):
        if self._layers and isinstance(self._layers[0], InputLayer) and len(self._layers) > 1:
            self.build(self._layers[0].batch_shape)

    @property
    def layers(self):
        return [layer for layer in self._layers if not isinstance(layer, InputLayer)]

    def build(self, input_shape=None):
        if input_shape is None:
            raise ValueError("Sequential.build() needs an input shape, e.g. model.build((None, 28, 28, 1)).")
        if not self._layers or not isinstance(self._layers[0], InputLayer):
            self._layers.insert(0, InputLayer(batch_shape=tuple(input_shape)))
        x = self._layers[0].output
        for layer in self.layers:
            x = layer(x)
        self.built = True

    def call(self, inputs, training=False):
        x = inputs
        for layer in self.layers:
            x = layer(x, training=training)
        return x

    @property
    def inputs(self):
        return [self._layers[0].output] if self._layers and isinstance(self._layers[0], InputLayer) else []

    @property
    def input_shape(self):
        return self._layers[0].batch_shape if self.inputs else None

    @property
    def output_shape(self):
        return self.layers[-1]._inbound_nodes[-1].outputs[0].shape if self.built and self.layers else None

    @property
    def input_names(self):
        return [self._layers[0].name] if self.inputs else ["input"]

    @property
    def output_names(self):
        return [self.layers[-1].name] if self.layers else ["output"]

    def get_config(self):
        from edgekeras.saving.serialize import serialize_layer

        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": self.dtype,
            "layers": [serialize_layer(layer) for layer in self._layers],
        }
