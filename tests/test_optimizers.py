"""Optimizers and schedules against real Keras 3: update math, variable order, configs, jit."""

import os
import re

import jax
import numpy as np
import pytest

from edgekeras import optimizers
from edgekeras.backend.variables import ValueScope, Variable

SHAPES = [(3, 2), (2,)]


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    return pytest.importorskip("keras")


def _data(steps, seed=0):
    rng = np.random.default_rng(seed)
    weights = [rng.normal(size=s).astype("float32") for s in SHAPES]
    grads = [[rng.normal(size=s).astype("float32") for s in SHAPES] for _ in range(steps)]
    return weights, grads


def _schedule(schedules, spec):
    return getattr(schedules, spec[0])(**spec[1])


EXPONENTIAL = ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 2, "decay_rate": 0.5})
STAIRCASE = ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 2, "decay_rate": 0.5,
                                  "staircase": True})
PIECEWISE = ("PiecewiseConstantDecay", {"boundaries": [1, 3], "values": [0.1, 0.05, 0.01]})
COSINE = ("CosineDecay", {"initial_learning_rate": 0.1, "decay_steps": 3, "alpha": 0.1, "warmup_target": 0.2,
                          "warmup_steps": 2})

CASES = [
    ("SGD", {"learning_rate": 0.1}, None),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9}, None),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}, None),
    ("SGD", {"learning_rate": 0.1, "clipnorm": 0.5}, None),
    ("SGD", {"learning_rate": 0.1, "clipvalue": 0.2}, None),
    ("SGD", {"learning_rate": 0.1, "global_clipnorm": 0.5}, None),
    ("SGD", {"learning_rate": 0.1, "weight_decay": 0.1}, None),
    ("Adam", {"learning_rate": 0.01}, None),
    ("Adam", {"learning_rate": 0.01, "amsgrad": True}, None),
    ("Adam", {"beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-3}, EXPONENTIAL),
    ("Adam", {}, STAIRCASE),
    ("Adam", {"clipnorm": 1.0}, PIECEWISE),
    ("Adam", {}, COSINE),
    ("AdamW", {"learning_rate": 0.01}, None),
    ("AdamW", {"learning_rate": 0.01, "weight_decay": 0.1, "amsgrad": True}, None),
    ("RMSprop", {"learning_rate": 0.01}, None),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.5}, None),
    ("RMSprop", {"learning_rate": 0.01, "centered": True, "momentum": 0.5, "clipvalue": 0.5}, None),
    ("Adagrad", {"learning_rate": 0.1}, None),
    ("Adagrad", {"learning_rate": 0.1, "initial_accumulator_value": 0.5, "epsilon": 1e-4}, EXPONENTIAL),
]


def _kwargs(schedules, kwargs, schedule):
    """Constructor arguments, with the schedule built from Keras's or edgekeras's `schedules`."""
    kwargs = dict(kwargs, name="opt")
    if schedule:
        kwargs["learning_rate"] = _schedule(schedules, schedule)
    return kwargs


def _run_keras(keras, cls, kwargs, weights, steps):
    variables = [keras.Variable(w, name=f"w{i}") for i, w in enumerate(weights)]
    opt = getattr(keras.optimizers, cls)(**kwargs)
    for grads in steps:
        opt.apply_gradients(zip([keras.ops.convert_to_tensor(g) for g in grads], variables))
    return [v.numpy() for v in variables], [np.asarray(v.numpy()) for v in opt.variables]


def _make_ours(cls, kwargs, weights):
    variables = [Variable(w, name=f"w{i}") for i, w in enumerate(weights)]
    return variables, getattr(optimizers, cls)(**kwargs)


def _assert_all_close(actual, expected):
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(e, np.float64), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("cls,kwargs,schedule", CASES)
def test_updates_match_keras(keras, cls, kwargs, schedule):
    weights, steps = _data(steps=5)
    keras_kwargs = _kwargs(keras.optimizers.schedules, kwargs, schedule)
    expected_weights, expected_slots = _run_keras(keras, cls, keras_kwargs, weights, steps)
    variables, opt = _make_ours(cls, _kwargs(optimizers.schedules, kwargs, schedule), weights)
    for grads in steps:
        opt.apply_gradients(zip(grads, variables))
    _assert_all_close([v.numpy() for v in variables], expected_weights)
    _assert_all_close([v.numpy() for v in opt.variables], expected_slots)


