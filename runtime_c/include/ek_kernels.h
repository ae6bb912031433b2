/* What TVM's C backend expects around the kernels it generates (kernels.c includes only this):
 * the DLPack / tvm-ffi type names over the runtime's own layouts, the backend hooks the runtime
 * implements, and the int8 micro-kernels the Cortex-M kernels call (inlined there). So a bundle's
 * kernels build with no TVM header. */
#ifndef EK_KERNELS_H
#define EK_KERNELS_H

#include <math.h>
#include <stdbool.h>

#include "ek_mcu_kernels.h"
#include "ek_runtime.h"

#define TVM_DLL

typedef ek_dl_tensor_t DLTensor;
typedef ek_ffi_any_t TVMFFIAny;

#endif
