"""Writes an artifact folder: the shared library, model.h, manifest.json and a README.

The library is linked from the TVM kernel object, the generated C files and the runtime_c sources,
all built in a scratch folder under fixed relative names, so no path, time or random name reaches
the output and the same inputs give the same bytes.
"""

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from edgekeras.codegen import emit_c

RUNTIME_DIR = Path(__file__).resolve().parents[2] / "runtime_c"
RUNTIME_SOURCES = ("src/ek_runtime.c", "src/ek_model_api.c", "port/ek_port_default.c")
PARALLEL_SOURCE = "src/ek_parallel.c"  # Linux only: the thread pool behind kernels' parallel loops
LIBRARY = "libmodel.so"


class BuildError(RuntimeError):
    pass


def _run(cmd, cwd):
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if result.returncode:
        first = (result.stderr or result.stdout).strip().splitlines()
        raise BuildError(f"`{' '.join(cmd[:2])} ...` failed: {first[0] if first else 'no output'}")


def link_shared_library(compiled, scratch):
    """Compile and link everything for the target; returns the library path inside `scratch`."""
    target = compiled.target
    target.require_tools()
    scratch = Path(scratch)
    for header in ("ek_abi.h", "ek_runtime.h", "ek_model_api.h", "ek_port.h"):
        shutil.copy(RUNTIME_DIR / "include" / header, scratch / header)
    sources = []
    for source in (*RUNTIME_SOURCES, PARALLEL_SOURCE):
        shutil.copy(RUNTIME_DIR / source, scratch / Path(source).name)
        sources.append(Path(source).name)
    (scratch / "model.c").write_text(emit_c.model_c(compiled))
    (scratch / "weights.c").write_text(emit_c.weights_c(compiled.weights, target.arena_align))
    sources += ["model.c", "weights.c"]
    compiled.kernels.build_object(target, scratch / "kernels.o")
    objects = []
    threads = f"-DEK_DEFAULT_THREADS={threads_of(compiled)}"
    for source in sources:
        obj = Path(source).with_suffix(".o").name
        _run([target.cc, *target.cflags, "-I.", threads, "-c", source, "-o", obj], scratch)
        objects.append(obj)
    _run([target.cc, *target.cflags, *target.ldflags, "-o", LIBRARY, *objects, "kernels.o", "-lm", "-lpthread"],
         scratch)
    return scratch / LIBRARY


def threads_of(compiled):
    """The compile-time --threads: the library's default thread count for parallel loops (1 on
    microcontrollers, which run no threads)."""
    return 1 if compiled.target.is_mcu else compiled.kernels.options.threads


def manifest(compiled, source_sha256):
    graph = compiled.graph
    from edgekeras.ops.registry import get

    types = {v.name: v.type for v in graph.inputs + graph.outputs}

    def io(indices):
        specs = []
        for i in indices:
            t = compiled.tensors[i]
            spec = {"name": t.key, "shape": list(t.shape), "dtype": t.dtype}
            quant = types[t.key].quant if t.key in types else None
            if quant is not None:
                spec.update(scale=quant.scale[0], zero_point=quant.zero_point[0])
            specs.append(spec)
        return specs

    ops = []
    for node in graph.nodes:
        macs = get(node.op).count_macs([v.type for v in node.inputs], [v.type for v in node.outputs], node.attrs)
        ops.append({"name": node.name, "op": node.op, "layer": node.layer, "epilogue": [e for e, _ in node.epilogue],
                    "macs": macs, "kernels": compiled.node_calls.get(node.name, [])})
    return {
        "format": "edgekeras-artifact/1",
        "name": compiled.name,
        "target": compiled.target.name,
        "target_kind": compiled.target.kind,
        "library": LIBRARY,
        "inputs": io(compiled.input_indices),
        "outputs": io(compiled.output_indices),
        "arena_bytes": compiled.arena_bytes,
        "arena_lower_bound_bytes": compiled.lower_bound_bytes,
        "arena_align": compiled.target.arena_align,
        "weight_bytes": len(compiled.weights),
        "kernels": len(compiled.kernels.funcs),
        "threads": threads_of(compiled),
        "macs": sum(op["macs"] for op in ops),
        "ops": ops,
        "edgekeras_version": compiled.version,
        "source_sha256": source_sha256,
    }


def readme(compiled):
    target = compiled.target
    return f"""# {compiled.name} for {target.name}

Compiled by edgekeras {compiled.version}: {target.description}.

- `{LIBRARY}`: the model (kernels, weights, runtime); no TVM runtime and no malloc inside.
- `model.h` + `ek_model_api.h`: the C API. `manifest.json`: shapes, sizes, ops.

The caller owns the arena ({compiled.arena_bytes} bytes, aligned to {target.arena_align}):

```c
#include "model.h"
static unsigned char arena[EK_ARENA_BYTES] __attribute__((aligned(EK_ARENA_ALIGN)));

int classify(const float *features) {{
    if (ek_model_init(arena, sizeof arena) != 0) return -1;
    memcpy(ek_model_input(0), features, EK_INPUT_0_BYTES);
    if (ek_model_run() != 0) return -1;          /* ek_model_error() says why */
    const float *scores = ek_model_output(0);
    ...
}}
```

Build: `{target.cc} app.c -L. -lmodel -Wl,-rpath,'$ORIGIN' -o app`.
From Python: `edgekeras.runtime.load("<this folder>").predict(x)`.
"""


def write_artifact(compiled, output_dir, source_sha256, quantization=None):
    """The artifact folder; `quantization` is the quantize phase's manifest section (None for float)."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="edgekeras-build-") as scratch:
        library = link_shared_library(compiled, scratch)
        shutil.copy(library, output_dir / LIBRARY)
    shutil.copy(RUNTIME_DIR / "include" / "ek_model_api.h", output_dir / "ek_model_api.h")
    (output_dir / "model.h").write_text(emit_c.model_h(compiled))
    info = manifest(compiled, source_sha256)
    if quantization is not None:
        info["quantize"] = quantization
    (output_dir / "manifest.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    (output_dir / "README.md").write_text(readme(compiled))
    return info

