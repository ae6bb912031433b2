"""The Optimizer base class, with Keras 3's variables, naming, clipping, weight decay and config.

Updates are written imperatively with `Variable.assign` on jax.numpy values and no Python branching
on array values: eagerly they update the variables, and inside the trainer's `ValueScope` under
`jax.jit` the same code computes the new values as a pure function.

`variables` lists `iteration`, `learning_rate` (unless it is a schedule), then the slot variables
in creation order; this order names the `optimizer/vars/N` entries of saved `.keras` files.
"""

import re
import warnings

import jax.numpy as jnp
import numpy as np

from edgekeras import initializers
from edgekeras.backend.config import floatx
from edgekeras.backend.variables import Variable, unique_name
from edgekeras.layers.layer import to_snake_case
from edgekeras.optimizers import schedules


class Optimizer:
    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        kwargs.pop("decay", None)  # Keras accepts and ignores the Keras-2 argument.
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}")
        if use_ema or gradient_accumulation_steps:
            raise ValueError("edgekeras optimizers do not support `use_ema` or "
                         "`gradient_accumulation_steps` yet.")
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. Received: "
                             f"clipnorm={clipnorm}, clipvalue={clipvalue}, global_clipnorm={global_clipnorm}")
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.use_ema = use_ema
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.built = False
        self._variables = []
        self._trainable_variables = []
        self._index = {}
        self._exclude_ids, self._exclude_pattern = set(), None
        # int32, as Keras's JAX backend: int64 needs jax_enable_x64 (Keras-TF files store int64 here).
        self.iterations = self._track(Variable(0, trainable=False, name="iteration", dtype="int32",
                                               path=f"{self.name}/iteration"))
        if isinstance(learning_rate, schedules.LearningRateSchedule):
            self._learning_rate = learning_rate
        elif isinstance(learning_rate, (int, float, np.floating, np.integer)) and not isinstance(learning_rate, bool):
            self._learning_rate = self._track(Variable(float(learning_rate), trainable=False, name="learning_rate",
                                                       dtype=floatx(), path=f"{self.name}/learning_rate"))
        else:
            raise ValueError("Argument `learning_rate` should be float, or an instance of LearningRateSchedule. "
                             f"Received instead: learning_rate={learning_rate}")

    # ---- variables ----------------------------------------------------------------------------
    def _track(self, variable):
        self._variables.append(variable)
        return variable

    @property
    def variables(self):
        return list(self._variables)

    def add_variable(self, shape, initializer="zeros", dtype=None, name=None):
        value = initializers.get(initializer)(tuple(shape), dtype=dtype or floatx())
        return self._track(Variable(value, trainable=False, name=name, dtype=dtype, path=f"{self.name}/{name}"))

    def add_variable_from_reference(self, reference_variable, name=None, initializer="zeros"):
        """A slot shaped like `reference_variable`, named `<its path with _ for />_<name>` as Keras does."""
        prefix = reference_variable.path.replace("/", "_")
        return self.add_variable(reference_variable.shape, initializer, reference_variable.dtype,
                                 f"{prefix}_{name or 'var'}")

    def add_optimizer_variables(self, trainable_variables, name, initializer="zeros"):
        """One slot per variable for each name, interleaved per variable (Keras's creation order).

        Returns one list for a single name, a tuple of lists for a list of names.
        """
        names = [name] if isinstance(name, str) else list(name)
        slots = tuple([] for _ in names)
        for variable in trainable_variables:
            for slot_list, slot_name in zip(slots, names):
                slot_list.append(self.add_variable_from_reference(variable, slot_name, initializer))
        return slots[0] if isinstance(name, str) else slots

    def build(self, var_list):
        """Subclasses create their slots after calling this."""
        self._trainable_variables = list(var_list)
        self._index = {id(v): i for i, v in enumerate(var_list)}
        self.built = True

    def _slot(self, slots, variable):
        return slots[self._index[id(variable)]]

    # ---- learning rate ------------------------------------------------------------------------
    @property
    def learning_rate(self):
        """The learning-rate Variable, or the schedule's value at the current iteration."""
        if isinstance(self._learning_rate, schedules.LearningRateSchedule):
            return self._learning_rate(self.iterations.value)
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(self._learning_rate, schedules.LearningRateSchedule):
            raise TypeError("This optimizer was created with a `LearningRateSchedule` object as its "
                            "`learning_rate` constructor argument, hence its learning rate is not settable.")
        self._learning_rate.assign(value)

    def _current_learning_rate(self):
        lr = self.learning_rate
        return lr.value if isinstance(lr, Variable) else lr

    # ---- applying gradients -------------------------------------------------------------------
    def apply_gradients(self, grads_and_vars):
        grads, trainable_variables = zip(*grads_and_vars)
        self.apply(list(grads), list(trainable_variables))
        return self.iterations

    def apply(self, grads, trainable_variables=None):
        """Update the variables from their gradients (building the slots on first use)."""
        if trainable_variables is None:
            if not self.built:
                raise ValueError("When passing `grads` without `variables`, the optimizer must already be built "
                                 "on a list of variables. Call `optimizer.build(trainable_variables)` first.")
            trainable_variables = self._trainable_variables
        trainable_variables = list(trainable_variables)
        if not self.built:
            self.build(trainable_variables)
        unknown = [v.path for v in trainable_variables if id(v) not in self._index]
        if unknown:
            raise ValueError(f"Unknown variables {unknown}: this optimizer can only update the variables it was "
                             "built with; create a new optimizer for new variables.")
        pairs = [(g, v) for g, v in zip(grads, trainable_variables) if g is not None]
        if not pairs:
            raise ValueError("No gradients provided for any variable.")
        if len(pairs) < len(trainable_variables):
            missing = [v.path for g, v in zip(grads, trainable_variables) if g is None]
            warnings.warn(f"Gradients do not exist for variables {missing} when minimizing the loss.")
        grads = [jnp.asarray(g) for g, _ in pairs]
        variables = [v for _, v in pairs]
        if self.loss_scale_factor is not None:
            grads = [g / self.loss_scale_factor for g in grads]
        grads = self._clip_gradients(grads)
        lr = self._current_learning_rate()
        self._apply_weight_decay(variables, lr)
        for grad, variable in zip(grads, variables):
            self.update_step(grad.astype(variable.dtype), variable, lr.astype(variable.dtype))
        for variable in variables:
            if variable.constraint is not None:
                variable.assign(variable.constraint(variable.value))
        self.iterations.assign(self.iterations.value + 1)

    def update_step(self, gradient, variable, learning_rate):
        raise NotImplementedError(f"{type(self).__name__} must implement update_step().")

    def scale_loss(self, loss):
        return loss * self.loss_scale_factor if self.loss_scale_factor is not None else loss

    def _clip_gradients(self, grads):
        if self.clipnorm and self.clipnorm > 0:
            return [g * self.clipnorm / jnp.maximum(jnp.sqrt(jnp.sum(jnp.square(g))), self.clipnorm) for g in grads]
        if self.global_clipnorm and self.global_clipnorm > 0:
            norm = jnp.sqrt(sum(jnp.sum(jnp.square(g)) for g in grads))
            # As Keras: a no-op for finite norms below the limit, NaN for non-finite norms.
            scale = self.global_clipnorm * jnp.minimum(1.0 / norm, 1.0 / self.global_clipnorm) + (norm - norm)
            return [g * scale for g in grads]
        if self.clipvalue and self.clipvalue > 0:
            return [jnp.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        return grads

    # ---- weight decay -------------------------------------------------------------------------
    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Skip decay for these variables, or for variables whose name contains any of `var_names`."""
        if self.built:
            raise ValueError("`exclude_from_weight_decay()` can only be configured before the optimizer is built.")
        self._exclude_ids = {id(v) for v in var_list or []}
        self._exclude_pattern = re.compile("|".join(set(var_names))) if var_names else None

    def _use_weight_decay(self, variable):
        if id(variable) in self._exclude_ids:
            return False
        return self._exclude_pattern is None or self._exclude_pattern.search(variable.name) is None

    def _apply_weight_decay(self, variables, lr):
        if self.weight_decay is None:
            return
        for variable in variables:
            if self._use_weight_decay(variable):
                wd = jnp.asarray(self.weight_decay, variable.dtype)
                variable.assign(variable.value - variable.value * wd * lr.astype(variable.dtype))

    # ---- config -------------------------------------------------------------------------------
    def get_config(self):
        if isinstance(self._learning_rate, schedules.LearningRateSchedule):
            learning_rate = schedules.serialize(self._learning_rate)
        else:
            learning_rate = float(self._learning_rate.numpy())
        return {
            "name": self.name, "learning_rate": learning_rate, "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue,
            "use_ema": self.use_ema, "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency, "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"])
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"
