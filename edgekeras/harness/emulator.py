"""Runs a compiled Linux shared library on its target's CPU: natively, or under qemu-user for ARM.

The library is driven by `runtime_c/driver/ek_driver.c`, built once per target with the target's
own compiler and cached, so what runs is the artifact a board would load, not a host rebuild of it.
"""

import hashlib
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

DRIVER_SOURCE = Path(__file__).resolve().parents[2] / "runtime_c" / "driver" / "ek_driver.c"
_LIBRARY_ONLY_FLAGS = {"-fPIC", "-fpic", "-shared"}
_MESSAGE_CAP = 2000


class EmulatorError(RuntimeError):
    pass


def cache_dir():
    """Where built drivers are kept: $EDGEKERAS_CACHE, else ~/.cache/edgekeras."""
    root = os.environ.get("EDGEKERAS_CACHE") or Path.home() / ".cache" / "edgekeras"
    return Path(root) / "drivers"


def one_line(text):
    line = " | ".join(part.strip() for part in text.splitlines() if part.strip())
    return line if len(line) <= _MESSAGE_CAP else line[:_MESSAGE_CAP] + " ..."


def build_once(path, build):
    """`path`, made by `build(partial_path)` on first use. Concurrent callers (pytest-xdist workers)
    each build under a private name and rename it into place, so none sees a partial file."""
    path = Path(path)
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        build(partial)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return path


def build_driver(target):
    """The driver executable for `target`, compiled with the target's compiler on first use."""
    flags = [flag for flag in target.cflags if flag not in _LIBRARY_ONLY_FLAGS]
    source = DRIVER_SOURCE.read_bytes()
    key = hashlib.sha256(source + "\0".join([target.cc, *flags]).encode()).hexdigest()[:16]

    def build(partial):
        command = [target.cc, *flags, "-o", partial, str(DRIVER_SOURCE), "-ldl"]
        try:
            proc = subprocess.run(command, capture_output=True, text=True, errors="replace", timeout=300)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise EmulatorError(f"Cannot build the driver for target '{target.name}': {err}") from None
        if proc.returncode != 0:
            raise EmulatorError(f"Building the driver for target '{target.name}' failed: {one_line(proc.stderr)}")

    return build_once(cache_dir() / f"ek_driver-{target.name}-{key}", build)


def batch_size(arrays):
    if not arrays:
        raise ValueError("run_shared_library needs at least one input array: the batch size comes from it.")
    for i, array in enumerate(arrays):
        if array.ndim == 0 or array.dtype.hasobject:
            raise ValueError(f"Input {i} must be a numeric array with the batch on axis 0, got {array.dtype} "
                             f"of shape {array.shape}.")
    sizes = [array.shape[0] for array in arrays]
    if len(set(sizes)) > 1:
        raise ValueError(f"Inputs have different batch sizes: {sizes}.")
    return sizes[0]


def write_samples(path, arrays, n):
    """Sample by sample, every input's bytes in order: what the driver reads."""
    rows = [a.reshape(n, int(np.prod(a.shape[1:]))).view(np.uint8) for a in arrays]
    np.concatenate(rows, axis=1).tofile(path)


def _failure(target, lib_path, proc):
    message = one_line(proc.stderr)
    if not message:
        code = proc.returncode
        message = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
    return EmulatorError(f"Running {lib_path.name} on target '{target.name}' failed: {message}")


def split_outputs(data, n, output_specs):
    sizes = [np.dtype(dtype).itemsize * int(np.prod(shape)) for shape, dtype in output_specs]
    if data.size != n * sum(sizes):
        raise EmulatorError(f"The driver wrote {data.size} bytes, but {n} sample(s) of the expected outputs "
                            f"{[(tuple(s), str(np.dtype(d))) for s, d in output_specs]} are {n * sum(sizes)} bytes.")
    table = data.reshape(n, sum(sizes))
    outputs, column = [], 0
    for (shape, dtype), size in zip(output_specs, sizes):
        outputs.append(table[:, column:column + size].copy().view(dtype).reshape((n, *shape)))
        column += size
    return outputs


def run_shared_library(target, lib_path, inputs, output_specs, timeout_s=300):
    """Runs every sample of `inputs` (one batched array per model input, in the model's dtypes)
    through the library; returns one (N, *shape) array per (per-sample shape, dtype) in `output_specs`."""
    if target.kind != "linux":
        raise ValueError(f"Target '{target.name}' is a {target.kind} target; only Linux shared libraries run here.")
    lib_path = Path(lib_path)
    if not lib_path.is_file():
        raise ValueError(f"Shared library {lib_path} does not exist.")
    arrays = [np.ascontiguousarray(a) for a in inputs]
    n = batch_size(arrays)
    target.require_tools()
    driver = build_driver(target)
    with tempfile.TemporaryDirectory(prefix="edgekeras-run-") as tmp:
        in_path, out_path = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
        write_samples(in_path, arrays, n)
        command = [*target.emulator, str(driver), str(lib_path.resolve()), str(in_path), str(out_path), str(n)]
        try:
            proc = subprocess.run(command, capture_output=True, text=True, errors="replace", timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise EmulatorError(f"Running {lib_path.name} on target '{target.name}' took longer than "
                                f"{timeout_s} s.") from None
        except OSError as err:
            raise EmulatorError(f"Cannot start {command[0]} for target '{target.name}': {err}") from None
        if proc.returncode != 0:
            raise _failure(target, lib_path, proc)
        data = np.fromfile(out_path, np.uint8)
    return split_outputs(data, n, output_specs)
