"""LambdaCallback: a callback built from plain functions, one per hook name."""

from edgekeras.callbacks.callback import Callback


class LambdaCallback(Callback):
    """Each argument, when given, replaces that hook; any other hook name may be passed as a keyword."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, **kwargs):
        super().__init__()
        self.__dict__.update(kwargs)
        hooks = {"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end, "on_train_begin": on_train_begin,
                 "on_train_end": on_train_end, "on_train_batch_begin": on_train_batch_begin,
                 "on_train_batch_end": on_train_batch_end}
        self.__dict__.update({name: fn for name, fn in hooks.items() if fn is not None})
