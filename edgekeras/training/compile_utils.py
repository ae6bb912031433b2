"""What `compile()` receives, matched to the model's outputs: losses (with weights) and metrics.

Losses and metrics may be given once (single output), as a list (by output position) or as a dict
(by output name), as in Keras. Log names follow Keras: `loss`, `accuracy` for one output;
`<output>_loss`, `<output>_<metric>` when there are several.
"""

from edgekeras import losses as losses_module
from edgekeras import metrics as metrics_module


def _per_output(value, output_names, what):
    """Spread a single value, list or dict over the outputs (None where nothing applies)."""
    n = len(output_names)
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(output_names))
        if unknown:
            raise ValueError(f"{what} names unknown outputs {unknown}; the model's outputs are {output_names}.")
        return [value.get(name) for name in output_names]
    if isinstance(value, (list, tuple)) and n > 1 and what == "loss":
        if len(value) != n:
            raise ValueError(f"{what} has {len(value)} entries but the model has {n} outputs {output_names}.")
        return list(value)
    return [value] * n


def _as_list(structure, n, what):
    if isinstance(structure, dict):
        return structure
    if isinstance(structure, (list, tuple)):
        if len(structure) != n:
            raise ValueError(f"The model has {n} outputs but {what} has {len(structure)} entries.")
        return list(structure)
    if n != 1:
        raise ValueError(f"The model has {n} outputs; give {what} as a list or a dict by output name.")
    return [structure]


def outputs_by_position(structure, output_names, what):
    """y_true / y_pred as a list in output order (dicts are looked up by output name)."""
    if isinstance(structure, dict):
        missing = [n for n in output_names if n not in structure]
        if missing:
            raise ValueError(f"{what} is missing entries for outputs {missing}; got keys {sorted(structure)}.")
        return [structure[n] for n in output_names]
    return _as_list(structure, len(output_names), what)


class CompileLoss:
    def __init__(self, loss, loss_weights, output_names):
        if loss is None:
            raise ValueError("compile() needs a loss to train, e.g. loss='sparse_categorical_crossentropy'.")
        self.output_names = list(output_names)
        self.losses = [losses_module.get(l) if l is not None else None for l in _per_output(loss, output_names, "loss")]
        if all(l is None for l in self.losses):
            raise ValueError("compile(): no loss applies to any output.")
        weights = _per_output(loss_weights, output_names, "loss_weights") if loss_weights is not None else [1.0] * len(self.losses)
        self.weights = [1.0 if w is None else float(w) for w in weights]
        self.config = loss

    def __call__(self, y_true, y_pred, sample_weight=None):
        """Total loss and the per-output losses (for multi-output logs)."""
        trues = outputs_by_position(y_true, self.output_names, "y")
        preds = outputs_by_position(y_pred, self.output_names, "the model output")
        total = 0.0
        parts = []
        for loss, weight, yt, yp in zip(self.losses, self.weights, trues, preds):
            if loss is None:
                parts.append(None)
                continue
            value = loss(yt, yp, sample_weight=sample_weight)
            parts.append(value)
            total = total + weight * value
        return total, parts


class CompileMetrics:
    """Built on the first batch, because "accuracy" resolves from the label and output shapes."""

    def __init__(self, metrics, weighted_metrics, output_names, compile_loss):
        self.config = metrics
        self.weighted_config = weighted_metrics
        self.output_names = list(output_names)
        self.compile_loss = compile_loss
        self.entries = []  # (output index, metric, weighted)
        self.built = False

    def _specs(self, value):
        if value is None:
            return [[] for _ in self.output_names]
        if isinstance(value, dict):
            return [list(_listify(value.get(n))) for n in self.output_names]
        if len(self.output_names) > 1 and isinstance(value, (list, tuple)) and any(isinstance(v, (list, tuple)) for v in value):
            return [list(_listify(v)) for v in value]
        return [list(_listify(value)) for _ in self.output_names]

    def build(self, y_true, y_pred):
        trues = outputs_by_position(y_true, self.output_names, "y")
        preds = outputs_by_position(y_pred, self.output_names, "the model output")
        multi = len(self.output_names) > 1
        for weighted, specs in ((False, self._specs(self.config)), (True, self._specs(self.weighted_config))):
            for index, output_specs in enumerate(specs):
                for spec in output_specs:
                    loss = self.compile_loss.losses[index] if self.compile_loss else None
                    if isinstance(spec, str) and spec.lower() in ("accuracy", "acc"):
                        metric = metrics_module.resolve_accuracy(spec, loss, tuple(trues[index].shape), tuple(preds[index].shape))
                    else:
                        metric = metrics_module.get(spec)
                    if multi:
                        metric.name = f"{self.output_names[index]}_{metric.name}"
                    if weighted and not multi:
                        metric.name = metric.name if not any(m.name == metric.name for _, m, _ in self.entries) else f"weighted_{metric.name}"
                    self.entries.append((index, metric, weighted))
        self.built = True

    @property
    def metrics(self):
        return [m for _, m, _ in self.entries]

    @property
    def variables(self):
        return [v for m in self.metrics for v in m.variables]

    def update_state(self, y_true, y_pred, sample_weight=None):
        trues = outputs_by_position(y_true, self.output_names, "y")
        preds = outputs_by_position(y_pred, self.output_names, "the model output")
        for index, metric, weighted in self.entries:
            metric.update_state(trues[index], preds[index], sample_weight=sample_weight if weighted else None)

    def reset_state(self):
        for metric in self.metrics:
            metric.reset_state()


def _listify(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return value
    return [value]
