"""The whole IR graph as ONE Relax module, for targets where the TVM runtime runs the model (CUDA).

CPU targets lower node by node into our own C runtime; a GPU artifact is a Relax VM executable, so
the graph stays one function: every node's Relax function (the same one CPU targets lower, so ops
mean the same everywhere) is called from `main` and inlined, weights become constants. "fp16"
rewrites the module with Relax's ToMixedPrecision: convolutions and matmuls read float16 weights and
activations and accumulate in float32 (as tensor cores do); inputs and outputs stay float32.
"""

from edgekeras.codegen.relax_kernels import VIEW_OPS, node_relax_function, check_supported, view_constant_inputs

PRECISIONS = ("float", "fp16")


def graph_module(graph, target_name, precision="float"):
    """An IRModule whose `main` takes the graph inputs (batch as in the graph) and returns its outputs."""
    import tvm
    from tvm import relax

    if precision not in PRECISIONS:
        raise ValueError(f"Unknown precision {precision!r} for target '{target_name}'; supported: "
                         f"{', '.join(PRECISIONS)}.")
    check_supported(graph, target_name)
    graph = graph.copy()  # kernel-layout weights are swapped in below; the caller's graph stays as it was
    params = [relax.Var(_var_name(v.name), relax.TensorType(v.type.shape, v.type.dtype)) for v in graph.inputs]
    exprs = {id(v): p for v, p in zip(graph.inputs, params)}

    def expr_of(value):
        return relax.const(value.data) if value.is_constant else exprs[id(value)]

    bb = relax.BlockBuilder()
    with bb.function("main", params):
        with bb.dataflow():
            for node in graph.nodes:
                if node.op in VIEW_OPS and not node.epilogue:
                    source = expr_of(node.inputs[0])
                    exprs[id(node.output)] = bb.emit(relax.op.reshape(source, node.output.type.shape))
                    continue
                view_constant_inputs(node, graph.constant)
                function = node_relax_function(node)["main"].without_attr("global_symbol")
                callee = bb.add_func(function, _var_name(f"node_{node.name}"))
                exprs[id(node.output)] = bb.emit(relax.Call(callee, [expr_of(v) for v in node.inputs]))
            results = [expr_of(v) for v in graph.outputs]
            out = bb.emit_output(results[0] if len(results) == 1 else relax.Tuple(results))
        bb.emit_func_output(out)
    passes = [relax.transform.InlinePrivateFunctions(), relax.transform.DeadCodeElimination(["main"])]
    if precision == "fp16":
        passes.append(relax.transform.ToMixedPrecision(out_dtype="float32"))
    return tvm.transform.Sequential(passes)(bb.get())


def _var_name(name):
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name)
