"""Code generation on the host: every lowered op against its NumPy reference, the memory planner's
invariants, byte-identical artifacts, and clear errors for what cannot be compiled."""

import json

import numpy as np
import pytest

from edgekeras.codegen.artifact import write_artifact
from edgekeras.codegen.build import build_model
from edgekeras.codegen.memory_plan import Step, plan_memory
from edgekeras.codegen.relax_kernels import LoweringError
from edgekeras.ir import interpreter
from edgekeras.ir.graph import Graph
from edgekeras.runtime import load
from edgekeras.targets import get_target

RNG = np.random.default_rng(0)


def _const(g, name, shape, scale=0.5):
    return g.constant(name, (RNG.standard_normal(shape) * scale).astype("float32"))


def _zoo_graph():
    """One input feeding many independent ops, each a graph output: one build covers them all."""
    g = Graph("ops")
    x = g.add_input("x", (1, 6, 6, 4))
    v = g.add_input("v", (1, 5))
    outs = []

    def op(name, inputs, **attrs):
        node = g.add_node(name, inputs, attrs)
        outs.append(node.output)
        return node.output

    for act, attrs in [("relu", {}), ("relu", {"max_value": 6.0}), ("relu", {"negative_slope": 0.1, "threshold": 0.2}),
                       ("sigmoid", {}), ("tanh", {}), ("elu", {"alpha": 0.7}), ("gelu", {}), ("gelu", {"approximate": True}),
                       ("hard_sigmoid", {}), ("swish", {}), ("hard_swish", {}), ("softmax", {"axis": -1})]:
        op(act, [x], **attrs)
    for binary in ("add", "subtract", "multiply", "maximum", "minimum"):
        op(binary, [x, _const(g, f"{binary}_c", (4,))])
    op("add", [x, x])
    op("conv", [x, _const(g, "k1", (3, 3, 4, 5)), _const(g, "b1", (5,))], strides=2, padding="same")
    op("conv", [x, _const(g, "k2", (2, 2, 2, 6))], groups=2, dilation=2, padding="valid")
    op("conv", [x, _const(g, "k3", (1, 1, 4, 3))], padding=((1, 0), (0, 2)))
    op("depthwise_conv", [x, _const(g, "dk", (3, 3, 4, 2)), _const(g, "db", (8,))], padding="same")
    op("depthwise_conv", [x, _const(g, "dk2", (3, 3, 4, 1))], strides=2, padding="valid")
    op("max_pool", [x], pool_size=2)
    op("max_pool", [x], pool_size=3, strides=2, padding="same")
    op("avg_pool", [x], pool_size=(2, 3), strides=1, padding="same")
    op("avg_pool", [x], pool_size=2, padding="valid")
    op("reduce_mean", [x], axes=(1, 2))
    op("reduce_max", [x], axes=(1, 2), keepdims=True)
    op("batch_norm", [x, _const(g, "m", (4,)), g.constant("var", np.full(4, 0.7, "float32")),
                      _const(g, "gamma", (4,)), _const(g, "beta", (4,))], epsilon=1e-3)
    op("layer_norm", [x, _const(g, "lg", (4,)), _const(g, "lb", (4,))], axes=(-1,))
    op("transpose", [x], perm=(0, 3, 1, 2))
    op("pad", [x], pads=((0, 0), (1, 2), (0, 1), (0, 0)))
    op("concatenate", [x, x], axis=-1)
    op("cast", [x], dtype="int32")
    op("upsample", [x], scale=2)
    op("upsample", [x], scale=(2, 3), method="bilinear")
    op("dense", [x, _const(g, "dk3", (4, 7)), _const(g, "dbias", (7,))])
    op("dense", [v, _const(g, "vk", (5, 3))])
    flat = g.add_node("reshape", [x], {"shape": (-1,)}).output
    op("dense", [flat, _const(g, "fk", (144, 3))])
    g.outputs = outs
    return g


@pytest.fixture(scope="module")
def zoo_artifact(tmp_path_factory):
    graph = _zoo_graph()
    folder = tmp_path_factory.mktemp("zoo")
    write_artifact(build_model(graph, get_target("host"), "test"), folder, "0" * 64)
    return graph, folder


def test_every_lowered_op_matches_numpy_reference(zoo_artifact):
    graph, folder = zoo_artifact
    x = RNG.standard_normal((3, 6, 6, 4)).astype("float32")
    v = RNG.standard_normal((3, 5)).astype("float32")
    expected = interpreter.run(graph, [x, v])
    got = load(folder).predict([x, v])
    for value, out in zip(graph.outputs, got):
        ref = expected[value.name]
        assert out.shape == ref.shape, value.name
        np.testing.assert_allclose(out, ref, atol=2e-5, rtol=1e-5, err_msg=f"{value.name} ({value.producer.op})")


def test_manifest_describes_io_and_memory(zoo_artifact):
    graph, folder = zoo_artifact
    manifest = json.loads((folder / "manifest.json").read_text())
    assert [i["name"] for i in manifest["inputs"]] == ["x", "v"]
    assert manifest["outputs"][0]["shape"] == [1, 6, 6, 4]
    assert manifest["arena_bytes"] >= manifest["arena_lower_bound_bytes"] > 0
    assert manifest["weight_bytes"] >= sum(c.data.nbytes for c in graph.constants())
    assert len(manifest["ops"]) == len(graph.nodes)


