"""A CUDA artifact loaded in this process: the TVM runtime runs `model.so` (a Relax VM executable)
on the first GPU. `predict` takes any batch (the model was compiled for batch 1: one VM call per
sample); `time_runs` times bare VM calls the way the host artifact times `ek_model_run`.
"""

import time

import numpy as np

from edgekeras.runtime import Artifact, ArtifactError


class CudaArtifact(Artifact):
    def __init__(self, path, manifest, device_id=0):
        super().__init__(path, manifest)
        import tvm
        from tvm.runtime.vm import VirtualMachine  # in the runtime-only TVM too (no tvm.relax there)

        self._device = tvm.cuda(device_id)
        if not self._device.exist:
            raise ArtifactError(f"{self.path} is a CUDA artifact ({manifest['target']}, {manifest['arch']}), but the "
                                "TVM runtime sees no CUDA GPU here: run it on a machine with an NVIDIA GPU and driver.")
        self._check_arch(manifest)
        library = tvm.runtime.load_module(str(self.path / manifest["library"]))
        self._main = VirtualMachine(library, self._device)["main"]

    def _check_arch(self, manifest):
        """The fatbin must hold machine code for this GPU or PTX old enough to compile for it."""
        code = manifest["device_code"]
        if code["format"] != "fatbin":
            return
        have = int(self._device.compute_version.replace(".", ""))
        sass = {int(arch[3:]) for arch in code["sass"]}
        ptx = int(code["ptx"][len("compute_"):]) if code["ptx"] else None
        if have not in sass and (ptx is None or ptx > have):
            raise ArtifactError(f"{self.path} holds kernels for {', '.join(code['sass'])}"
                                + (f" and PTX {code['ptx']}" if ptx else "")
                                + f"; this GPU is sm_{have}: compile for a target that covers it (e.g. --target cuda).")

    def _device_inputs(self, arrays):
        import tvm

        return [tvm.runtime.tensor(np.ascontiguousarray(a), self._device) for a in arrays]

    def run_sample(self, arrays):
        result = self._main(*self._device_inputs(arrays))
        outputs = [result] if len(self.manifest["outputs"]) == 1 else list(result)
        return [o.numpy() for o in outputs]

    def _run(self, arrays):
        return self._run_each_sample(arrays)

    def time_runs(self, x, runs=100, warmup=10):
        """Seconds of each VM call on one sample `x` already on the GPU, up to the device finishing."""
        inputs = self._device_inputs([a[:1] for a in self._standardize(x)])
        times = []
        for i in range(warmup + runs):
            start = time.perf_counter()
            self._main(*inputs)
            self._device.sync()
            if i >= warmup:
                times.append(time.perf_counter() - start)
        return times
