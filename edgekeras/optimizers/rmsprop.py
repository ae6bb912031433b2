"""RMSprop (optionally centered, optionally with momentum), as Keras 3 computes it."""

import jax.numpy as jnp

from edgekeras.optimizers.base import Optimizer


class RMSprop(Optimizer):
    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._velocities = self.add_optimizer_variables(var_list, "velocity")
        self._momentums = self.add_optimizer_variables(var_list, "momentum") if self.momentum > 0 else []
        self._average_gradients = self.add_optimizer_variables(var_list, "average_gradient") if self.centered else []

    def update_step(self, gradient, variable, learning_rate):
        velocity = self._slot(self._velocities, variable)
        velocity.assign(self.rho * velocity.value + (1 - self.rho) * jnp.square(gradient))
        if self.centered:
            average = self._slot(self._average_gradients, variable)
            average.assign(self.rho * average.value + (1 - self.rho) * gradient)
            denominator = velocity.value - jnp.square(average.value) + self.epsilon
        else:
            denominator = velocity.value + self.epsilon
        increment = learning_rate * gradient / jnp.sqrt(denominator)
        if self.momentum > 0:
            momentum = self._slot(self._momentums, variable)
            momentum.assign(self.momentum * momentum.value + increment)
            increment = momentum.value
        variable.assign(variable.value - increment)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}
