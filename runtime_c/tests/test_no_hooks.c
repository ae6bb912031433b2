/* A model whose objects define no __TVMBackend*Workspace pointers: the runtime's weak references
 * must stay null and untouched, and C-codegen kernels still get their workspace. */
#include <stdint.h>

#include "check.h"
#include "ek_runtime.h"
#include "kernels.h"

static unsigned char arena[256] __attribute__((aligned(64)));
static const int64_t shape_4[] = {1, 4};
static const ek_tensor_t tensors[] = {
    {EK_MEM_ARENA, 2, 32, 2, 0, 16, shape_4},
    {EK_MEM_ARENA, 2, 32, 2, 64, 16, shape_4},
};
static const uint16_t args[] = {0, 1};
static const ek_call_t calls[] = {{k_affine_ws, "affine", args, 2, 128, 128}};
static const ek_model_t model = {"no_hooks", tensors, 2, calls, 1, args, 1, args + 1, 1, NULL, 256, 64};

int main(void) {
  float *x = (float *)ek_tensor_data(&model, arena, 0);
  const float *y = (const float *)ek_tensor_data(&model, arena, 1);
  for (int i = 0; i < 4; ++i) x[i] = (float)i - 1.5f;
  CHECK(ek_check_arena(&model, arena, sizeof arena) == EK_OK);
  CHECK(ek_run(&model, arena) == EK_OK);
  for (int i = 0; i < 4; ++i) CHECK_NEAR(y[i], 2.0f * x[i] + 1.0f);
  return check_report("test_no_hooks");
}
