"""`Model`: a Layer that trains. `Model(inputs, outputs)` builds a Functional model; subclassing
`Model` and writing `call()` gives a subclassed model, traced symbolically on first build."""

from edgekeras.backend.symbolic import KerasTensor
from edgekeras.layers.layer import Layer, flatten, map_structure
from edgekeras.training.trainer import Trainer


def _functional_args(args, kwargs):
    from edgekeras.models.functional import is_functional_input

    if "inputs" in kwargs and "outputs" in kwargs:
        return True
    return len(args) >= 2 and is_functional_input(args[0]) or (len(args) == 1 and "outputs" in kwargs)


class Model(Trainer, Layer):
    def __new__(cls, *args, **kwargs):
        if cls is Model and _functional_args(args, kwargs):
            from edgekeras.models.functional import Functional

            return Functional.__new__(Functional)
        return super().__new__(cls)

    def __init__(self, *args, **kwargs):
        name = kwargs.pop("name", None)
        trainable = kwargs.pop("trainable", True)
        dtype = kwargs.pop("dtype", None)
        Layer.__init__(self, name=name, trainable=trainable, dtype=dtype, **kwargs)
        Trainer.__init__(self)
        self._trace_error = None

    def build(self, input_shape):
        """Subclassed models are traced on first build: sublayers build and record output shapes."""
        if isinstance(input_shape, (list, tuple)) and input_shape and isinstance(input_shape[0], (list, tuple)):
            spec = [KerasTensor((None,) + tuple(s[1:])) for s in input_shape]
        elif isinstance(input_shape, dict):
            spec = {k: KerasTensor((None,) + tuple(s[1:])) for k, s in input_shape.items()}
        else:
            spec = KerasTensor((None,) + tuple(input_shape[1:]))
        self.built = True
        try:
            self.call(spec)
            self._trace_error = None
        except (TypeError, AttributeError, ValueError) as err:
            # call() uses something other than edgekeras ops: it still trains eagerly, but the
            # compiler needs a trace, so keep the reason for its error message.
            self._trace_error = f"{type(err).__name__}: {err}"
        self._build_shapes = input_shape

    def _maybe_build(self, args):
        if not self.built and args:
            self.build(map_structure(lambda t: (None,) + tuple(t.shape)[1:], args[0]))

    def get_layer(self, name=None, index=None):
        if index is not None:
            if not 0 <= index < len(self.layers):
                raise ValueError(f"Layer index {index} is out of range: the model has {len(self.layers)} layers.")
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No layer named '{name}'. Layers: {[l.name for l in self.layers]}.")

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False):
        from edgekeras.models.summary import print_summary

        print_summary(self, print_fn=print_fn or print, line_length=line_length)

    def count_macs(self):
        from edgekeras.models.summary import total_macs

        return total_macs(self)

    def save(self, filepath, overwrite=True, zipped=None):
        from edgekeras.saving import save_model

        save_model(self, filepath, overwrite=overwrite)

    def save_weights(self, filepath, overwrite=True):
        from edgekeras.saving import save_weights

        save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch=False):
        from edgekeras.saving import load_weights

        load_weights(self, filepath, skip_mismatch=skip_mismatch)

    def to_json(self, **kwargs):
        import json

        from edgekeras.saving.serialize import serialize_model

        return json.dumps(serialize_model(self), **kwargs)

    @property
    def input_names(self):
        return ["input"]

    @property
    def output_names(self):
        return ["output"]

    def _flatten_outputs(self, outputs):
        return flatten(outputs)
