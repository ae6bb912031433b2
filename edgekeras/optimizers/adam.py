"""Adam (optionally AMSGrad), with Keras 3's bias correction folded into the step size."""

import jax.numpy as jnp

from edgekeras.optimizers.base import Optimizer


class Adam(Optimizer):
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(var_list, ["momentum", "velocity"])
        if self.amsgrad:
            self._velocity_hats = self.add_optimizer_variables(var_list, "velocity_hat")

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        t = (self.iterations.value + 1).astype(dtype)
        alpha = (learning_rate * jnp.sqrt(1 - jnp.power(jnp.asarray(self.beta_2, dtype), t))
                 / (1 - jnp.power(jnp.asarray(self.beta_1, dtype), t)))
        m, v = self._slot(self._momentums, variable), self._slot(self._velocities, variable)
        m.assign(m.value + (gradient - m.value) * (1 - self.beta_1))
        v.assign(v.value + (jnp.square(gradient) - v.value) * (1 - self.beta_2))
        if self.amsgrad:
            v_hat = self._slot(self._velocity_hats, variable)
            v_hat.assign(jnp.maximum(v_hat.value, v.value))
            v = v_hat
        variable.assign(variable.value - m.value * alpha / (jnp.sqrt(v.value) + self.epsilon))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}
