"""CUDA artifacts: the whole graph as one Relax function, scheduled for the GPU by dlight (TVM's
default CUDA pipeline), compiled to a Relax VM executable whose device code nvcc compiled at build
time (`cuda_device_code`). The folder holds `model.so`, `manifest.json` (the host artifacts' schema,
`target_kind` "cuda") and a README; running it needs only the TVM runtime with CUDA.
"""

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from edgekeras.codegen.cuda_device_code import DeviceCodeError, device_code, packer
from edgekeras.codegen.cuda_graph import graph_module

LIBRARY = "model.so"
FORCE_FALLBACK = "TVM_COMPILE_FORCE_FALLBACK"  # TVM 0.27: CUDA codegen keeps the kernels as source


class CudaBuildError(RuntimeError):
    pass


@dataclass
class CudaBuild:
    """The compiled model: the lowered Relax module (for reports) and the VM executable."""
    name: str
    target: object
    graph: object
    precision: str
    module: object
    executable: object

    def storage_blocks(self):
        """Bytes of each device memory block the VM allocates for activations (Relax's static plan)."""
        return [int(call.args[0].values[0]) for call in _calls(self.module["main"], "relax.vm.alloc_storage")]

    def weight_bytes(self):
        """Bytes of the constants embedded in the executable (half-size where fp16 folded them)."""
        import tvm
        from tvm import relax

        constants = []

        def visit(expr):
            value = getattr(expr, "value", None) if isinstance(expr, tvm.ir.expr.Constant) else None
            if isinstance(value, tvm.runtime.Tensor) and not any(c.same_as(expr) for c in constants):
                constants.append(expr)

        relax.analysis.post_order_visit(self.module["main"], visit)
        return sum(c.value.numpy().nbytes for c in constants)

    def kernel_count(self):
        from tvm import tirx

        return sum(isinstance(f, tirx.PrimFunc) for f in self.module.functions.values())


def _calls(function, op_name):
    import tvm
    from tvm import relax

    found = []

    def visit(expr):
        if isinstance(expr, relax.Call) and isinstance(expr.op, tvm.ir.Op) and expr.op.name == op_name:
            found.append(expr)

    relax.analysis.post_order_visit(function, visit)
    return found


def build_cuda(graph, target, precision):
    """Lower and compile `graph` for the cuda `target` in `precision` ("float" or "fp16")."""
    import tvm
    from tvm import relax

    module = graph_module(graph, target.name, precision)
    tvm_target = target.tvm_target()
    try:
        with tvm_target, _kernels_as_source():
            lowered = relax.get_default_pipeline(tvm_target)(module)
            executable = tvm.compile(lowered, target=tvm_target, relax_pipeline=None)
    except tvm.error.TVMError as err:
        raise CudaBuildError(f"TVM could not compile the model for {target.name}: {str(err).splitlines()[0]}") from None
    return CudaBuild(graph.name, target, graph, precision, lowered, executable)


@contextlib.contextmanager
def _kernels_as_source():
    """Where TVM has a CUDA runtime (a GPU build machine) it would compile the kernels for the local
    GPU right away; keep them as source so nvcc compiles them for the target's architectures."""
    previous = os.environ.get(FORCE_FALLBACK)
    os.environ[FORCE_FALLBACK] = "1"
    try:
        yield
    finally:
        if previous is None:
            del os.environ[FORCE_FALLBACK]
        else:
            os.environ[FORCE_FALLBACK] = previous


def write_cuda_artifact(build, output_dir, source_sha256, version):
    """The artifact folder for `build`; returns its manifest."""
    target = build.target
    target.require_tools(emulator=False)
    device = target.extra.get("device", {})
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    try:
        code = device_code(build.executable, device.get("sass", [target.tvm["arch"]]), device.get("ptx"))
        options = {"fpack_imports": packer(code)} if code.format == "fatbin" else {}
        build.executable.export_library(str(output_dir / LIBRARY), cc=target.cc, **options)
    except DeviceCodeError as err:
        raise CudaBuildError(str(err)) from None
    info = manifest(build, code, source_sha256, version)
    (output_dir / "manifest.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    (output_dir / "README.md").write_text(readme(build, code, version))
    return info


def _io(values):
    return [{"name": v.name, "shape": list(v.type.shape), "dtype": v.type.dtype} for v in values]


def manifest(build, code, source_sha256, version):
    import tvm

    from edgekeras.ops.registry import get

    graph, target = build.graph, build.target
    ops = [{"name": node.name, "op": node.op, "layer": node.layer, "epilogue": [e for e, _ in node.epilogue],
            "macs": get(node.op).count_macs([v.type for v in node.inputs], [v.type for v in node.outputs],
                                            node.attrs),
            "kernels": []}  # kernels are fused across nodes on the GPU; `kernels` counts them all
           for node in graph.nodes]
    return {
        "format": "edgekeras-artifact/1",
        "name": build.name,
        "target": target.name,
        "target_kind": target.kind,
        "library": LIBRARY,
        "inputs": _io(graph.inputs),
        "outputs": _io(graph.outputs),
        "precision": build.precision,
        "arch": target.tvm["arch"],
        "device_code": code.manifest(),
        "runtime": f"tvm {tvm.__version__}",
        # the arena: device memory for activations and outputs (inputs are the caller's); no plan of
        # these fused kernels needs less than its largest block
        "arena_bytes": sum(build.storage_blocks()),
        "arena_lower_bound_bytes": max(build.storage_blocks(), default=0),
        "arena_align": target.arena_align,
        "weight_bytes": build.weight_bytes(),
        "kernels": build.kernel_count(),
        "macs": sum(op["macs"] for op in ops),
        "ops": ops,
        "edgekeras_version": version,
        "source_sha256": source_sha256,
    }


def readme(build, code, version):
    target = build.target
    inputs = ", ".join(f"{v.name} {v.type.dtype}{list(v.type.shape)}" for v in build.graph.inputs)
    if code.format == "fatbin":
        device = (f"Kernels compiled at build time by {code.compiler}: machine code for {', '.join(code.sass)}"
                  + (f", PTX {code.ptx} for newer GPUs" if code.ptx else "") + ".")
    else:
        device = code.manifest()["note"]
    return f"""# {build.name} for {target.name} ({build.precision})

Compiled by edgekeras {version}: {target.description}.

- `{LIBRARY}`: a TVM Relax VM executable (weights inside). {device}
- `manifest.json`: inputs, outputs, MACs, device memory, precision, how the device code was built.

Run it with the TVM runtime (CUDA enabled) and NumPy only:

```python
import numpy as np, tvm
from tvm.runtime.vm import VirtualMachine

device = tvm.cuda(0)
vm = VirtualMachine(tvm.runtime.load_module("{LIBRARY}"), device)
out = vm["main"](tvm.runtime.tensor(x.astype("float32"), device))   # inputs: {inputs}
print(out.numpy())
```

From Python with edgekeras: `edgekeras.runtime.load("<this folder>").predict(x)` (any batch size).
"""
