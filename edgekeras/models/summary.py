"""`model.summary()`: the Keras table (layer, output shape, params, connected to) plus MACs."""

import numpy as np


def _output_shape(layer):
    if not layer._inbound_nodes:
        return "?"
    shapes = [t.shape for t in layer._inbound_nodes[-1].outputs]
    return str(shapes[0]) if len(shapes) == 1 else str(shapes)


def _model_nodes(model, layer):
    """The calls of `layer` inside `model` (several for a shared layer); its last call otherwise."""
    nodes = [n for n in getattr(model, "_nodes", []) if n.layer is layer]
    return nodes or layer._inbound_nodes[-1:]


def _connected_to(model, layer):
    names = []
    for node in _model_nodes(model, layer):
        for t in node.input_tensors:
            parent, node_index, tensor_index = t._keras_history
            names.append(f"{parent.name}[{node_index}][{tensor_index}]")
    return ", ".join(names) or "-"


def layer_macs(model, layer):
    """MACs of the layer's calls in the model, per sample (unknown batch dims count as 1)."""
    return sum(node.macs for node in _model_nodes(model, layer))


def total_macs(model):
    return sum(layer_macs(model, layer) for layer in model.layers)


def weight_bytes(model):
    """Bytes of all weights, from shapes and dtypes (no copy of the values)."""
    return int(sum(np.prod(w.shape, dtype=np.int64) * np.dtype(w.dtype).itemsize for w in model.weights))


def _fmt_bytes(n):
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024


def print_summary(model, print_fn=print, line_length=None):
    from edgekeras.models.functional import Functional

    show_connections = isinstance(model, Functional)
    headers = ["Layer (type)", "Output Shape", "Param #", "MACs"] + (["Connected to"] if show_connections else [])
    rows = []
    for layer in (model._layers if show_connections else model.layers):
        row = [f"{layer.name} ({type(layer).__name__})", _output_shape(layer), f"{layer.count_params():,}",
               f"{layer_macs(model, layer):,}"]
        if show_connections:
            row.append(_connected_to(model, layer))
        rows.append(row)
    widths = [max(len(h), *(len(r[i]) for r in rows)) + 2 if rows else len(h) + 2 for i, h in enumerate(headers)]
    total_width = line_length or sum(widths)

    def line(cells):
        return "".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    trainable = sum(int(np.prod(w.shape, dtype=np.int64)) for w in model.trainable_weights)
    total = model.count_params()
    non_trainable = total - trainable
    kind = "Functional" if show_connections else type(model).__name__
    print_fn(f'Model: "{model.name}" ({kind})')
    print_fn("\u2501" * total_width)
    print_fn(line(headers))
    print_fn("\u2501" * total_width)
    for i, row in enumerate(rows):
        print_fn(line(row))
        print_fn(("\u2500" if i < len(rows) - 1 else "\u2501") * total_width)
    size = weight_bytes(model)
    print_fn(f" Total params: {total:,} ({_fmt_bytes(size)})")
    print_fn(f" Trainable params: {trainable:,}")
    print_fn(f" Non-trainable params: {non_trainable:,}")
    print_fn(f" Total MACs: {total_macs(model):,} (per sample)")
