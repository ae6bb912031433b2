"""Device code compiled at build time: nvcc turns the CUDA source TVM generated into a fatbin for the
target's GPUs, and the exported library carries that fatbin instead of the source.

Without a CUDA driver, TVM 0.27 hands back the kernels as CUDA C++ (a "cuda" module of format
"cuda"), which the TVM runtime would compile on the GPU machine at every load (NVRTC or nvcc needed
there). `export_library` packs the imported modules into one blob, `__tvm_ffi__library_bin`:
[u64 size][import tree: u64 vector of row offsets, u64 vector of child indices], then per module its
kind string and (except the host library, "_lib") its bytes; a CUDA module's bytes are
[fmt string][function table][code bytes]; strings and byte runs are a u64 length + bytes. We rewrite
the one CUDA entry to fmt "fatbin" with the nvcc output, which `cuModuleLoadData` loads as it is.
"""

import os
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

NVCC_ENV = "EDGEKERAS_NVCC"  # path of nvcc to use; set to "" to build without it (kernels stay CUDA source)
BLOB_SYMBOL = "__tvm_ffi__library_bin"


class DeviceCodeError(RuntimeError):
    pass


@dataclass(frozen=True)
class DeviceCode:
    """What the library carries for the GPU: a fatbin (SASS for `sass`, PTX for `ptx`) or CUDA source."""
    format: str  # "fatbin" or "cuda-source"
    sass: tuple = ()
    ptx: Optional[str] = None
    compiler: Optional[str] = None
    binary: bytes = b""

    def manifest(self):
        info = {"format": self.format, "sass": list(self.sass), "ptx": self.ptx, "compiler": self.compiler}
        if self.format != "fatbin":
            info["note"] = ("nvcc was not available at compile time: the library carries CUDA source, which the "
                            "TVM runtime compiles when it loads the library (NVRTC from cuda-python, or nvcc with "
                            "TVM_CUDA_COMPILE_MODE=nvcc, on the GPU machine).")
        return info


def find_nvcc():
    """nvcc's path: $EDGEKERAS_NVCC when set ("" = none), else nvcc on PATH, else $CUDA_HOME/bin/nvcc;
    None when there is none."""
    if NVCC_ENV in os.environ:
        chosen = os.environ[NVCC_ENV]
        if chosen and not (Path(chosen).is_file() and os.access(chosen, os.X_OK)):
            raise DeviceCodeError(f"${NVCC_ENV} names {chosen!r}, which is not an executable nvcc.")
        return chosen or None
    found = shutil.which("nvcc")
    if found:
        return found
    home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH")
    candidate = Path(home, "bin", "nvcc") if home else None
    return str(candidate) if candidate and candidate.is_file() else None


def compile_fatbin(source, sass, ptx, nvcc):
    """nvcc's fatbin of `source`: machine code for each `sm_XX` in `sass`, plus PTX for `compute_XX` `ptx`."""
    gencode = [f"-gencode=arch=compute_{arch[3:]},code={arch}" for arch in sass]
    if ptx:
        gencode.append(f"-gencode=arch={ptx},code={ptx}")
    with tempfile.TemporaryDirectory(prefix="edgekeras-nvcc-") as scratch:
        cu, fatbin = Path(scratch, "kernels.cu"), Path(scratch, "kernels.fatbin")
        cu.write_text(source)
        # No --use_fast_math: float kernels must agree with the reference to 1e-4.
        cmd = [nvcc, "--fatbin", "-O3", "-w", *gencode, "-o", str(fatbin), str(cu)]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode:
            lines = (result.stderr or result.stdout).strip().splitlines()
            raise DeviceCodeError(f"nvcc failed on the generated kernels: {lines[0] if lines else 'no output'}")
        return fatbin.read_bytes()


def nvcc_version(nvcc):
    out = subprocess.run([nvcc, "--version"], capture_output=True, text=True).stdout
    release = [line for line in out.splitlines() if "release" in line]
    return f"nvcc {release[0].split('release')[1].split(',')[0].strip()}" if release else "nvcc"


def device_code(executable, sass, ptx):
    """The device code for `executable` (a Relax VM executable built for a cuda target)."""
    source = cuda_module(executable.mod).inspect_source("")
    nvcc = find_nvcc()
    if nvcc is None:
        return DeviceCode("cuda-source")
    return DeviceCode("fatbin", tuple(sass), ptx, nvcc_version(nvcc), compile_fatbin(source, sass, ptx, nvcc))


def cuda_module(module):
    """The CUDA module in `module`'s import tree."""
    pending = [module]
    while pending:
        module = pending.pop()
        if module.kind == "cuda":
            return module
        pending.extend(module.imports)
    raise DeviceCodeError("The compiled model has no CUDA kernels.")


# ---- the packed import blob ------------------------------------------------------------------------
def _u64(value):
    return struct.pack("<Q", value)


def _bytes_field(data):
    return _u64(len(data)) + data


