"""The JAX trainer behind compile/fit/evaluate/predict.

Every step is one `jax.jit`-compiled pure function of the state values (trainable, non-trainable,
optimizer and metric variables) and a batch. The model, optimizer and metrics are written
imperatively against Variables; running them inside a `ValueScope` turns them into that pure
function, so the same layer code serves eager calls, training and tracing. JAX places the
computation on the GPU when it sees one, on the CPU otherwise.
"""

import jax
import jax.numpy as jnp
import numpy as np

from edgekeras import metrics as metrics_module
from edgekeras import optimizers as optimizers_module
from edgekeras.backend.random import KeyScope, make_numpy_rng, new_step_key
from edgekeras.backend.variables import ValueScope
from edgekeras.callbacks.callback import CallbackList, History
from edgekeras.layers.layer import flatten, map_structure
from edgekeras.training import data as data_module
from edgekeras.training.compile_utils import CompileLoss, CompileMetrics
from edgekeras.training.losses_scope import LossCollector


def _read(scope, variables):
    return [scope.values[id(v)] for v in variables]


def _scope_for(variables, values):
    return {id(v): x for v, x in zip(variables, values)}


def _pythonify(logs):
    return {k: float(v) for k, v in logs.items()}


def _overrides(cb_list, *hooks):
    """Whether any callback implements one of `hooks` (else per-batch logs need not leave the device).

    Instance attributes count too: LambdaCallback sets its hooks on the instance.
    """
    from edgekeras.callbacks.callback import Callback

    return any(getattr(getattr(cb, hook), "__func__", None) is not getattr(Callback, hook)
               for cb in cb_list.callbacks for hook in hooks)


