"""Collects losses that layers add during a forward pass (activity regularization, `add_loss`)."""

from edgekeras.backend.scope import Scope


class LossCollector(Scope):
    def __init__(self):
        self.losses = []


def add_loss(value):
    """Record `value` in the active collector; outside training (no collector) it is dropped."""
    collector = LossCollector.current()
    if collector is not None:
        collector.losses.append(value)