@pytest.mark.parametrize("cls,kwargs,schedule", CASES[1::3])
def test_apply_under_jit_matches_eager(cls, kwargs, schedule):
    """The trainer's way: `apply` inside a ValueScope under jax.jit, state threaded through."""
    weights, steps = _data(steps=4, seed=1)
    eager_vars, eager_opt = _make_ours(cls, _kwargs(optimizers.schedules, kwargs, schedule), weights)
    for grads in steps:
        eager_opt.apply(grads, eager_vars)

    variables, opt = _make_ours(cls, _kwargs(optimizers.schedules, kwargs, schedule), weights)
    opt.build(variables)
    state = variables + opt.variables

    @jax.jit
    def step(values, grads):
        with ValueScope({id(v): x for v, x in zip(state, values)}) as scope:
            opt.apply(grads, variables)
            return [scope.values[id(v)] for v in state]

    values = [v.value for v in state]
    for grads in steps:
        values = step(values, grads)
    _assert_all_close(values, [v.numpy() for v in eager_vars + eager_opt.variables])


def _keras_model_variables(keras):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2), keras.layers.Dense(1)])
    return model.trainable_variables


@pytest.mark.parametrize("cls,kwargs,schedule", CASES)
def test_variables_and_config_match_keras(keras, cls, kwargs, schedule):
    keras_vars = _keras_model_variables(keras)
    keras_opt = getattr(keras.optimizers, cls)(**_kwargs(keras.optimizers.schedules, kwargs, schedule))
    keras_opt.build(keras_vars)
    ours_vars = [Variable(np.zeros(v.shape, "float32"), name=v.name, path=v.path) for v in keras_vars]
    opt = getattr(optimizers, cls)(**_kwargs(optimizers.schedules, kwargs, schedule))
    opt.build(ours_vars)
    assert [v.path for v in opt.variables] == [v.path for v in keras_opt.variables]
    assert [v.shape for v in opt.variables] == [tuple(v.shape) for v in keras_opt.variables]
    assert opt.get_config() == keras_opt.get_config()
    assert optimizers.serialize(opt) == keras.optimizers.serialize(keras_opt)
    # Keras's serialized form reads back into the same optimizer.
    assert optimizers.get(keras.optimizers.serialize(keras_opt)).get_config() == keras_opt.get_config()


@pytest.mark.parametrize("spec", [EXPONENTIAL, STAIRCASE, PIECEWISE, COSINE,
                                  ("CosineDecay", {"initial_learning_rate": 0.1, "decay_steps": 10})])
def test_schedules_match_keras(keras, spec):
    ours, theirs = _schedule(optimizers.schedules, spec), _schedule(keras.optimizers.schedules, spec)
    for step in [0, 1, 2, 3, 4, 5, 7, 12, 100]:
        np.testing.assert_allclose(np.asarray(ours(step)), np.asarray(theirs(step)), rtol=1e-6)
    assert ours.get_config() == theirs.get_config()


def test_default_names_and_defaults():
    assert re.fullmatch(r"adam_w(_\d+)?", optimizers.AdamW().name)
    assert re.fullmatch(r"rm_sprop(_\d+)?", optimizers.RMSprop().name)
    config = optimizers.SGD().get_config()
    assert (config["momentum"], config["nesterov"]) == (0.0, False)
    assert np.isclose(config["learning_rate"], 0.01)
    assert optimizers.Adagrad().get_config()["initial_accumulator_value"] == 0.1
    assert optimizers.AdamW().weight_decay == 0.004


def test_get_and_errors():
    for name, cls in [("sgd", optimizers.SGD), ("ADAM", optimizers.Adam), ("AdamW", optimizers.AdamW),
                      ("rmsprop", optimizers.RMSprop), ("Adagrad", optimizers.Adagrad)]:
        assert type(optimizers.get(name)) is cls
    opt = optimizers.Adam()
    assert optimizers.get(opt) is opt
    with pytest.raises(ValueError, match="adam"):
        optimizers.get("adamax_typo")
    with pytest.raises(ValueError, match="Only one of"):
        optimizers.SGD(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match="weight_decay"):
        optimizers.AdamW(weight_decay=None)


def test_learning_rate_variable_and_schedule():
    opt = optimizers.SGD(learning_rate=0.5)
    opt.learning_rate = 0.25
    assert float(opt.learning_rate) == 0.25
    scheduled = optimizers.SGD(learning_rate=optimizers.schedules.ExponentialDecay(1.0, 1, 0.5))
    variable = Variable(np.ones(2, "float32"))
    scheduled.apply([np.ones(2, "float32")], [variable])
    assert float(scheduled.learning_rate) == 0.5
    assert int(scheduled.iterations) == 1
    with pytest.raises(TypeError):
        scheduled.learning_rate = 0.1
