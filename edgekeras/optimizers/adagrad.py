"""Adagrad: per-parameter step sizes from the running sum of squared gradients."""

import jax.numpy as jnp

from edgekeras.initializers import Constant
from edgekeras.optimizers.base import Optimizer


class Adagrad(Optimizer):
    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._accumulators = self.add_optimizer_variables(
            var_list, "accumulator", initializer=Constant(self.initial_accumulator_value))

    def update_step(self, gradient, variable, learning_rate):
        accumulator = self._slot(self._accumulators, variable)
        accumulator.assign(accumulator.value + jnp.square(gradient))
        variable.assign(variable.value - learning_rate * gradient / jnp.sqrt(accumulator.value + self.epsilon))

    def get_config(self):
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}
