"""From an optimized IR graph to a compiled model: kernels, tensor table, memory plan, weights blob."""

from dataclasses import dataclass, field

import numpy as np

from edgekeras.codegen.kernels import KernelTable
from edgekeras.codegen.schedules import ScheduleOptions
from edgekeras.codegen.memory_plan import Step, plan_memory
from edgekeras.codegen.relax_kernels import VIEW_OPS, check_supported, lower_node, view_constant_inputs

# Ops whose kernels read and write element i at the same index, so the output may overwrite input 0.
INPLACE_OPS = {"relu", "sigmoid", "tanh", "elu", "gelu", "hard_sigmoid", "swish", "hard_swish",
               "add", "subtract", "multiply", "maximum", "minimum", "cast"}


@dataclass
class TensorEntry:
    key: str
    shape: tuple
    dtype: str
    nbytes: int
    in_weights: bool = False
    offset: int = 0


@dataclass
class CallEntry:
    symbol: str
    node: str
    args: list  # tensor table indices
    workspace_bytes: int
    workspace_offset: int = 0


@dataclass
class CompiledModel:
    name: str
    version: str
    target: object
    graph: object
    kernels: KernelTable
    tensors: list
    calls: list
    input_indices: list
    output_indices: list
    arena_bytes: int
    lower_bound_bytes: int
    weights: bytes
    node_calls: dict = field(default_factory=dict)  # node name -> kernel symbols

    @property
    def kernel_symbols(self):
        return [symbol for symbol, _, _ in self.kernels.funcs]


def _align(n, alignment):
    return -(-n // alignment) * alignment


def build_model(graph, target, version, schedule_options=ScheduleOptions(), kernels=None):
    """`kernels`: the table the kernels go to (default: a KernelTable scheduling them for `target`).
    With `schedule_options.tune_trials`, the model's kernels are tuned first, so the schedules (and
    the workspaces the memory plan reserves) are the tuned ones."""
    if schedule_options.tune_trials and kernels is None:
        from edgekeras.codegen import tuning

        tuning.tune_model(graph, target, version, schedule_options)
    check_supported(graph, target.name)
    graph = graph.copy()  # lowering swaps in kernel-layout weights; the caller's graph stays as it was
    tensors, index = [], {}

    def entry(key, shape, dtype, in_weights=False):
        if key not in index:
            nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
            index[key] = len(tensors)
            tensors.append(TensorEntry(key, tuple(shape), dtype, nbytes, in_weights))
        return key

    def key_of(value):
        return entry(value.name, value.type.shape, value.type.dtype, value.is_constant)

    for value in graph.inputs:
        key_of(value)
    kernels = KernelTable(target, schedule_options) if kernels is None else kernels
    calls, steps, views, node_calls = [], [], {}, {}
    for node in graph.nodes:
        if node.op in VIEW_OPS and not node.epilogue:
            views[key_of(node.output)] = key_of(node.inputs[0])
            continue
        view_constant_inputs(node, graph.constant)
        lowered = lower_node(node, key_of)
        for key, (shape, dtype) in lowered.temporaries.items():
            entry(key, shape, dtype)
        node_calls[node.name] = []
        for call in lowered.calls:
            symbol, workspace = kernels.add(call.func, call.name)
            node_calls[node.name].append(symbol)
            writes = [call.args[-1]]
            if workspace:
                writes.append(entry(f"{call.args[-1]}#workspace", (workspace,), "uint8"))
            activations = [k for k in call.args[:-1] if not tensors[index[k]].in_weights]
            inplace = node.op in INPLACE_OPS and len(lowered.calls) == 1 and bool(activations) \
                and call.args[0] == activations[0]
            steps.append(Step(reads=activations, writes=writes, inplace=inplace))
            calls.append(CallEntry(symbol, node.name, [index[k] for k in call.args], workspace))
    outputs = [key_of(v) for v in graph.outputs]
    arena_keys = {t.key: t.nbytes for t in tensors if not t.in_weights}
    plan = plan_memory(arena_keys, steps, [v.name for v in graph.inputs], outputs, views, target.arena_align)
    for t in tensors:
        if not t.in_weights:
            t.offset = plan.offsets[t.key]
    for call in calls:
        workspace_key = f"{tensors[call.args[-1]].key}#workspace"
        if call.workspace_bytes:
            call.workspace_offset = plan.offsets[workspace_key]
    weights, constants = bytearray(), {v.name: v.data for v in graph.constants()}
    for t in tensors:
        if t.in_weights:
            weights += bytes(_align(len(weights), target.arena_align) - len(weights))
            t.offset = len(weights)
            weights += np.ascontiguousarray(constants[t.key]).tobytes()
    return CompiledModel(
        name=graph.name, version=version, target=target, graph=graph, kernels=kernels, tensors=tensors,
        calls=calls, input_indices=[index[v.name] for v in graph.inputs], output_indices=[index[k] for k in outputs],
        arena_bytes=plan.arena_bytes, lower_bound_bytes=plan.lower_bound_bytes, weights=bytes(weights),
        node_calls=node_calls,
    )

