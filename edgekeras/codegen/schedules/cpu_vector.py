"""SIMD register width of a CPU target, read from its TVM target dict: the lane count every CPU
schedule vectorizes with (AVX2 256 bit, AVX-512 512 bit, NEON and baseline SSE 128 bit)."""

X86_256_BIT_CPUS = ("x86-64-v3", "haswell", "broadwell", "skylake", "alderlake", "znver1", "znver2", "znver3")
X86_512_BIT_CPUS = ("x86-64-v4", "skylake-avx512", "icelake-server", "sapphirerapids", "znver4", "znver5")


def vector_bits(tvm_target):
    """Register width in bits; 128 when the target names no wider SIMD (SSE2 and NEON have 128)."""
    mcpu = str(tvm_target.get("mcpu", "")).lower()
    mattr = [str(a).lower() for a in tvm_target.get("mattr", [])]
    if mcpu in X86_512_BIT_CPUS or "+avx512f" in mattr:
        return 512
    if mcpu in X86_256_BIT_CPUS or "+avx2" in mattr:  # AVX alone has no 256-bit integer SIMD
        return 256
    return 128


def vector_registers(tvm_target):
    """Architectural SIMD registers: 32 on AArch64 and AVX-512, 16 on AVX2/SSE and ARMv7 NEON."""
    triple = str(tvm_target.get("mtriple", ""))
    return 32 if triple.startswith("aarch64") or vector_bits(tvm_target) == 512 else 16


def lanes(tvm_target, dtype_bits):
    """Values of `dtype_bits` in one register."""
    return vector_bits(tvm_target) // dtype_bits
