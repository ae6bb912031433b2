"""Structural checks of an IR graph, cheap enough to run after every pass.

A pass that breaks the graph should fail at that pass, naming the node, not three phases later as a
wrong number or a crash in code generation.
"""

from edgekeras.ops.registry import get

# Ops an epilogue may hold: elementwise, one input, output shaped as the input (not softmax).
EPILOGUE_OPS = frozenset(
    {"relu", "sigmoid", "tanh", "elu", "gelu", "hard_sigmoid", "swish", "hard_swish", "identity"}
)


class IRError(ValueError):
    """The graph is malformed; the message names the node (or graph output) and the problem."""


def verify(graph):
    """Raise IRError on the first problem found; return the graph so the check can sit in a pass list."""
    defined = set()
    names = {}
    for value in graph.inputs:
        _claim(names, value, f"graph input %{value.name}")
        defined.add(id(value))
    for node in graph.nodes:
        where = f"node '{node.name}' ({node.op})"
        try:
            op = get(node.op)
        except ValueError as err:
            raise IRError(f"{where}: {err}") from None
        for value in node.inputs:
            if value.is_constant:
                _claim(names, value, f"constant @{value.name}")
            elif id(value) not in defined:
                raise IRError(
                    f"{where}: input %{value.name} is not defined before use (dangling edge, wrong order or cycle)."
                )
        _check_outputs(where, node, op)
        for value in node.outputs:
            _claim(names, value, f"output of {where}")
            defined.add(id(value))
        _check_epilogue(where, node)
    for value in graph.outputs:
        if value.is_constant:
            _claim(names, value, f"graph output @{value.name}")
        elif id(value) not in defined:
            raise IRError(f"graph output %{value.name} is not produced by any node or input of graph '{graph.name}'.")
    return graph


def _claim(names, value, what):
    """Value names are how dumps, reports and per-layer comparisons find tensors: they must be unique."""
    other = names.setdefault(value.name, value)
    if other is not value:
        raise IRError(f"{what}: duplicate value name '{value.name}'.")


def _check_outputs(where, node, op):
    try:
        specs = op.infer([v.type for v in node.inputs], **node.attrs)
    except (ValueError, TypeError) as err:
        raise IRError(f"{where}: shape rule rejects the node: {err}") from None
    specs = specs if isinstance(specs, tuple) else (specs,)
    if len(specs) != len(node.outputs):
        raise IRError(f"{where}: has {len(node.outputs)} outputs, the op defines {len(specs)}.")
    for value, spec in zip(node.outputs, specs):
        if value.producer is not node:
            raise IRError(f"{where}: output %{value.name} names another producer.")
        if tuple(value.type.shape) != tuple(spec.shape) or value.type.dtype != spec.dtype:
            raise IRError(
                f"{where}: output %{value.name} is typed {value.type}, the shape rule gives "
                f"{spec.dtype}{list(spec.shape)}."
            )


def _check_epilogue(where, node):
    for op_name, _ in node.epilogue:
        if op_name not in EPILOGUE_OPS:
            raise IRError(
                f"{where}: epilogue op '{op_name}' is not an elementwise unary op ({', '.join(sorted(EPILOGUE_OPS))})."
            )
