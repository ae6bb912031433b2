"""Load a compiled artifact and run it from Python: `edgekeras.runtime.load(path).predict(x)`.

Host artifacts run in-process through ctypes; artifacts for other CPUs run under their emulator
through a small C driver (`edgekeras.harness.emulator`); Cortex-M bundles run as a test firmware on
their emulated board (`edgekeras.harness.firmware`); CUDA artifacts run on the GPU through the TVM
runtime (`edgekeras.runtime_cuda`). Either way: NumPy in, NumPy out, any batch.
"""

import ctypes
import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from edgekeras.targets import get_target


MAX_THREADS = 64  # EK_MAX_THREADS of the C runtime


class ArtifactError(ValueError):
    pass


def _read_manifest(path):
    path = Path(path)
    try:
        manifest = json.loads((path / "manifest.json").read_text())
    except (OSError, ValueError) as err:
        raise ArtifactError(f"{path} is not an edgekeras artifact folder (manifest.json: {err}).") from None
    if manifest.get("format") != "edgekeras-artifact/1":
        raise ArtifactError(f"{path}/manifest.json has an unknown format {manifest.get('format')!r}.")
    return manifest


class Artifact:
    """Common input handling; subclasses run a batch of standardized inputs."""

    def __init__(self, path, manifest):
        self.path = Path(path)
        self.manifest = manifest
        self.target = get_target(manifest["target"])

    @property
    def input_names(self):
        return [spec["name"] for spec in self.manifest["inputs"]]

    def _standardize(self, x):
        specs = self.manifest["inputs"]
        if isinstance(x, dict):
            missing = [s["name"] for s in specs if s["name"] not in x]
            if missing:
                raise ArtifactError(f"Missing inputs {missing}; the artifact's inputs are {self.input_names}.")
            arrays = [x[s["name"]] for s in specs]
        else:
            arrays = list(x) if isinstance(x, (list, tuple)) else [x]
        if len(arrays) != len(specs):
            raise ArtifactError(f"The artifact takes {len(specs)} input(s) {self.input_names}, got {len(arrays)}.")
        out = []
        for array, spec in zip(arrays, specs):
            array = np.asarray(array)
            sample = tuple(spec["shape"][1:])
            if array.shape[1:] != sample:
                raise ArtifactError(
                    f"Input '{spec['name']}' expects shape (batch, {', '.join(map(str, sample))}), got {array.shape}."
                )
            if spec["dtype"] == "int8" and array.dtype.kind == "f":
                raise ArtifactError(
                    f"Input '{spec['name']}' is int8 (real = {spec['scale']:.6g} * (q - {spec['zero_point']})); "
                    "quantize the data first, or compile with --io float to pass floats.")
            out.append(np.ascontiguousarray(array, dtype=spec["dtype"]))
        if len({a.shape[0] for a in out}) > 1:
            raise ArtifactError(f"Inputs have different batch sizes: {[a.shape[0] for a in out]}.")
        return out

    def predict(self, x):
        outputs = self._run(self._standardize(x))
        return outputs[0] if len(outputs) == 1 else outputs

    def _run_each_sample(self, arrays):
        """`run_sample` on each sample in turn (the model is compiled for batch 1), outputs stacked."""
        batch = arrays[0].shape[0]
        if batch == 1:
            return self.run_sample(arrays)
        per_sample = [self.run_sample([a[n:n + 1] for a in arrays]) for n in range(batch)]
        return [np.concatenate([s[i] for s in per_sample]) if batch else
                np.empty((0,) + tuple(spec["shape"][1:]), spec["dtype"])
                for i, spec in enumerate(self.manifest["outputs"])]


def _view(address, spec):
    """A NumPy array over a tensor of the loaded library (batch-1 shape)."""
    nbytes = int(np.prod(spec["shape"])) * np.dtype(spec["dtype"]).itemsize
    return np.frombuffer((ctypes.c_uint8 * nbytes).from_address(address), spec["dtype"]).reshape(spec["shape"])