class _Reader:
    def __init__(self, data, pos=0):
        self.data, self.pos = data, pos

    def u64(self):
        if self.pos + 8 > len(self.data):
            raise DeviceCodeError("The packed module blob ends early: not the TVM 0.27 layout.")
        (value,) = struct.unpack_from("<Q", self.data, self.pos)
        self.pos += 8
        return value

    def field(self):
        size = self.u64()
        start, self.pos = self.pos, self.pos + size
        if self.pos > len(self.data):
            raise DeviceCodeError("The packed module blob ends early: not the TVM 0.27 layout.")
        return self.data[start:self.pos]


def module_entries(blob):
    """[(kind, start, end)] of each module's bytes in a packed blob (the host library has none)."""
    reader = _Reader(blob)
    if reader.u64() != len(blob) - 8:
        raise DeviceCodeError("The packed module blob's size header is wrong: not the TVM 0.27 layout.")
    for _ in range(2):  # import tree: row offsets, child indices
        for _ in range(reader.u64()):
            reader.u64()
    entries = []
    while reader.pos < len(blob):
        kind = reader.field().decode()
        start = reader.pos
        if kind != "_lib":
            reader.field()
        entries.append((kind, start, reader.pos))
    return entries


def _cuda_entry(blob):
    """(start, end, fmt, function table bytes, code bytes) of the CUDA module packed in `blob`."""
    for kind, start, end in module_entries(blob):
        if kind == "cuda":
            payload = _Reader(_Reader(blob[start:end]).field())
            fmt = payload.field().decode()
            table_start = payload.pos
            code = _code_field(payload)
            return start, end, fmt, payload.data[table_start:len(payload.data) - len(code) - 8], code
    raise DeviceCodeError("The packed module blob holds no CUDA module.")


def cuda_payload(blob):
    """(fmt, code) of the CUDA module packed in `blob`."""
    _, _, fmt, _, code = _cuda_entry(blob)
    return fmt, code


def _code_field(payload):
    """The code bytes: the length-prefixed field that ends the payload. The function table before it
    has no length of its own, so the first offset whose length fits the rest is taken."""
    for size_at in range(payload.pos, len(payload.data) - 7):
        (size,) = struct.unpack_from("<Q", payload.data, size_at)
        if size_at + 8 + size == len(payload.data):
            return payload.data[size_at + 8:]
    raise DeviceCodeError("The CUDA module's bytes have no code field.")


def with_fatbin(blob, source, fatbin):
    """`blob` with its CUDA module's code (the generated `source`) replaced by `fatbin`."""
    start, end, fmt, function_table, code = _cuda_entry(blob)
    if fmt != "cuda" or code != source.encode():
        raise DeviceCodeError("The CUDA module does not hold the generated source: not the TVM 0.27 layout.")
    payload = _bytes_field(b"fatbin") + function_table + _bytes_field(fatbin)
    body = (blob[:start] + _bytes_field(payload) + blob[end:])[8:]
    return _u64(len(body)) + body


def blob_c_source(blob):
    """A C file defining the blob symbol the TVM runtime looks for when it loads the library."""
    rows = (",".join(str(b) for b in blob[i:i + 40]) for i in range(0, len(blob), 40))
    return (f"extern const unsigned char {BLOB_SYMBOL}[];\n"
            f"const unsigned char {BLOB_SYMBOL}[{len(blob)}] = {{\n" + ",\n".join(rows) + "\n};\n")


def packer(code):
    """An `export_library(fpack_imports=...)` function that packs the imports with `code`'s fatbin."""
    from tvm.runtime import _ffi_api

    def pack(module, is_system_lib, symbol_prefix, workspace_dir):
        if is_system_lib or symbol_prefix:
            raise DeviceCodeError("CUDA artifacts are shared libraries, not system libraries.")
        blob = _ffi_api.ModulePackImportsToTensor(module).numpy().tobytes()
        source = cuda_module(module).inspect_source("")
        path = Path(workspace_dir, "devc.c")
        path.write_text(blob_c_source(with_fatbin(blob, source, code.binary)))
        return str(path)

    return pack




def packed_blob(library):
    """The packed module blob inside an exported library, read from the file (an ELF64 little-endian
    shared object, for any CPU): the blob symbol's bytes from the section that holds them."""
    data = Path(library).read_bytes()
    if data[:6] != b"\x7fELF\x02\x01":
        raise DeviceCodeError(f"{library} is not a 64-bit little-endian ELF shared library.")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    for _, kind, _, _, offset, size, link, _, _, entsize in sections:
        if kind != 11:  # SHT_DYNSYM
            continue
        names = sections[link][4]
        for at in range(offset, offset + size, entsize):
            name_at, _, _, _, value, length = struct.unpack_from("<IBBHQQ", data, at)
            if data[names + name_at:data.index(b"\0", names + name_at)] == BLOB_SYMBOL.encode():
                return _bytes_at(data, sections, value, length)
    raise DeviceCodeError(f"{library} has no {BLOB_SYMBOL}: not a TVM library with imported modules.")


def _bytes_at(data, sections, address, length):
    for _, kind, _, start, offset, size, *_ in sections:
        if kind != 8 and start <= address < start + size:  # not SHT_NOBITS
            return data[offset + address - start:offset + address - start + length]
    raise DeviceCodeError("The blob symbol lies in no section of the library.")
