"""Learning-rate schedules with Keras 3 names, math and configs.

`__call__(step)` is written in jax.numpy without Python branching on `step`, so an optimizer can
evaluate it on the traced iteration counter inside a jit-compiled train step.
"""

import math

import jax.numpy as jnp

from edgekeras.serialization import serialize as _serialize

MODULE = "keras.optimizers.schedules"


class LearningRateSchedule:
    def __call__(self, step):
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(step).")

    def get_config(self):
        raise NotImplementedError(f"{type(self).__name__} must implement get_config().")

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _positive_steps(decay_steps):
    if decay_steps <= 0:
        raise ValueError(f"Argument `decay_steps` must be > 0. Received: decay_steps={decay_steps}")
    return decay_steps


class ExponentialDecay(LearningRateSchedule):
    """initial_learning_rate * decay_rate ** (step / decay_steps), floored when `staircase`."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"):
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = _positive_steps(decay_steps)
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step):
        p = jnp.asarray(step, jnp.float32) / jnp.float32(self.decay_steps)
        if self.staircase:
            p = jnp.floor(p)
        return jnp.float32(self.initial_learning_rate) * jnp.power(jnp.float32(self.decay_rate), p)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    """values[i] while boundaries[i-1] < step <= boundaries[i]."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "The length of boundaries should be 1 less than the length of values. Received: "
                f"boundaries={boundaries} of length {len(boundaries)}, and values={values} of length {len(values)}.")
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step):
        step = jnp.asarray(step)
        # Index of the interval: how many boundaries the step has passed (step > boundary).
        passed = sum((step > b).astype(jnp.int32) for b in self.boundaries)
        return jnp.asarray(self.values, jnp.float32)[passed]

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Optional linear warmup to `warmup_target`, then cosine decay to alpha * (peak rate)."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay", warmup_target=None,
                 warmup_steps=0):
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = _positive_steps(decay_steps)
        self.alpha = alpha
        self.name = name
        self.warmup_target = warmup_target
        self.warmup_steps = warmup_steps

    def _decay(self, step, peak):
        cosine = 0.5 * (1.0 + jnp.cos(jnp.float32(math.pi) * step / jnp.float32(self.decay_steps)))
        return peak * ((1 - self.alpha) * cosine + self.alpha)

    def __call__(self, step):
        initial = jnp.float32(self.initial_learning_rate)
        step = jnp.asarray(step, jnp.float32)
        if self.warmup_target is None:
            return self._decay(jnp.minimum(step, self.decay_steps), initial)
        target, warmup = jnp.float32(self.warmup_target), jnp.float32(self.warmup_steps)
        step = jnp.minimum(step, self.decay_steps + warmup)
        warming = (target - initial) * (step / warmup) + initial
        return jnp.where(step < warmup, warming, self._decay(step - warmup, target))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}


_CLASSES = {cls.__name__: cls for cls in (ExponentialDecay, PiecewiseConstantDecay, CosineDecay)}


def serialize(schedule):
    return _serialize(schedule, MODULE)


def deserialize(config):
    name = config.get("class_name")
    if name not in _CLASSES:
        raise ValueError(f"Unknown learning rate schedule '{name}'. Known schedules: {', '.join(sorted(_CLASSES))}.")
    return _CLASSES[name].from_config(dict(config.get("config") or {}))
