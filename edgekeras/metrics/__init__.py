"""Metrics with Keras 3 names, math and configs, and Keras's resolution of compile() metric strings."""

from edgekeras import losses
from edgekeras.metrics.accuracy import (Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
                                        TopKCategoricalAccuracy, accuracy, binary_accuracy, categorical_accuracy,
                                        sparse_categorical_accuracy, top_k_categorical_accuracy)
from edgekeras.metrics.base import Mean, MeanMetricWrapper, Metric, reduce_to_samplewise_values
from edgekeras.metrics.confusion import AUC, Precision, Recall
from edgekeras.metrics.regression import MeanAbsoluteError, MeanSquaredError
from edgekeras.serialization import serialize as _serialize

_CLASSES = {cls.__name__: cls for cls in (Mean, MeanMetricWrapper, Accuracy, BinaryAccuracy, CategoricalAccuracy,
                                          SparseCategoricalAccuracy, TopKCategoricalAccuracy, Precision, Recall,
                                          AUC, MeanSquaredError, MeanAbsoluteError)}
# Keras's string names: snake_case class names, plus the short forms.
_ALIASES = {"accuracy": "Accuracy", "binary_accuracy": "BinaryAccuracy", "categorical_accuracy": "CategoricalAccuracy",
            "sparse_categorical_accuracy": "SparseCategoricalAccuracy",
            "top_k_categorical_accuracy": "TopKCategoricalAccuracy", "precision": "Precision", "recall": "Recall",
            "auc": "AUC", "mean_squared_error": "MeanSquaredError", "mse": "MeanSquaredError",
            "mean_absolute_error": "MeanAbsoluteError", "mae": "MeanAbsoluteError", "mean": "Mean"}
_FUNCTIONS = {fn.__name__: fn for fn in (accuracy, binary_accuracy, categorical_accuracy,
                                         sparse_categorical_accuracy, top_k_categorical_accuracy)}


def get_function(identifier):
    """A per-sample metric or loss function, by name or serialized function dict."""
    name = identifier.get("config") if isinstance(identifier, dict) else identifier
    return _FUNCTIONS[name] if name in _FUNCTIONS else losses.get_function(name)


def get(identifier):
    """A Metric from a name, a serialized dict, a Metric or a per-sample function; None stays None.

    A string gives the metric named by that string, as Keras's compile() names it ("mse" logs as
    "mse"). "accuracy"/"acc" here mean exact-match `Accuracy`; compile() resolves them by shapes
    with `resolve_accuracy`.
    """
    if identifier is None or isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type):
        return identifier()
    if isinstance(identifier, str):
        key = _ALIASES.get(identifier, _ALIASES.get(identifier.lower(), identifier))
        if key not in _CLASSES or key == "MeanMetricWrapper":
            known = sorted(set(_ALIASES) | set(_CLASSES) - {"MeanMetricWrapper"})
            raise ValueError(f"Unknown metric '{identifier}'. Known metrics: {', '.join(known)}.")
        return _CLASSES[key](name=identifier)
    if isinstance(identifier, dict):
        name = identifier.get("class_name")
        if name not in _CLASSES:
            raise ValueError(f"Unknown metric class '{name}' in config {identifier}.")
        return _CLASSES[name].from_config(identifier.get("config") or {})
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise ValueError(f"Could not interpret metric identifier: {identifier!r}")


def serialize(metric):
    return _serialize(metric, "keras.metrics")


def deserialize(config):
    return get(config)


_LOSS_KINDS = {"binary_crossentropy": (True, False), "sparse_categorical_crossentropy": (False, True),
               "categorical_crossentropy": (False, False)}


def resolve_accuracy(name, loss, y_true_shape, y_pred_shape):
    """The metric Keras 3 makes of "accuracy"/"acc": binary when outputs have one unit, sparse
    categorical when labels have lower rank (or one column against several), else categorical.

    Keras 3 decides from shapes alone; `loss` (a Loss or name) only decides when shapes are unknown.
    """
    if y_true_shape is not None and y_pred_shape is not None:
        is_binary, is_sparse = losses.label_kind(tuple(y_true_shape), tuple(y_pred_shape))
    else:
        fn = getattr(losses.get(loss), "fn", None)
        is_binary, is_sparse = _LOSS_KINDS.get(getattr(fn, "__name__", None), (False, False))
    if is_binary:
        return BinaryAccuracy(name=name)
    if is_sparse:
        return SparseCategoricalAccuracy(name=name)
    return CategoricalAccuracy(name=name)


__all__ = ["Metric", "Mean", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
           "SparseCategoricalAccuracy", "TopKCategoricalAccuracy", "Precision", "Recall", "AUC", "MeanSquaredError",
           "MeanAbsoluteError", "accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
           "top_k_categorical_accuracy", "reduce_to_samplewise_values", "get", "get_function", "serialize",
           "deserialize", "resolve_accuracy"]
