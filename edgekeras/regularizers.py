"""Weight regularizers (l1, l2, l1_l2) with Keras names and defaults (0.01)."""

from edgekeras.serialization import resolve


class Regularizer:
    def __call__(self, x):
        return 0.0

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class L1L2(Regularizer):
    def __init__(self, l1=0.0, l2=0.0):
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, x):
        import jax.numpy as jnp

        total = 0.0
        if self.l1:
            total = total + self.l1 * jnp.sum(jnp.abs(x))
        if self.l2:
            total = total + self.l2 * jnp.sum(jnp.square(x))
        return total

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


def l1_l2(l1=0.01, l2=0.01):
    return L1L2(l1, l2)


l1 = L1
l2 = L2
_CLASSES = {"L1": L1, "L2": L2, "L1L2": L1L2, "L1_L2": L1L2}
_ALIASES = {"l1": "L1", "l2": "L2", "l1_l2": "L1L2"}


def get(identifier):
    if identifier == "l1_l2":
        return l1_l2()
    return resolve(identifier, _CLASSES, _ALIASES, "regularizer")
