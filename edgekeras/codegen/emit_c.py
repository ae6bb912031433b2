"""C sources of an artifact: the model descriptor (model.c), the weights blob (weights.c), model.h.

Everything is written in a fixed order from the compiled model, so the same model and options give
the same bytes.
"""

import numpy as np

DTYPE_CODES = {"int": 0, "uint": 1, "float": 2}


def _dtype_fields(dtype):
    dt = np.dtype(dtype)
    code = {"i": "int", "u": "uint", "f": "float", "b": "uint"}[dt.kind]
    return DTYPE_CODES[code], dt.itemsize * 8


def _c_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def model_c(compiled):
    """`compiled`: codegen.compile.CompiledModel."""
    lines = [f"/* edgekeras {compiled.version}: model '{compiled.name}' for target {compiled.target.name}. Generated. */",
             '#include "ek_runtime.h"', ""]
    for symbol in compiled.kernel_symbols:
        lines.append(f"int32_t __tvm_ffi_{symbol}(void *self, void *args, int32_t num_args, void *result);")
    lines.append("")
    lines.append("extern const uint8_t ek_weights[];")
    lines.append("")
    for i, t in enumerate(compiled.tensors):
        lines.append(f"static const int64_t ek_shape_{i}[] = {{{', '.join(str(d) for d in t.shape) or '1'}}};")
    lines.append("")
    lines.append("static const ek_tensor_t ek_tensors[] = {")
    for i, t in enumerate(compiled.tensors):
        code, bits = _dtype_fields(t.dtype)
        mem = "EK_MEM_WEIGHTS" if t.in_weights else "EK_MEM_ARENA"
        lines.append(f"  {{{mem}, {code}, {bits}, {len(t.shape)}, {t.offset}u, {t.nbytes}u, ek_shape_{i}}}, /* {t.key} */")
    lines.append("};")
    lines.append("")
    for i, call in enumerate(compiled.calls):
        lines.append(f"static const uint16_t ek_args_{i}[] = {{{', '.join(str(a) for a in call.args)}}};")
    lines.append("")
    lines.append("static const ek_call_t ek_calls[] = {")
    for i, call in enumerate(compiled.calls):
        lines.append(f"  {{(ek_kernel_fn)__tvm_ffi_{call.symbol}, {_c_string(call.node)}, ek_args_{i}, "
                     f"{len(call.args)}, {call.workspace_offset}u, {call.workspace_bytes}u}},")
    lines.append("};")
    lines.append("")
    lines.append(f"static const uint16_t ek_inputs[] = {{{', '.join(str(i) for i in compiled.input_indices)}}};")
    lines.append(f"static const uint16_t ek_outputs[] = {{{', '.join(str(i) for i in compiled.output_indices)}}};")
    lines.append("")
    lines.append("const ek_model_t ek_model_desc = {")
    lines.append(f"  {_c_string(compiled.name)}, ek_tensors, {len(compiled.tensors)}, ek_calls, {len(compiled.calls)},")
    lines.append(f"  ek_inputs, {len(compiled.input_indices)}, ek_outputs, {len(compiled.output_indices)},")
    lines.append(f"  ek_weights, {compiled.arena_bytes}u, {compiled.target.arena_align}u,")
    lines.append("};")
    return "\n".join(lines) + "\n"


def weights_c(blob, alignment):
    """The weights as one const byte array (so it lands in flash / read-only memory)."""
    data = np.frombuffer(blob, dtype=np.uint8) if blob else np.zeros(1, np.uint8)
    rows = [",".join(map(str, data[i:i + 32].tolist())) for i in range(0, len(data), 32)]
    body = ",\n".join(rows)
    return ('#include <stdint.h>\n\n'
            f"const uint8_t ek_weights[{len(data)}] __attribute__((aligned({alignment}))) = {{\n{body}\n}};\n")


def model_h(compiled):
    guard = "EK_MODEL_H"
    lines = [f"/* edgekeras {compiled.version}: model '{compiled.name}' for target {compiled.target.name}. Generated. */",
             f"#ifndef {guard}", f"#define {guard}", "", '#include "ek_model_api.h"', "",
             f"#define EK_MODEL_NAME {_c_string(compiled.name)}",
             f"#define EK_ARENA_BYTES {compiled.arena_bytes}u",
             f"#define EK_ARENA_ALIGN {compiled.target.arena_align}u",
             f"#define EK_NUM_INPUTS {len(compiled.input_indices)}",
             f"#define EK_NUM_OUTPUTS {len(compiled.output_indices)}"]
    quant_of = {v.name: v.type.quant for v in compiled.graph.inputs + compiled.graph.outputs}
    for kind, indices in (("INPUT", compiled.input_indices), ("OUTPUT", compiled.output_indices)):
        for n, index in enumerate(indices):
            t = compiled.tensors[index]
            lines.append(f"#define EK_{kind}_{n}_BYTES {t.nbytes}u /* {t.key}: {t.dtype}[{','.join(map(str, t.shape))}] */")
            quant = quant_of.get(t.key)
            if quant is not None:  # real = scale * (q - zero_point)
                lines.append(f"#define EK_{kind}_{n}_SCALE {quant.scale[0]!r}f")
                lines.append(f"#define EK_{kind}_{n}_ZERO_POINT ({quant.zero_point[0]})")
    lines += ["", f"#endif /* {guard} */"]
    return "\n".join(lines) + "\n"
