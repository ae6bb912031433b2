"""Collects losses that layers add during a forward pass (activity regularization, `add_loss`)."""

import threading

_state = threading.local()


class LossCollector:
    def __init__(self):
        self.losses = []

    def __enter__(self):
        self._prev = getattr(_state, "collector", None)
        _state.collector = self
        return self

    def __exit__(self, *exc):
        _state.collector = self._prev


def add_loss(value):
    """Record `value` in the active collector; outside training (no collector) it is dropped."""
    collector = getattr(_state, "collector", None)
    if collector is not None:
        collector.losses.append(value)
