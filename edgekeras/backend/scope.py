"""A context manager base for per-thread "current X" state (keys, variable values, added losses)."""

import threading


class Scope:
    """`with SubClass(...):` makes the instance current for this thread; `SubClass.current()` reads it."""

    _local = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._local = threading.local()

    @classmethod
    def current(cls):
        return getattr(cls._local, "scope", None)

    def __enter__(self):
        self._prev = type(self).current()
        type(self)._local.scope = self
        return self

    def __exit__(self, *exc):
        type(self)._local.scope = self._prev
