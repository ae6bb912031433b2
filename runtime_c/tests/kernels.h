/* Hand-written kernels with the TVM packed ABI (ek_abi.h), standing in for generated ones. */
#ifndef EK_TEST_KERNELS_H
#define EK_TEST_KERNELS_H

#include <stdint.h>

#define EK_KERNEL(name) int32_t name(void *self, void *args, int32_t num_args, void *result)

/* out = a + b (float32, equal shapes). */
EK_KERNEL(k_add_f32);
/* y = 2 x + 1 through two temporaries from TVMBackendAllocWorkspace, called directly (C codegen). */
EK_KERNEL(k_affine_ws);
/* y = max(x, 0) through a temporary from the __TVMBackendAllocWorkspace pointer (LLVM codegen). */
EK_KERNEL(k_relu_ws_llvm);
/* Asks for more workspace than any slice holds, and fails as generated code does on NULL. */
EK_KERNEL(k_greedy);
/* Raises "ValueError: deliberate failure" through TVMFFIErrorSetRaisedFromCStr. */
EK_KERNEL(k_raise);
/* Returns non-zero without a message. */
EK_KERNEL(k_silent_fail);

/* The pointer variables an LLVM object defines (null until the runtime fills them). */
typedef void *(*ek_test_alloc_fn)(int, int, uint64_t, int, int);
typedef int (*ek_test_free_fn)(int, int, void *);
extern ek_test_alloc_fn __TVMBackendAllocWorkspace;
extern ek_test_free_fn __TVMBackendFreeWorkspace;

#endif
