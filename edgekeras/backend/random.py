"""Random keys: one global seed for eager use, and a key that jit-compiled steps thread through.

Layers that need randomness (Dropout) call `next_key()`. Inside a `KeyScope` (as the trainer uses
under `jax.jit`) keys are split from the scope's traced key, so every compiled step is a pure
function of the key it is given.
"""

import random as _py_random
import numpy as np

from edgekeras.backend.scope import Scope

_GLOBAL = {"seed": None, "counter": 0}


def set_random_seed(seed):
    """Seed Python, NumPy and edgekeras, so that initializers, shuffling and dropout repeat."""
    seed = int(seed)
    _py_random.seed(seed)
    np.random.seed(seed)
    _GLOBAL["seed"] = seed
    _GLOBAL["counter"] = 0


def _global_key():
    import jax

    if _GLOBAL["seed"] is None:
        _GLOBAL["seed"] = int(np.random.randint(0, 2**31 - 1))
    _GLOBAL["counter"] += 1
    return jax.random.fold_in(jax.random.PRNGKey(_GLOBAL["seed"]), _GLOBAL["counter"])


def next_key():
    import jax

    scope = KeyScope.current()
    if scope is None:
        return _global_key()
    scope.key, sub = jax.random.split(scope.key)
    return sub


def new_step_key():
    """A fresh key to hand to a compiled step."""
    return _global_key()


def make_numpy_rng():
    """A NumPy generator derived from the edgekeras seed (used by initializers and shuffling)."""
    if _GLOBAL["seed"] is None:
        return np.random.default_rng()
    _GLOBAL["counter"] += 1
    return np.random.default_rng([_GLOBAL["seed"], _GLOBAL["counter"]])


class KeyScope(Scope):
    def __init__(self, key):
        self.key = key