class Trainer:
    def __init__(self):
        self.compiled = False
        self.optimizer = None
        self.stop_training = False
        self.history = None
        self._compile_loss = None
        self._compile_metrics = None
        self._loss_tracker = None
        self._steps = {}
        self._rng_key = None  # threaded through compiled train steps (Dropout), seeded on first use

    # ---- compile ------------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                run_eagerly=False, steps_per_execution=1, jit_compile="auto", auto_scale_loss=True):
        self.optimizer = optimizers_module.get(optimizer)
        self._compile_loss = CompileLoss(loss, loss_weights, self.output_names) if loss is not None else None
        self._compile_metrics = CompileMetrics(metrics, weighted_metrics, self.output_names, self._compile_loss)
        self._loss_tracker = metrics_module.Mean(name="loss")
        self._output_loss_trackers = (
            [metrics_module.Mean(name=f"{name}_loss") for name in self.output_names] if len(self.output_names) > 1 else []
        )
        self._compile_args = {"optimizer": optimizer, "loss": loss, "loss_weights": loss_weights,
                              "metrics": metrics, "weighted_metrics": weighted_metrics, "run_eagerly": run_eagerly,
                              "steps_per_execution": steps_per_execution, "jit_compile": jit_compile}
        self.run_eagerly = run_eagerly
        self.compiled = True
        self._steps = {}

    def _require_compiled(self, what):
        if not self.compiled:
            raise ValueError(f"You must call `compile()` before calling `{what}()`.")
        if what in ("fit", "train_on_batch") and self._compile_loss is None:
            raise ValueError("compile() was called without a loss: pass loss=... to train.")

    @property
    def metrics(self):
        out = [self._loss_tracker] if self._loss_tracker is not None else []
        out += self._output_loss_trackers if self.compiled else []
        if self._compile_metrics is not None:
            out += self._compile_metrics.metrics
        return out

    @property
    def metrics_names(self):
        return [m.name for m in self.metrics]

    def reset_metrics(self):
        for m in self.metrics:
            m.reset_state()

    def get_compile_config(self):
        return dict(self._compile_args) if self.compiled else None

    # ---- state --------------------------------------------------------------------------------
    def _prepare(self, x, y):
        """Build the model, metrics and optimizer eagerly before anything is jit-compiled."""
        if not self.built:
            self(map_structure(lambda a: jnp.asarray(a[:1]), x))
        if self._compile_metrics is not None and not self._compile_metrics.built and y is not None:
            y_pred = self.predict_on_batch(map_structure(lambda a: a[:1], x))
            self._compile_metrics.build(map_structure(lambda a: a[:1], y), y_pred)
        if self.optimizer is not None and getattr(self.optimizer, "built", False) is False:
            self.optimizer.build(self.trainable_weights)

    def _metric_vars(self):
        return [v for m in self.metrics for v in m.variables]

    def _state_vars(self):
        return (self.trainable_weights, self.non_trainable_weights, list(self.optimizer.variables), self._metric_vars())

    def _state_values(self):
        if self._rng_key is None:
            self._rng_key = new_step_key()
        return tuple([v.value for v in group] for group in self._state_vars()) + (self._rng_key,)

    def _assign_state(self, values):
        for group, group_values in zip(self._state_vars(), values[:-1]):
            for var, value in zip(group, group_values):
                var._value = value
        self._rng_key = values[-1]

    # ---- pure step functions ------------------------------------------------------------------
    def _forward_loss(self, trainable_values, non_trainable_values, x, y, sample_weight, key, training):
        trainable, non_trainable = self.trainable_weights, self.non_trainable_weights
        mapping = {**_scope_for(trainable, trainable_values), **_scope_for(non_trainable, non_trainable_values)}
        with ValueScope(mapping) as scope, KeyScope(key), LossCollector() as collected:
            y_pred = self(x, training=training)
            loss, parts = self._compile_loss(y, y_pred, sample_weight)
            extra = collected.losses + (self.losses if training else [])
            total = loss + sum(extra) if extra else loss
            new_non_trainable = _read(scope, non_trainable)
        return total, (y_pred, parts, new_non_trainable)

    def _update_metrics(self, metric_values, loss, parts, y, y_pred, sample_weight, batch_size):
        metric_vars = self._metric_vars()
        with ValueScope(_scope_for(metric_vars, metric_values)) as scope:
            self._loss_tracker.update_state(loss, sample_weight=batch_size)
            for tracker, part in zip(self._output_loss_trackers, parts):
                if part is not None:
                    tracker.update_state(part, sample_weight=batch_size)
            if self._compile_metrics is not None:
                self._compile_metrics.update_state(y, y_pred, sample_weight)
            logs = {m.name: m.result() for m in self.metrics}
            return _read(scope, metric_vars), logs

    def _train_step(self, state, x, y, sample_weight):
        trainable_values, non_trainable_values, optimizer_values, metric_values, key = state
        key, step_key = jax.random.split(key)
        grad_fn = jax.value_and_grad(self._forward_loss, has_aux=True)
        (loss, (y_pred, parts, new_non_trainable)), grads = grad_fn(
            trainable_values, non_trainable_values, x, y, sample_weight, step_key, True)
        trainable, optimizer_vars = self.trainable_weights, list(self.optimizer.variables)
        with ValueScope({**_scope_for(trainable, trainable_values), **_scope_for(optimizer_vars, optimizer_values)}) as scope:
            self.optimizer.apply(grads, trainable)
            new_trainable, new_optimizer = _read(scope, trainable), _read(scope, optimizer_vars)
        batch_size = flatten(x)[0].shape[0]
        new_metrics, logs = self._update_metrics(metric_values, loss, parts, y, y_pred, sample_weight, batch_size)
        return (new_trainable, new_non_trainable, new_optimizer, new_metrics, key), logs

    def _test_step(self, state, x, y, sample_weight):
        trainable_values, non_trainable_values, optimizer_values, metric_values, key = state
        loss, (y_pred, parts, _) = self._forward_loss(
            trainable_values, non_trainable_values, x, y, sample_weight, key, False)
        batch_size = flatten(x)[0].shape[0]
        new_metrics, logs = self._update_metrics(metric_values, loss, parts, y, y_pred, sample_weight, batch_size)
        return (trainable_values, non_trainable_values, optimizer_values, new_metrics, key), logs

    def _predict_step(self, weight_values, x):
        with ValueScope(_scope_for(self.weights, weight_values)):
            return self(x, training=False)

    def _compiled(self, name):
        if name not in self._steps:
            fn = {"train": self._train_step, "test": self._test_step, "predict": self._predict_step}[name]
            if getattr(self, "run_eagerly", False):
                self._steps[name] = fn
            else:
                self._steps[name] = jax.jit(fn, donate_argnums=(0,) if name == "train" else ())
        return self._steps[name]

    def _run(self, name, x, y=None, sample_weight=None):
        """One compiled step; returns its logs as device scalars (no host sync until read)."""
        state, logs = self._compiled(name)(self._state_values(), x, y, sample_weight)
        self._assign_state(state)
        return logs

    # ---- public API ---------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1):
        self._require_compiled("fit")
        if validation_split and validation_data is None:
            (x, y, sample_weight), validation_data = data_module.split_validation(x, y, sample_weight, validation_split)
        if class_weight is not None:
            if y is None:
                raise ValueError("class_weight needs labels y given as arrays.")
            if len(self.output_names) > 1:
                raise ValueError("class_weight is only supported for models with a single output.")
            weights = data_module.class_weight_to_sample_weight(y, class_weight)
            sample_weight = weights if sample_weight is None else np.asarray(sample_weight) * weights
        train_data = data_module.make_data(x, y, sample_weight, batch_size=batch_size, shuffle=shuffle,
                                           steps=steps_per_epoch, rng=make_numpy_rng())
        verbose = 1 if verbose == "auto" else int(verbose)
        self.history = History()
        cb_list = self._callback_list(callbacks, verbose, epochs, train_data.steps_per_epoch, with_history=self.history)
        self.stop_training = False
        cb_list.on_train_begin()
        logs = {}
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            cb_list.on_epoch_begin(epoch)
            epoch_logs = self._run_batches("train", train_data, cb_list)
            if validation_data is not None and (epoch + 1) % validation_freq == 0:
                val_logs = self._evaluate_validation(validation_data, validation_batch_size or batch_size,
                                                     validation_steps, cb_list)
                epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
            cb_list.on_epoch_end(epoch, epoch_logs)
            logs = epoch_logs
            if self.stop_training:
                break
        cb_list.on_train_end(logs)
        return self.history

    def _run_batches(self, mode, data, cb_list):
        """One pass over `data` with compiled `mode` ("train"/"test") steps and the batch hooks.

        Returns the last logs, read to the host; per-batch logs leave the device only when a
        callback listens to batch ends.
        """
        begin, end = getattr(cb_list, f"on_{mode}_batch_begin"), getattr(cb_list, f"on_{mode}_batch_end")
        batch_logs_needed = _overrides(cb_list, f"on_{mode}_batch_end", *(["on_batch_end"] if mode == "train" else []))
        logs = None
        for step, (bx, by, bsw) in enumerate(data):
            if step == 0:
                self._prepare(bx, by)
            begin(step)
            logs = self._run(mode, bx, by, bsw)
            if batch_logs_needed:
                logs = _pythonify(logs)
                end(step, logs)
            if mode == "train" and self.stop_training:
                break
        if logs is None:
            raise ValueError(f"The {'training' if mode == 'train' else 'evaluation'} data produced no batches.")
        return _pythonify(logs)

    def _evaluate_validation(self, validation_data, batch_size, steps, cb_list):
        """As Keras: fit's callbacks see the validation run through their on_test_* hooks."""
        if isinstance(validation_data, tuple) and len(validation_data) in (2, 3) and data_module.is_array_data(validation_data[0]):
            vx, vy = validation_data[0], validation_data[1]
            vsw = validation_data[2] if len(validation_data) == 3 else None
            return self.evaluate(vx, vy, batch_size=batch_size, sample_weight=vsw, steps=steps, verbose=0,
                                 callbacks=cb_list, return_dict=True)
        return self.evaluate(validation_data, batch_size=None, steps=steps, verbose=0, callbacks=cb_list,
                             return_dict=True)

    def _callback_list(self, callbacks, verbose, epochs, steps, with_history=None, mode="train"):
        from edgekeras.callbacks.progbar_logger import ProgbarLogger

        items = list(callbacks or [])
        if with_history is not None:
            items.append(with_history)  # after the user's callbacks, as Keras: it records the logs they add
        if verbose:
            items.append(ProgbarLogger(verbose=verbose, mode=mode))
        return CallbackList(items, self, {"verbose": verbose, "epochs": epochs, "steps": steps})

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        self._require_compiled("evaluate")
        test_data = data_module.make_data(x, y, sample_weight, batch_size=batch_size, shuffle=False, steps=steps)
        verbose = 1 if verbose == "auto" else int(verbose)
        if isinstance(callbacks, CallbackList):  # fit's own list, for validation
            cb_list = callbacks
        else:
            cb_list = self._callback_list(callbacks, verbose, 1, test_data.steps_per_epoch, mode="test")
        self.reset_metrics()
        cb_list.on_test_begin()
        logs = self._run_batches("test", test_data, cb_list)
        cb_list.on_test_end(logs)
        return self._format_logs(logs, return_dict)

    def _format_logs(self, logs, return_dict):
        if return_dict:
            return logs
        values = [logs[name] for name in self.metrics_names if name in logs]
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        pred_data = data_module.make_data(x, None, None, batch_size=batch_size, shuffle=False, steps=steps)
        verbose = 1 if verbose == "auto" else int(verbose)
        cb_list = self._callback_list(callbacks, verbose, 1, pred_data.steps_per_epoch, mode="predict")
        cb_list.on_predict_begin()
        outputs = []
        for step, (bx, _, _) in enumerate(pred_data):
            cb_list.on_predict_batch_begin(step)
            outputs.append(self.predict_on_batch(bx))
            cb_list.on_predict_batch_end(step, {"outputs": outputs[-1]})
        cb_list.on_predict_end()
        if not outputs:
            raise ValueError("The prediction data produced no batches.")
        return jax.tree_util.tree_map(lambda *parts: np.concatenate(parts, axis=0), *outputs)

    def predict_on_batch(self, x):
        x = map_structure(data_module._to_array, x)
        if not self.built:
            self(map_structure(lambda a: jnp.asarray(a[:1]), x))
        out = self._compiled("predict")([w.value for w in self.weights], x)
        return jax.tree_util.tree_map(np.asarray, out)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        self._require_compiled("train_on_batch")
        if class_weight is not None:
            weights = data_module.class_weight_to_sample_weight(y, class_weight)
            sample_weight = weights if sample_weight is None else np.asarray(sample_weight) * weights
        (bx, by, bsw), = data_module.make_data(x, y, sample_weight, batch_size=len(flatten(x)[0]))
        self._prepare(bx, by)
        self.reset_metrics()
        return self._format_logs(_pythonify(self._run("train", bx, by, bsw)), return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._require_compiled("test_on_batch")
        (bx, by, bsw), = data_module.make_data(x, y, sample_weight, batch_size=len(flatten(x)[0]))
        self._prepare(bx, by)
        self.reset_metrics()
        return self._format_logs(_pythonify(self._run("test", bx, by, bsw)), return_dict)
