"""Keras callbacks."""

from edgekeras.callbacks.callback import Callback, CallbackList, History
