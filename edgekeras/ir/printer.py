"""Text form of an IR graph, one line per node: what `--dump-ir` writes and what tests diff.

The output depends only on the graph (names, types, attrs in their recorded order), never on object
ids or dict hashing, so two dumps of the same graph are byte-identical.
"""

import numpy as np


def format_graph(graph):
    inputs = ", ".join(f"%{v.name}: {v.type}" for v in graph.inputs)
    lines = [f"graph {graph.name}({inputs}) {{"]
    lines += [f"  {format_node(node)}" for node in graph.nodes]
    lines.append(f"  return {', '.join(_operand(v) for v in graph.outputs)}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def format_node(node):
    outs = ", ".join(f"%{v.name}: {v.type}" for v in node.outputs)
    text = f"{outs} = {node.op}({', '.join(_operand(v) for v in node.inputs)})"
    if node.attrs:
        text += " " + _attrs(node.attrs)
    for op_name, attrs in node.epilogue:
        text += f" +{op_name}" + (_attrs(attrs) if attrs else "")
    if node.layer:
        text += f"   # {node.layer}"
    return text


def _operand(value):
    return f"@{value.name}: {value.type}" if value.is_constant else f"%{value.name}"


def _attrs(attrs):
    return "{" + ", ".join(f"{key}={_literal(value)}" for key, value in attrs.items()) + "}"


def _literal(value):
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        items = ", ".join(_literal(v) for v in value)
        return f"[{items}]" if isinstance(value, list) else f"({items}{',' if len(value) == 1 else ''})"
    if isinstance(value, np.generic):
        return _literal(value.item())
    if isinstance(value, np.ndarray):
        return _literal(value.tolist())
    return repr(value)
