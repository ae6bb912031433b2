/* Helper functions LLVM-built kernel objects (--emit obj) call that a bare-metal C library may lack.
 * Part of every Cortex-M bundle; all weak, so a toolchain's own definitions win. */
#include "ek_runtime.h"

#if defined(__arm__) && !defined(__linux__)
/* LLVM's Thumb objects name the C++ unwind personality although kernels never unwind; this empty one
 * keeps libgcc's unwinder (which needs malloc) out of the firmware. */
__attribute__((weak)) void __aeabi_unwind_cpp_pr0(void);
__attribute__((weak)) void __aeabi_unwind_cpp_pr0(void) {}
#endif

#if defined(__ARM_ARCH_6M__) && !defined(__ARM_FP)
/* LLVM calls soft-float arithmetic by its GNU names; arm-none-eabi's ARMv6-M libgcc defines only the
 * AEABI ones. Compiled by GCC, each body becomes the AEABI call. */
#define EK_BINARY(name, type, op) \
  __attribute__((weak)) type name(type a, type b); \
  __attribute__((weak)) type name(type a, type b) { return a op b; }
#define EK_CONVERT(name, from, to) \
  __attribute__((weak)) to name(from a); \
  __attribute__((weak)) to name(from a) { return (to)a; }
EK_BINARY(__addsf3, float, +)
EK_BINARY(__subsf3, float, -)
EK_BINARY(__mulsf3, float, *)
EK_BINARY(__divsf3, float, /)
EK_BINARY(__adddf3, double, +)
EK_BINARY(__subdf3, double, -)
EK_BINARY(__muldf3, double, *)
EK_BINARY(__divdf3, double, /)
EK_CONVERT(__fixsfsi, float, int32_t)
EK_CONVERT(__floatsisf, int32_t, float)
EK_CONVERT(__floatunsisf, uint32_t, float)
EK_CONVERT(__fixdfsi, double, int32_t)
EK_CONVERT(__floatsidf, int32_t, double)
EK_CONVERT(__floatunsidf, uint32_t, double)
EK_CONVERT(__extendsfdf2, float, double)
EK_CONVERT(__truncdfsf2, double, float)
#endif
