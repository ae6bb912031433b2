/* Runs a TVM-generated kernel on the runtime: `scale` computes y = 2 x + 1 over 4096 floats through
 * a 16 KiB temporary (tests/test_runtime_c.py builds it as an LLVM object or as C source). Its
 * workspace must come from the call's arena slice, through the hook pointers for LLVM objects.
 * -DWORKSPACE_BYTES=N sets the slice; exit 0 and "ok" when the results are right. */
#include <stdio.h>

#include "ek_model_api.h"
#include "ek_runtime.h"

#define N 4096
#define TENSOR_BYTES (N * 4)

int32_t __tvm_ffi_scale(void *self, void *args, int32_t num_args, void *result);

static const int64_t shape[] = {N};
static const ek_tensor_t tensors[] = {
    {EK_MEM_ARENA, 2, 32, 1, 0, TENSOR_BYTES, shape},
    {EK_MEM_ARENA, 2, 32, 1, TENSOR_BYTES, TENSOR_BYTES, shape},
};
static const uint16_t args[] = {0, 1};
static const ek_call_t calls[] = {{__tvm_ffi_scale, "scale", args, 2, 2 * TENSOR_BYTES, WORKSPACE_BYTES}};
const ek_model_t ek_model_desc = {
    "tvm_scale", tensors, 2, calls, 1, args, 1, args + 1, 1, NULL, 2 * TENSOR_BYTES + WORKSPACE_BYTES, 64,
};

static unsigned char arena[2 * TENSOR_BYTES + WORKSPACE_BYTES] __attribute__((aligned(64)));

int main(void) {
  if (ek_model_init(arena, sizeof arena) != 0) return printf("init: %s\n", ek_model_error()), 1;
  float *x = (float *)ek_model_input(0);
  const float *y = (const float *)ek_model_output(0);
  for (int i = 0; i < N; ++i) x[i] = (float)(i % 97) - 48.0f;
  int rc = ek_model_run();
  if (rc != 0) return printf("run: %d %s\n", rc, ek_model_error()), 1;
  for (int i = 0; i < N; ++i)
    if (y[i] != 2.0f * x[i] + 1.0f) return printf("wrong y[%d] = %g\n", i, (double)y[i]), 1;
  puts("ok");
  return 0;
}
