"""Code generation: IR → TVM Relax → TIR kernels, static memory plan, and the artifact on disk."""
