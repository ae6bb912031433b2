"""Stochastic gradient descent with optional (Nesterov) momentum, as Keras 3 computes it."""

from edgekeras.optimizers.base import Optimizer


class SGD(Optimizer):
    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        if not isinstance(momentum, float) or momentum < 0 or momentum > 1:
            raise ValueError("`momentum` must be a float between [0, 1].")
        self.momentum = momentum
        self.nesterov = nesterov

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self.momentums = self.add_optimizer_variables(var_list, "momentum") if self.momentum != 0 else []

    def update_step(self, gradient, variable, learning_rate):
        if self.momentum == 0:
            variable.assign(variable.value - gradient * learning_rate)
            return
        m = self._slot(self.momentums, variable)
        # m <- momentum*m - lr*g; the variable moves by m, or (Nesterov) by momentum*m_new - lr*g.
        m.assign(m.value * self.momentum - gradient * learning_rate)
        step = m.value * self.momentum - gradient * learning_rate if self.nesterov else m.value
        variable.assign(variable.value + step)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
