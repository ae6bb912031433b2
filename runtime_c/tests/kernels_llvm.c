/* A kernel in the form TVM's LLVM codegen emits: the object itself defines the workspace hook
 * pointers (zero-initialized, weak/linkonce) and calls through them; the runtime fills them. */
#include <stddef.h>

#include "ek_runtime.h"
#include "kernels.h"

__attribute__((weak)) ek_test_alloc_fn __TVMBackendAllocWorkspace = NULL;
__attribute__((weak)) ek_test_free_fn __TVMBackendFreeWorkspace = NULL;

EK_KERNEL(k_relu_ws_llvm) {
  (void)self;
  (void)result;
  ek_ffi_any_t *any = (ek_ffi_any_t *)args;
  if (num_args != 2 || __TVMBackendAllocWorkspace == NULL || __TVMBackendFreeWorkspace == NULL) return -1;
  ek_dl_tensor_t *x = (ek_dl_tensor_t *)any[0].v_ptr, *y = (ek_dl_tensor_t *)any[1].v_ptr;
  int64_t n = x->shape[x->ndim - 1];
  float *tmp = (float *)__TVMBackendAllocWorkspace(EK_DL_CPU, 0, (uint64_t)n * sizeof(float), 2, 32);
  if (tmp == NULL) return -1;
  const float *px = (const float *)x->data;
  float *py = (float *)y->data;
  for (int64_t i = 0; i < n; ++i) tmp[i] = px[i] > 0.0f ? px[i] : 0.0f;
  for (int64_t i = 0; i < n; ++i) py[i] = tmp[i];
  return __TVMBackendFreeWorkspace(EK_DL_CPU, 0, tmp);
}