def test_same_model_gives_byte_identical_artifact(tmp_path):
    graph = _zoo_graph()
    for name in ("a", "b"):
        write_artifact(build_model(graph, get_target("host"), "test"), tmp_path / name, "0" * 64)
    for file in ("libmodel.so", "model.h", "manifest.json", "README.md", "ek_model_api.h"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes(), file


def test_unsupported_op_names_op_layer_and_supported_set():
    g = Graph("up")
    x = g.add_input("x", (1, 4, 4, 2))
    k = g.constant("k", np.ones((2, 2, 3, 2), "float32"))
    g.outputs = [g.add_node("conv_transpose", [x, k], {"strides": 2}, layer="conv2d_transpose").output]
    with pytest.raises(LoweringError, match=r"'conv_transpose' \(layer 'conv2d_transpose'\).*Supported ops: .*conv"):
        build_model(g, get_target("host"), "test")


# ---- memory planner --------------------------------------------------------------------------
def _overlaps(plan, sizes, lifetimes):
    keys = list(lifetimes)
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            (fa, la), (fb, lb) = lifetimes[a], lifetimes[b]
            if la < fb or lb < fa:
                continue
            lo_a, hi_a = plan.offsets[a], plan.offsets[a] + sizes[a]
            lo_b, hi_b = plan.offsets[b], plan.offsets[b] + sizes[b]
            if lo_a < hi_b and lo_b < hi_a:
                return a, b
    return None


def test_chain_reuses_memory_and_respects_alignment():
    sizes = {"in": 100, "a": 400, "b": 400, "c": 100, "out": 40}
    steps = [Step(["in"], ["a"]), Step(["a"], ["b"]), Step(["b"], ["c"]), Step(["c"], ["out"])]
    plan = plan_memory(sizes, steps, ["in"], ["out"], {}, alignment=64)
    assert all(offset % 64 == 0 for offset in plan.offsets.values())
    assert plan.lower_bound_bytes == 800
    assert plan.arena_bytes < sum(sizes.values())
    lifetimes = {"in": (-1, 0), "a": (0, 1), "b": (1, 2), "c": (2, 3), "out": (3, 4)}
    assert _overlaps(plan, sizes, lifetimes) is None


def test_inplace_and_views_share_storage_but_never_graph_inputs():
    sizes = {"in": 256, "a": 256, "r": 256, "v": 256, "out": 256}
    steps = [Step(["in"], ["a"], inplace=True), Step(["a"], ["r"], inplace=True), Step(["v"], ["out"])]
    plan = plan_memory(sizes, steps, ["in"], ["out"], {"v": "r"}, alignment=64)
    assert plan.offsets["a"] != plan.offsets["in"]  # the caller's input buffer is never overwritten
    assert plan.offsets["r"] == plan.offsets["a"] == plan.offsets["v"]


def test_random_schedules_never_overlap_live_tensors():
    rng = np.random.default_rng(1)
    for _ in range(50):
        n = int(rng.integers(2, 12))
        keys = [f"t{i}" for i in range(n)]
        sizes = {k: int(rng.integers(1, 500)) for k in keys}
        steps = []
        for i in range(1, n):
            reads = sorted({keys[int(j)] for j in rng.integers(0, i, size=int(rng.integers(1, 3)))})
            steps.append(Step(reads, [keys[i]]))
        plan = plan_memory(sizes, steps, [keys[0]], [keys[-1]], {}, alignment=16)
        lifetimes = {keys[0]: [-1, -1]}
        for index, step in enumerate(steps):
            for k in step.writes:
                lifetimes[k] = [index, index]
            for k in step.reads:
                lifetimes[k][1] = index
        lifetimes[keys[-1]][1] = len(steps)
        assert _overlaps(plan, sizes, {k: tuple(v) for k, v in lifetimes.items()}) is None
        assert plan.arena_bytes >= plan.lower_bound_bytes


def _two_stage_kernel(stage_inside_loop):
    """y = x * 2 + 1 with the 4 KB intermediate x * 2 either allocated once or once per row."""
    from tvm import s_tir, te

    x = te.placeholder((4, 1024), "float32", name="x")
    doubled = te.compute((4, 1024), lambda i, j: x[i, j] * 2.0, name="doubled")
    y = te.compute((4, 1024), lambda i, j: doubled[i, j] + 1.0, name="y")
    sch = s_tir.Schedule(te.create_prim_func([x, y]))
    if stage_inside_loop:
        row, _ = sch.get_loops(sch.get_sblock("y"))
        sch.compute_at(sch.get_sblock("doubled"), row)
    return sch.mod["main"]


def test_a_workspace_allocated_once_per_loop_iteration_is_recognised():
    from edgekeras.codegen.kernels import allocates_in_loops, workspace_bytes

    assert not allocates_in_loops(_two_stage_kernel(False))
    assert workspace_bytes(_two_stage_kernel(False)) == 4 * 1024 * 4
    assert allocates_in_loops(_two_stage_kernel(True))
    assert workspace_bytes(_two_stage_kernel(True)) == 1024 * 4
