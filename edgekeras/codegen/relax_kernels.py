"""Lower each IR node to TIR kernels through TVM Relax.

A node (op + fused epilogue) becomes a small Relax function whose parameters are the node's inputs
(weights included, so kernels read them in place from the weights blob); Relax legalization and
fusion turn it into one or more PrimFuncs called in sequence. Values between those calls are
node-internal temporaries that the memory planner places like any other tensor. Reshape and identity
need no kernel: their output is a view of their input.
"""

import json
from dataclasses import dataclass, field

from edgekeras.ops.registry import get

VIEW_OPS = ("reshape", "identity")
# int8 MAC ops whose kernels carry their node's op, window and attrs (JSON under NODE_ATTR), so a
# target's schedule can swap the computation for a micro-kernel call (Cortex-M: schedules/cortex_m.py).
MICRO_KERNEL_OPS = ("qconv", "qdepthwise_conv", "qdense")
NODE_ATTR = "ek.node"


class LoweringError(ValueError):
    pass


@dataclass
class LoweringContext:
    in_types: list
    out_type: object


@dataclass
class KernelCall:
    func: object  # tvm PrimFunc
    name: str  # TVM's name for it, e.g. fused_conv2d_add_relu
    args: list  # tensor keys: inputs, then the output
    node: str  # IR node name, for errors and reports


@dataclass
class NodeLowering:
    calls: list
    temporaries: dict = field(default_factory=dict)  # key -> (shape, dtype)


def supported_ops():
    return sorted(name for name, op in _all_ops() if "relax" in op.extras) + list(VIEW_OPS)


def _all_ops():
    from edgekeras.ops.registry import all_ops

    return all_ops().items()


def check_supported(graph, target_name):
    for node in graph.nodes:
        for op_name in [node.op] + [name for name, _ in node.epilogue]:
            if op_name not in VIEW_OPS and "relax" not in get(op_name).extras:
                raise LoweringError(
                    f"Op '{op_name}' (layer '{node.layer or node.name}') has no kernel for target '{target_name}'. "
                    f"Supported ops: {', '.join(supported_ops())}."
                )


def view_constant_inputs(node, make_constant):
    """Give the op its compile-time prepared constants and requested input views; constant inputs
    are rewritten here, once, at compile time."""
    prepare = get(node.op).extras.get("relax_prepare")
    if prepare:
        activations = iter([v for v in node.inputs if not v.is_constant])
        arrays = prepare([v.data if v.is_constant else None for v in node.inputs], node.attrs)
        node.inputs = [next(activations) if a is None else make_constant(f"{node.name}:k{i}", a)
                       for i, a in enumerate(arrays)]
    views = get(node.op).extras.get("relax_views")
    if not views:
        return
    for index, shape in views([v.type for v in node.inputs], node.attrs).items():
        value = node.inputs[index]
        if value.is_constant and tuple(value.type.shape) != tuple(shape):
            node.inputs[index] = make_constant(f"{value.name}:view", value.data.reshape(shape))


def node_relax_function(node):
    from tvm import relax

    params = [relax.Var(f"in{i}", relax.TensorType(v.type.shape, v.type.dtype)) for i, v in enumerate(node.inputs)]
    views = get(node.op).extras.get("relax_views")
    types = [v.type for v in node.inputs]
    bb = relax.BlockBuilder()
    with bb.function("main", params):
        with bb.dataflow():
            args = list(params)
            for index, shape in (views(types, node.attrs) if views else {}).items():
                if tuple(types[index].shape) != tuple(shape):
                    args[index] = bb.emit(relax.op.reshape(args[index], shape))
                types[index] = types[index].with_(shape=tuple(shape))
            ctx = LoweringContext(types, node.output.type)
            expr = bb.emit(get(node.op).extras["relax"](ctx, *args, **node.attrs))
            for op_name, attrs in node.epilogue:
                ctx = LoweringContext([node.output.type], node.output.type)
                expr = bb.emit(get(op_name).extras["relax"](ctx, expr, **attrs))
            out = bb.emit_output(expr)
        bb.emit_func_output(out)
    return bb.get()


def _legalize_and_fuse(mod):
    import tvm
    from tvm import relax

    passes = [relax.transform.LegalizeOps(), relax.transform.AnnotateTIROpPattern(), relax.transform.FuseOps(),
              relax.transform.FuseTIR(), relax.transform.DeadCodeElimination()]
    return tvm.transform.Sequential(passes)(mod)


def lower_node(node, key_of):
    """The kernel calls computing `node`; `key_of(value)` names the tensors the node reads and writes."""
    from tvm import relax

    mod = _legalize_and_fuse(node_relax_function(node))
    main = mod["main"]
    env = {param: key_of(value) for param, value in zip(main.params, node.inputs)}
    result = NodeLowering(calls=[])
    bindings = [b for block in main.body.blocks for b in block.bindings]
    final = main.body.body
    for index, binding in enumerate(bindings):
        value = binding.value
        if isinstance(value, relax.Var):
            env[binding.var] = env[value]
            continue
        if not (isinstance(value, relax.Call) and value.op.name == "relax.call_tir"):
            raise LoweringError(f"Node '{node.name}' ({node.op}) lowered to an unsupported Relax expression {value.op}.")
        if binding.var.same_as(final) or _aliases_final(bindings[index + 1:], binding.var, final):
            key = key_of(node.output)
        else:
            key = f"{node.output.name}#t{len(result.temporaries)}"
            sinfo = binding.var.ty
            result.temporaries[key] = (tuple(int(d) for d in sinfo.shape), str(sinfo.dtype))
        env[binding.var] = key
        args = [env[a] for a in value.args[1].fields] + [key]
        result.calls.append(KernelCall(_described(mod[value.args[0]], node), value.args[0].name_hint, args, node.name))
    return result


def _described(func, node):
    """`func` with its node's op, window and attrs attached, for the int8 MAC ops a target may swap."""
    if node.op not in MICRO_KERNEL_OPS or node.epilogue:
        return func
    window = [int(d) for d in node.inputs[1].type.shape[:-2]]
    return func.with_attr(NODE_ATTR, json.dumps({"op": node.op, "window": window, "attrs": node.attrs}, default=int))


def _aliases_final(later, var, final):
    """True when `var` only reaches the function output through plain variable aliases."""
    from tvm import relax

    current = var
    for binding in later:
        if isinstance(binding.value, relax.Var) and binding.value.same_as(current):
            current = binding.var
    return current.same_as(final)