class HostArtifact(Artifact):
    """Runs the shared library in this process. The library is loaded from a content-named copy,
    so recompiling into the same folder never hands back a stale, already-loaded library."""

    def __init__(self, path, manifest):
        super().__init__(path, manifest)
        library = self.path / manifest["library"]
        digest = hashlib.sha256(library.read_bytes()).hexdigest()[:16]
        copy = Path(tempfile.gettempdir()) / f"edgekeras-{digest}.so"
        if not copy.exists():
            partial = copy.with_suffix(f".{id(self)}.tmp")
            shutil.copy(library, partial)
            partial.replace(copy)
        self._lib = lib = ctypes.CDLL(str(copy))
        for name, restype, argtypes in (
            ("ek_model_init", ctypes.c_int, [ctypes.c_void_p, ctypes.c_size_t]),
            ("ek_model_run", ctypes.c_int, []),
            ("ek_model_input", ctypes.c_void_p, [ctypes.c_int]),
            ("ek_model_output", ctypes.c_void_p, [ctypes.c_int]),
            ("ek_model_error", ctypes.c_char_p, []),
        ):
            getattr(lib, name).restype = restype
            getattr(lib, name).argtypes = argtypes
        align = manifest["arena_align"]
        self._arena_buffer = np.zeros(manifest["arena_bytes"] + align, np.uint8)
        start = self._arena_buffer.ctypes.data
        self._arena = start + (-start % align)
        self._views = None

    def set_threads(self, threads):
        """Threads the kernels' parallel loops use from now on (the library's default is the compile-time
        --threads; 1 runs them in the calling thread). Copies of one library share the setting."""
        if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= MAX_THREADS:
            raise ArtifactError(f"threads must be an integer from 1 to {MAX_THREADS}, got {threads!r}.")
        try:
            set_num_threads = self._lib.ek_set_num_threads
        except AttributeError:
            raise ArtifactError(f"{self.path} was compiled before thread support: recompile it to set threads.") \
                from None
        set_num_threads.argtypes, set_num_threads.restype = [ctypes.c_int], ctypes.c_int
        set_num_threads(threads)

    def _call(self, fn, *args):
        rc = fn(*args)
        if rc != 0:
            raise ArtifactError(f"{self.path}: {fn.__name__} failed ({rc}): {self._lib.ek_model_error().decode()}")

    def _bind(self):
        """Binds this artifact's arena (copies of one library share its state, so before every run) and
        returns NumPy views of the inputs and outputs inside it, made once."""
        self._call(self._lib.ek_model_init, ctypes.c_void_p(self._arena), self.manifest["arena_bytes"])
        if self._views is None:
            lib = self._lib
            self._views = ([_view(lib.ek_model_input(i), spec) for i, spec in enumerate(self.manifest["inputs"])],
                           [_view(lib.ek_model_output(i), spec) for i, spec in enumerate(self.manifest["outputs"])])
        return self._views

    def run_sample(self, arrays):
        inputs, outputs = self._views
        for view, array in zip(inputs, arrays):
            np.copyto(view, array.reshape(view.shape))
        self._call(self._lib.ek_model_run)
        return [view.copy() for view in outputs]

    def time_runs(self, x, runs=100, warmup=10):
        """Seconds of each bare `ek_model_run` on one sample `x` (inputs copied in once, no Python
        conversion inside the timed region): the figure to hold against other runtimes."""
        import time

        sample = [a[:1] for a in self._standardize(x)]
        self._bind()
        self.run_sample(sample)
        run, times = self._lib.ek_model_run, []
        for i in range(warmup + runs):
            start = time.perf_counter()
            run()
            if i >= warmup:
                times.append(time.perf_counter() - start)
        return times

    def _run(self, arrays):
        self._bind()
        return self._run_each_sample(arrays)


class EmulatedArtifact(Artifact):
    """Runs the library under the target's emulator (qemu-aarch64 / qemu-arm) via the C driver."""

    def _run(self, arrays):
        from edgekeras.harness.emulator import run_shared_library

        specs = [(tuple(s["shape"][1:]), s["dtype"]) for s in self.manifest["outputs"]]
        outputs = run_shared_library(self.target, self.path / self.manifest["library"], arrays, specs)
        return [np.asarray(o).reshape((-1,) + shape) for o, (shape, _) in zip(outputs, specs)]


class FirmwareArtifact(Artifact):
    """Runs a Cortex-M bundle as firmware under qemu-system-arm. `last_run` keeps the measured stack
    (and instruction counts when `count_instructions` is set) of the latest predict."""

    count_instructions = False
    last_run = None

    def _run(self, arrays):
        from edgekeras.harness.firmware import build_firmware, run_firmware

        specs = [(tuple(s["shape"][1:]), s["dtype"]) for s in self.manifest["outputs"]]
        symbols = [k for op in self.manifest["ops"] for k in op["kernels"]]
        self.last_run = run_firmware(self.target, build_firmware(self.path, self.target), arrays, specs,
                                     kernel_symbols=symbols, count_instructions=self.count_instructions)
        return self.last_run.outputs


def load(path):
    """An object with `.predict(x)` for any artifact folder `edgekeras compile` wrote."""
    manifest = _read_manifest(path)
    target = get_target(manifest["target"])
    if target.is_mcu:
        return FirmwareArtifact(path, manifest)
    if target.is_cuda:
        from edgekeras.runtime_cuda import CudaArtifact

        return CudaArtifact(path, manifest)
    return EmulatedArtifact(path, manifest) if target.emulated else HostArtifact(path, manifest)
